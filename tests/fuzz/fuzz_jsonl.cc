// libFuzzer target: arbitrary bytes as a JSON Lines file (evals/jsonl.h), plain and as ".gz"
// (read through zlib), then the field accessors on every record.
#include "engine/core/error.h"
#include "evals/jsonl.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (const char* suffix : {".jsonl", ".jsonl.gz"}) {
    const std::string path = sb::fuzz::scratch_file(data, size, suffix);
    try {
      for (const auto& r : sb::read_jsonl(path)) {
        try {
          (void)sb::require_string(r, path, "id");
        } catch (const sb::Error&) {
        }
      }
    } catch (const sb::Error&) {
    }
    std::remove(path.c_str());
  }
  return 0;
}

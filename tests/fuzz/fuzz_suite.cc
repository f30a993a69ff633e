// libFuzzer target: the suite loader (evals/suite.h) on arbitrary files in every public format
// it accepts. The first byte picks the format: HumanEval/MBPP problems (.jsonl), SQuAD (.json),
// plain text (.txt), or a suite directory's manifest.json (with a small valid data file).
#include <filesystem>
#include <fstream>

#include "engine/core/error.h"
#include "evals/suite.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int kind = data[0] % 4;
  ++data, --size;
  try {
    if (kind < 3) {
      static const char* kSuffix[] = {".jsonl", ".json", ".txt"};
      const std::string path = sb::fuzz::scratch_file(data, size, kSuffix[kind]);
      try {
        sb::Suite s = sb::load_suite(path);
        for (size_t i = 0; i < s.items.size() && i < 16; ++i) (void)s.item_id(i);
      } catch (const sb::Error&) {
      }
      std::remove(path.c_str());
    } else {
      namespace fs = std::filesystem;
      const fs::path dir = fs::path(sb::fuzz::scratch_file(nullptr, 0, ".dir"));
      fs::remove(dir);
      fs::create_directories(dir);
      std::ofstream(dir / "manifest.json").write(reinterpret_cast<const char*>(data), std::streamsize(size));
      std::ofstream(dir / "data.jsonl") << "{\"id\": \"a\", \"question\": \"q\", \"choices\": [\"x\", \"y\"], \"answer\": 0}\n";
      try {
        (void)sb::load_suite(dir.string());
      } catch (const sb::Error&) {
      }
      fs::remove_all(dir);
    }
  } catch (const std::filesystem::filesystem_error&) {
  }
  return 0;
}

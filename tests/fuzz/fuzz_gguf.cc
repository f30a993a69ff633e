// libFuzzer target: a GGUF file held in memory through every loader a command runs on it
// (GgufFile::parse, ModelConfig::from_gguf, Tokenizer::from_gguf + encode/decode), the same
// path as tests/engine/test_gguf_fuzz.cc's mutation test.
#include "engine/core/error.h"
#include "tests/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    sb::test::load_everything(data, size, "fuzz.gguf");
  } catch (const sb::Error&) {
  }
  return 0;
}

#include "tests/fuzz_targets.h"

#include "engine/gguf/gguf.h"
#include "engine/model/config.h"
#include "engine/tokenizer/tokenizer.h"

namespace sb::test {

void load_everything(const uint8_t* data, size_t size, const std::string& name) {
  auto f = GgufFile::parse(data, size, name);
  if (f->tensor("token_embd.weight")) (void)ModelConfig::from_gguf(*f);
  if (f->find("tokenizer.ggml.model")) {
    // A corrupt tokenizer section must be rejected with sb::Error; one that loads must work.
    auto tok = Tokenizer::from_gguf(*f);
    const auto ids = tok->encode("Hello world, 123 <s> \xC3\xA9\xFF\n", true, true);
    (void)tok->decode(ids);
  }
}

}  // namespace sb::test

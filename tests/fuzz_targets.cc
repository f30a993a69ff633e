#include "tests/fuzz_targets.h"

#include "engine/gguf/gguf.h"
#include "engine/model/config.h"

namespace sb::test {

void load_everything(const uint8_t* data, size_t size, const std::string& name) {
  auto f = GgufFile::parse(data, size, name);
  if (f->tensor("token_embd.weight")) (void)ModelConfig::from_gguf(*f);
}

}  // namespace sb::test

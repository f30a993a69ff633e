// libFuzzer target: arbitrary bytes through the tokenizers of real vocabularies (SentencePiece
// and BPE): encode with and without special-token parsing, decode of the ids, and decode of
// arbitrary ids. Vocabularies: $SPARKBENCH_FUZZ_VOCABS (colon-separated GGUF paths), else the
// llama-spm and gpt-2 vocab files of ../shared/vocab.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"

namespace {

std::vector<std::unique_ptr<sb::Tokenizer>>& tokenizers() {
  static std::vector<std::unique_ptr<sb::Tokenizer>> t;
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string list;
  if (const char* env = std::getenv("SPARKBENCH_FUZZ_VOCABS"))
    list = env;
  else {
    const std::string dir = std::string(SPARKBENCH_SOURCE_DIR) + "/../shared/vocab/";
    list = dir + "ggml-vocab-llama-spm.gguf:" + dir + "ggml-vocab-gpt-2.gguf";
  }
  std::stringstream ss(list);
  std::string path;
  while (std::getline(ss, path, ':')) {
    try {
      auto f = sb::GgufFile::open(path);
      tokenizers().push_back(sb::Tokenizer::from_gguf(*f));
    } catch (const sb::Error& e) {
      std::fprintf(stderr, "fuzz_tokenizer: %s (vocabulary left out)\n", e.what());
    }
  }
  if (tokenizers().empty()) {
    std::fprintf(stderr, "fuzz_tokenizer: no vocabulary could be loaded; set SPARKBENCH_FUZZ_VOCABS\n");
    std::exit(1);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto& tok : tokenizers()) {
    try {
      for (bool special : {false, true}) {
        const auto ids = tok->encode(text, true, special);
        (void)tok->decode(ids);
      }
      // The bytes read as token ids (in range or not): decode must check them.
      std::vector<int32_t> ids;
      for (size_t i = 0; i + 4 <= size && ids.size() < 256; i += 4) {
        int32_t v;
        std::memcpy(&v, data + i, 4);
        ids.push_back(v);
      }
      (void)tok->decode(ids);
    } catch (const sb::Error&) {
    }
  }
  return 0;
}

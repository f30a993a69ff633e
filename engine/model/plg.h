// PLG1 logit dumps (format of ../shared/reference/README.md), little-endian:
//   char[4] "PLG1"; u32 n_vocab; u32 n_rows; u32 n_prompt;
//   i32 tokens[n_rows + 1];  f32 logits[n_rows][n_vocab];
// Row r holds the logits after consuming tokens[0..r].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sb {

struct PlgDump {
  uint32_t n_vocab = 0;
  uint32_t n_prompt = 0;
  std::vector<int32_t> tokens;  // n_rows + 1
  std::vector<float> logits;    // n_rows * n_vocab
  uint32_t n_rows() const { return n_vocab ? uint32_t(logits.size() / n_vocab) : 0; }
  const float* row(uint32_t r) const { return logits.data() + size_t(r) * n_vocab; }
};

// Throws sb::Error naming the file on a malformed dump.
PlgDump read_plg(const std::string& path);
void write_plg(const std::string& path, const PlgDump& d);

}  // namespace sb

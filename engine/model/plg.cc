#include "engine/model/plg.h"

#include <cstring>

#include "engine/core/error.h"
#include "engine/core/mmap_file.h"

namespace sb {

PlgDump read_plg(const std::string& path) {
  MappedFile f(path);
  const uint8_t* p = f.data();
  if (f.size() < 16 || std::memcmp(p, "PLG1", 4) != 0) fail(path, ": not a PLG1 logit dump (bad magic)");
  uint32_t hdr[3];
  std::memcpy(hdr, p + 4, 12);
  PlgDump d;
  d.n_vocab = hdr[0];
  const uint64_t n_rows = hdr[1];
  d.n_prompt = hdr[2];
  const uint64_t need = 16 + (n_rows + 1) * 4 + n_rows * uint64_t(d.n_vocab) * 4;
  if (d.n_vocab == 0 || n_rows == 0 || need != f.size())
    fail(path, ": PLG1 header (n_vocab ", d.n_vocab, ", n_rows ", n_rows, ") does not match the file size ", f.size());
  d.tokens.resize(size_t(n_rows + 1));
  std::memcpy(d.tokens.data(), p + 16, d.tokens.size() * 4);
  d.logits.resize(size_t(n_rows * d.n_vocab));
  std::memcpy(d.logits.data(), p + 16 + d.tokens.size() * 4, d.logits.size() * 4);
  return d;
}

void write_plg(const std::string& path, const PlgDump& d) {
  if (d.tokens.size() != size_t(d.n_rows()) + 1) fail("PLG1: tokens must number n_rows + 1");
  std::vector<uint8_t> buf(16 + d.tokens.size() * 4 + d.logits.size() * 4);
  std::memcpy(buf.data(), "PLG1", 4);
  const uint32_t hdr[3] = {d.n_vocab, d.n_rows(), d.n_prompt};
  std::memcpy(buf.data() + 4, hdr, 12);
  std::memcpy(buf.data() + 16, d.tokens.data(), d.tokens.size() * 4);
  std::memcpy(buf.data() + 16 + d.tokens.size() * 4, d.logits.data(), d.logits.size() * 4);
  write_file_atomic(path, buf.data(), buf.size());
}

}  // namespace sb

#include "engine/core/sha256.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/core/error.h"

namespace sb {
namespace {

struct Ctx {
  Ctx() : c(EVP_MD_CTX_new()) {
    if (!c || EVP_DigestInit_ex(c, EVP_sha256(), nullptr) != 1) fail("sha256: OpenSSL init failed");
  }
  ~Ctx() { EVP_MD_CTX_free(c); }
  void update(const void* p, size_t n) { EVP_DigestUpdate(c, p, n); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(c, md, &len);
    static const char* d = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
      out += d[md[i] >> 4];
      out += d[md[i] & 15];
    }
    return out;
  }
  EVP_MD_CTX* c;
};

}  // namespace

std::string sha256_hex(std::string_view data) {
  Ctx c;
  c.update(data.data(), data.size());
  return c.hex();
}

std::string sha256_file(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) fail(path, ": cannot open: ", std::strerror(errno));
  Ctx c;
  std::vector<char> buf(1 << 20);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) c.update(buf.data(), n);
  if (std::ferror(f.get())) fail(path, ": read error");
  return c.hex();
}

}  // namespace sb

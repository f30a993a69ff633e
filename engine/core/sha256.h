// SHA-256 (OpenSSL EVP) as lower-case hex. sha256_file streams the file in 1 MiB blocks and
// throws sb::Error naming the path when it cannot be read.
#pragma once

#include <string>
#include <string_view>

namespace sb {
std::string sha256_hex(std::string_view data);
std::string sha256_file(const std::string& path);
}  // namespace sb

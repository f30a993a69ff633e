#include "engine/tokenizer/unicode.h"

#include <vector>

#include "common/text.h"

namespace sb::tok {

namespace {

constexpr uint32_t kReplacement = 0xFFFD;

struct ByteMap {
  std::array<std::string, 256> to_utf8;
  std::array<uint32_t, 256> to_cp{};
  std::vector<int16_t> from_cp;  // indexed by code point (< 512), -1 when unmapped
  ByteMap() {
    auto printable = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    int n = 0;
    for (int b = 0; b < 256; ++b) to_cp[b] = printable(b) ? uint32_t(b) : uint32_t(256 + n++);
    from_cp.assign(512, -1);
    for (int b = 0; b < 256; ++b) {
      text::utf8_append(to_utf8[b], to_cp[b]);
      from_cp[to_cp[b]] = int16_t(b);
    }
  }
};

const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  uint32_t cp;
  for (size_t i = 0, k; i < s.size(); i += k)
    if (!(k = text::utf8_next(s, i, &cp))) return false;
  return true;
}

std::string to_valid_utf8_lenient(std::string_view s) {
  if (is_valid_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 16);
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    i += text::utf8_next(s, i, &cp, text::Utf8::lenient);
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = kReplacement;
    text::utf8_append(out, cp);
  }
  return out;
}

size_t sanitize_utf8(std::string_view in, std::string& out, bool final) {
  const size_t n = in.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t b = uint8_t(in[i]);
    if (b < 0x80) {
      out.push_back(char(b));
      ++i;
      continue;
    }
    int need = 0;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b == 0xE0) {
      need = 2, lo = 0xA0;
    } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
      need = 2;
    } else if (b == 0xED) {
      need = 2, hi = 0x9F;
    } else if (b == 0xF0) {
      need = 3, lo = 0x90;
    } else if (b >= 0xF1 && b <= 0xF3) {
      need = 3;
    } else if (b == 0xF4) {
      need = 3, hi = 0x8F;
    } else {
      text::utf8_append(out, kReplacement);
      ++i;
      continue;
    }
    size_t j = i + 1;
    bool bad = false;
    for (int k = 0; k < need; ++k, ++j) {
      if (j >= n) {
        if (!final) return i;  // incomplete but may still complete: hold it back
        bad = true;
        break;
      }
      const uint8_t c = uint8_t(in[j]);
      if (c < (k == 0 ? lo : 0x80) || c > (k == 0 ? hi : 0xBF)) {
        bad = true;
        break;
      }
    }
    if (bad) {
      text::utf8_append(out, kReplacement);
      i = j;  // resume at the byte that broke the sequence (or the end)
    } else {
      out.append(in.substr(i, size_t(need) + 1));
      i += size_t(need) + 1;
    }
  }
  return n;
}

std::string escape_bytes(std::string_view s, char quote) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 8);
  auto hex_byte = [&](uint8_t b) {
    out += "\\x";
    out.push_back(hex[b >> 4]);
    out.push_back(hex[b & 15]);
  };
  for (size_t i = 0; i < s.size();) {
    const uint8_t b = uint8_t(s[i]);
    if (b < 0x80) {
      if (b == '\\' || (quote && b == uint8_t(quote))) {
        out.push_back('\\');
        out.push_back(char(b));
      } else if (b == '\n') {
        out += "\\n";
      } else if (b == '\t') {
        out += "\\t";
      } else if (b == '\r') {
        out += "\\r";
      } else if (b < 0x20 || b == 0x7F) {
        hex_byte(b);
      } else {
        out.push_back(char(b));
      }
      ++i;
      continue;
    }
    // Copy one well-formed multi-byte sequence, or escape a single stray byte.
    size_t len = utf8_len(b);
    if (len > 1 && i + len <= s.size() && is_valid_utf8(s.substr(i, len))) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      hex_byte(b);
      ++i;
    }
  }
  return out;
}

const std::array<std::string, 256>& byte_to_unicode_utf8() { return byte_map().to_utf8; }

int unicode_to_byte(uint32_t cp) {
  const auto& m = byte_map();
  return cp < m.from_cp.size() ? m.from_cp[cp] : -1;
}

}  // namespace sb::tok

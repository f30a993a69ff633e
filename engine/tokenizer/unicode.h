// UTF-8 helpers for the tokenizers: lenient decoding the way llama.cpp does it, strict
// sanitizing for streaming output, and GPT-2's byte <-> printable-codepoint mapping.
// All functions are pure and thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sb::tok {

// Length of the UTF-8 sequence a byte starts, judged from its high bits alone (1 for ASCII,
// continuation bytes and 0xF8..0xFF; 2, 3 or 4 for lead bytes), as llama.cpp's splitters do.
inline size_t utf8_len(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

// True when s is well-formed UTF-8 (no overlongs, surrogates or values above U+10FFFF):
// every sequence passes sb::text::utf8_next (strict). The decoder and encoder themselves are
// sb::text::utf8_next (Utf8::lenient is the llama.cpp rule the tokenizers use) and utf8_append.
bool is_valid_utf8(std::string_view s);

// Re-encodes s as well-formed UTF-8 code point by code point, the way llama.cpp's
// unicode_cpts_from_utf8 reads text before its BPE pre-tokenizer: a byte that does not start
// a complete sequence becomes U+FFFD and decoding resumes at the next byte; overlong forms are
// decoded and written back in shortest form. Code points PCRE2 would reject (surrogates, above
// U+10FFFF) also become U+FFFD. Returns s unchanged (copied) when it is already valid.
std::string to_valid_utf8_lenient(std::string_view s);

// Streaming-safe sanitizer: appends to `out` the text of `in` with every ill-formed sequence
// replaced by U+FFFD (one per maximal ill-formed subpart, as the Unicode standard recommends).
// When `final` is false a trailing sequence that is incomplete but could still become valid is
// not consumed. Returns the number of bytes of `in` consumed.
size_t sanitize_utf8(std::string_view in, std::string& out, bool final);

// GPT-2 byte-level mapping: every byte gets a printable code point (its own value for
// '!'..'~', '¡'..'¬', '®'..'ÿ'; 256 + n for the rest, in byte order).
const std::array<std::string, 256>& byte_to_unicode_utf8();
// Inverse of the above for one code point; -1 when cp is not the image of a byte.
int unicode_to_byte(uint32_t cp);

// Printable rendering of bytes for messages and listings: backslash escapes for '\\', the
// quote character (when nonzero), \n, \t, \r; \xHH for other control bytes and for bytes
// that are not part of well-formed UTF-8; well-formed non-ASCII UTF-8 is kept. Never
// contains a newline.
std::string escape_bytes(std::string_view s, char quote = 0);

}  // namespace sb::tok

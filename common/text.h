// sb_common text helpers: the one implementation of each small text rule the modules share.
//   utf8_next:  the one UTF-8 decoder: the code point at s[i] and its length in bytes.
//               Utf8::strict (default): no overlong forms, surrogates or values past U+10FFFF,
//               no truncated sequence; 0 for an invalid sequence.
//               Utf8::lenient (the tokenizers' llama.cpp rule): any lead byte 110xxxxx /
//               1110xxxx / 11110xxx followed by enough continuation bytes decodes as written
//               (overlong forms, surrogates and values up to 0x1FFFFF pass); anything else is
//               U+FFFD with length 1. Never returns 0.
//   utf8_append: the one UTF-8 encoder (code points up to 0x1FFFFF, written as given).
//   utf8_length: code points in s, counted as bytes that are not continuation bytes (also the
//               display width the text tables use).
//   valid_utf8: s with each byte that does not start a strictly valid sequence replaced by
//               U+FFFD (JSON and XML need valid text).
//   xml_escape: text for XML 1.0 / HTML / SVG content and attribute values: & < > " ' escaped,
//               control characters XML cannot hold dropped (tab, newline, return kept), U+FFFE
//               and U+FFFF dropped, invalid UTF-8 bytes replaced by U+FFFD.
//   md_cell:    text for one Markdown table cell (GitHub): | escaped, newlines as spaces, and
//               & < > as entities so that no HTML is interpreted and "&lt;" stays as typed.
//   last_line:  the last non-empty line of a child's stderr (or any text) for a one-line
//               message: surrounding blanks trimmed, control characters blanked, capped at
//               about 300 bytes on a UTF-8 boundary ("..." appended when cut).
//   format:     printf into a std::string (vsnprintf, any length; the compiler checks the
//               arguments against the format).
// No function throws (but for std::bad_alloc); all are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sb::text {

enum class Utf8 { strict, lenient };

size_t utf8_next(std::string_view s, size_t i, uint32_t* cp, Utf8 mode = Utf8::strict);
void utf8_append(std::string& out, uint32_t cp);
size_t utf8_length(std::string_view s);
std::string valid_utf8(std::string_view s);
std::string xml_escape(std::string_view s);
std::string md_cell(std::string_view s);
std::string last_line(std::string_view s);
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace sb::text

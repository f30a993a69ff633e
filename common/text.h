// sb_common text helpers: the one implementation of each small text rule the modules share.
//   utf8_next:  strict UTF-8 decoding of one code point (no overlong forms, surrogates or values
//               past U+10FFFF); 0 for an invalid sequence.
//   xml_escape: text for XML 1.0 / HTML / SVG content and attribute values: & < > " ' escaped,
//               control characters XML cannot hold dropped (tab, newline, return kept), U+FFFE
//               and U+FFFF dropped, invalid UTF-8 bytes replaced by U+FFFD.
//   md_cell:    text for one Markdown table cell (GitHub): | escaped, newlines as spaces, and
//               & < > as entities so that no HTML is interpreted and "&lt;" stays as typed.
//   last_line:  the last non-empty line of a child's stderr (or any text) for a one-line
//               message: surrounding blanks trimmed, control characters blanked, capped at
//               about 300 bytes on a UTF-8 boundary ("..." appended when cut).
// No function throws; all are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sb::text {

size_t utf8_next(std::string_view s, size_t i, uint32_t* cp);
std::string xml_escape(std::string_view s);
std::string md_cell(std::string_view s);
std::string last_line(std::string_view s);

}  // namespace sb::text

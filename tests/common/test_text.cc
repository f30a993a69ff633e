// common/text.h: the shared escapers and the last-line rule, including the cases where the copies
// they replaced disagreed (md_cell on '&', XML apostrophes, invalid UTF-8).
#include <catch2/catch.hpp>

#include "common/text.h"

using namespace sb::text;

TEST_CASE("text: xml_escape keeps XML 1.0 well-formed", "[text][unit]") {
  CHECK(xml_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
  CHECK(xml_escape(std::string("x\x01y\x1Fz\tq\n", 8)) == "xyz\tq\n");
  CHECK(xml_escape("a\xFF" "b") == "a\xEF\xBF\xBD" "b");
  CHECK(xml_escape("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  CHECK(xml_escape("\xEF\xBF\xBE!") == "!");                     // U+FFFE dropped
}

TEST_CASE("text: md_cell escapes pipes, newlines and HTML, '&' included", "[text][unit]") {
  CHECK(md_cell("a|b\nc<d>") == "a\\|b c&lt;d&gt;");
  CHECK(md_cell("&lt;") == "&amp;lt;");  // shown as typed, not as '<'
}

TEST_CASE("text: utf8_next decodes strictly", "[text][unit]") {
  uint32_t cp = 0;
  CHECK(utf8_next("\xE2\x89\xA4", 0, &cp) == 3);
  CHECK(cp == 0x2264);
  CHECK(utf8_next("\xED\xA0\x80", 0, &cp) == 0);  // surrogate
  CHECK(utf8_next("\xF4\x90\x80\x80", 0, &cp) == 0);  // past U+10FFFF
  CHECK(utf8_next("\xE2\x89", 0, &cp) == 0);  // truncated
}

TEST_CASE("text: last_line is the last non-empty line, cleaned and capped", "[text][unit]") {
  CHECK(last_line("first\nTraceback\n  ValueError: bad\n\n  \n") == "ValueError: bad");
  CHECK(last_line("") == "");
  CHECK(last_line("a\tb\x01" "c") == "a b c");
  const std::string big(1000, 'x');
  CHECK(last_line(big).size() == 303);
}

// common/text.h: the shared escapers and the last-line rule, including the cases where the copies
// they replaced disagreed (md_cell on '&', XML apostrophes, invalid UTF-8).
#include <catch2/catch.hpp>

#include "common/text.h"

using namespace sb::text;

TEST_CASE("text: xml_escape keeps XML 1.0 well-formed", "[text][unit]") {
  CHECK(xml_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
  CHECK(xml_escape(std::string("x\x01y\x1Fz\tq\n", 8)) == "xyz\tq\n");
  CHECK(xml_escape("a\xFF"
                   "b") ==
        "a\xEF\xBF\xBD"
        "b");
  CHECK(xml_escape("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  CHECK(xml_escape("\xEF\xBF\xBE!") == "!");                    // U+FFFE dropped
}

TEST_CASE("text: md_cell escapes pipes, newlines and HTML, '&' included", "[text][unit]") {
  CHECK(md_cell("a|b\nc<d>") == "a\\|b c&lt;d&gt;");
  CHECK(md_cell("&lt;") == "&amp;lt;");  // shown as typed, not as '<'
}

TEST_CASE("text: utf8_next decodes strictly", "[text][unit]") {
  uint32_t cp = 0;
  CHECK(utf8_next("\xE2\x89\xA4", 0, &cp) == 3);
  CHECK(cp == 0x2264);
  CHECK(utf8_next("\xED\xA0\x80", 0, &cp) == 0);      // surrogate
  CHECK(utf8_next("\xF4\x90\x80\x80", 0, &cp) == 0);  // past U+10FFFF
  CHECK(utf8_next("\xE2\x89", 0, &cp) == 0);          // truncated
}

TEST_CASE("text: utf8_next lenient is the tokenizers' llama.cpp rule", "[text][unit]") {
  uint32_t cp = 0;
  // well-formed text decodes the same in both modes
  CHECK(utf8_next("\xF0\x9F\x99\x82", 0, &cp, Utf8::lenient) == 4);
  CHECK(cp == 0x1F642);
  // overlong, surrogate and past-U+10FFFF forms decode as written
  CHECK(utf8_next("\xC0\xAF", 0, &cp, Utf8::lenient) == 2);
  CHECK(cp == 0x2F);
  CHECK(utf8_next("\xED\xA0\x80", 0, &cp, Utf8::lenient) == 3);
  CHECK(cp == 0xD800);
  CHECK(utf8_next("\xF7\xBF\xBF\xBF", 0, &cp, Utf8::lenient) == 4);
  CHECK(cp == 0x1FFFFF);
  // a stray continuation byte, a bad lead byte or a truncated sequence: U+FFFD, one byte
  for (std::string_view bad : {"\x80", "\xF8\x80", "\xFF", "\xE2\x89", "\xC3x"}) {
    cp = 0;
    CHECK(utf8_next(bad, 0, &cp, Utf8::lenient) == 1);
    CHECK(cp == 0xFFFD);
  }
}

TEST_CASE("text: utf8_append round-trips through utf8_next; utf8_length and valid_utf8", "[text][unit]") {
  for (uint32_t v : {0x41u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0x2581u, 0xFFFDu, 0x10000u, 0x10FFFFu}) {
    std::string s;
    utf8_append(s, v);
    uint32_t cp = 0;
    CHECK(utf8_next(s, 0, &cp) == s.size());
    CHECK(cp == v);
  }
  CHECK(utf8_length("a\xE2\x96\x81\xF0\x9F\x99\x82") == 3);
  CHECK(utf8_length("") == 0);
  CHECK(valid_utf8("ok \xE2\x89\xA4") == "ok \xE2\x89\xA4");
  CHECK(valid_utf8("a\xC0\xAF"
                   "b\xE2\x89") ==
        "a\xEF\xBF\xBD\xEF\xBF\xBD"
        "b\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("text: last_line is the last non-empty line, cleaned and capped", "[text][unit]") {
  CHECK(last_line("first\nTraceback\n  ValueError: bad\n\n  \n") == "ValueError: bad");
  CHECK(last_line("") == "");
  CHECK(last_line("a\tb\x01"
                  "c") == "a b c");
  const std::string big(1000, 'x');
  CHECK(last_line(big).size() == 303);
}

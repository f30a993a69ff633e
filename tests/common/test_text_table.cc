// common/text_table.h: the one fixed-width table writer (bench, run sweeps, history, compare).
#include <catch2/catch.hpp>

#include "common/text_table.h"

using sb::text::Table;

TEST_CASE("text table: columns padded to the widest cell, trailing blanks trimmed", "[text][unit]") {
  Table t({"name", "t/s", "note"});
  t.add_row({"a", "12.50 ± 0.10", ""});
  t.add_row({"longer", "3.00 ± 1.00", "x"});
  // "±" is one column: the UTF-8 width, not the byte count
  CHECK(t.text() ==
        "name    t/s           note\n"
        "------  ------------  ----\n"
        "a       12.50 ± 0.10\n"
        "longer  3.00 ± 1.00   x\n");
  CHECK(t.rows() == 2);
}

TEST_CASE("text table: right alignment, no rule, short rows", "[text][unit]") {
  Table t({"run", "label", "value"});
  t.align(0, Table::Align::right).align(2, Table::Align::right);
  t.add_row({"7", "base", "0.5"});
  t.add_row({"12"});
  CHECK(t.text(false) ==
        "run  label  value\n"
        "  7  base     0.5\n"
        " 12\n");
}

TEST_CASE("text table: markdown pads like the text and escapes cells", "[text][unit]") {
  Table t({"a", "b"});
  t.align(1, Table::Align::right);
  t.add_row({"x|y", "1"});
  CHECK(t.markdown() ==
        "| a    | b |\n"
        "|------|--:|\n"
        "| x\\|y | 1 |\n");
}

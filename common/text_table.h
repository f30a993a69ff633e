// sb::text::Table: the one fixed-width table writer of the command-line outputs (bench, run
// sweeps, history, compare). A header row and rows of cells; every column is as wide as its
// widest cell, counted in code points (text::utf8_length, so "±" is one column).
//   text(rule):  columns two spaces apart, each cell padded on the right (left-aligned) or on
//                the left (right-aligned); trailing blanks of every line trimmed; with `rule`,
//                a line of dashes as wide as each column under the header. Lines end in '\n'.
//   markdown():  GitHub Markdown with the same padding: "| a | b |", the rule "|---|---|"
//                (dashes as wide as the column plus its two spaces, ':' on the right end for
//                right-aligned columns); cells escaped by text::md_cell.
// A row with fewer cells than the header is padded with empty cells; extra cells are kept and
// widen the table. Pure; no exceptions but std::bad_alloc.
#pragma once

#include <string>
#include <vector>

namespace sb::text {

class Table {
 public:
  enum class Align { left, right };

  explicit Table(std::vector<std::string> head) { rows_.push_back(std::move(head)); }
  Table& align(size_t column, Align a);
  Table& add_row(std::vector<std::string> cells);
  size_t rows() const { return rows_.size() - 1; }  // not counting the header

  std::string text(bool rule = true) const;
  std::string markdown() const;

 private:
  std::vector<size_t> widths(bool md) const;
  Align align_of(size_t c) const { return c < align_.size() ? align_[c] : Align::left; }
  std::vector<std::vector<std::string>> rows_;
  std::vector<Align> align_;
};

}  // namespace sb::text

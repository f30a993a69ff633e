#include "common/text_table.h"

#include <algorithm>

#include "common/text.h"

namespace sb::text {

namespace {

void pad_cell(std::string& line, const std::string& cell, size_t width, Table::Align a) {
  const size_t n = utf8_length(cell);
  const std::string pad(width > n ? width - n : 0, ' ');
  line += a == Table::Align::right ? pad + cell : cell + pad;
}

void trim_right(std::string& s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
}

}  // namespace

Table& Table::align(size_t column, Align a) {
  if (align_.size() <= column) align_.resize(column + 1, Align::left);
  align_[column] = a;
  return *this;
}

Table& Table::add_row(std::vector<std::string> cells) {
  rows_.push_back(std::move(cells));
  return *this;
}

std::vector<size_t> Table::widths(bool md) const {
  std::vector<size_t> w;
  for (const auto& row : rows_) {
    if (w.size() < row.size()) w.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) w[c] = std::max(w[c], utf8_length(md ? md_cell(row[c]) : row[c]));
  }
  return w;
}

std::string Table::text(bool rule) const {
  const std::vector<size_t> w = widths(false);
  static const std::string kEmpty;
  std::string out;
  for (size_t r = 0; r < rows_.size(); ++r) {
    std::string line;
    for (size_t c = 0; c < w.size(); ++c) {
      if (c) line += "  ";
      pad_cell(line, c < rows_[r].size() ? rows_[r][c] : kEmpty, w[c], align_of(c));
    }
    trim_right(line);
    out += line + "\n";
    if (r == 0 && rule) {
      line.clear();
      for (size_t c = 0; c < w.size(); ++c) line += (c ? "  " : "") + std::string(w[c], '-');
      out += line + "\n";
    }
  }
  return out;
}

std::string Table::markdown() const {
  const std::vector<size_t> w = widths(true);
  std::string out;
  for (size_t r = 0; r < rows_.size(); ++r) {
    std::string line = "|";
    for (size_t c = 0; c < w.size(); ++c) {
      line += ' ';
      pad_cell(line, c < rows_[r].size() ? md_cell(rows_[r][c]) : std::string(), w[c], align_of(c));
      line += " |";
    }
    out += line + "\n";
    if (r == 0) {
      std::string rule(1, '|');
      for (size_t c = 0; c < w.size(); ++c)
        rule += std::string(w[c] + 2 - (align_of(c) == Align::right), '-') + (align_of(c) == Align::right ? ":|" : "|");
      out += rule + "\n";
    }
  }
  return out;
}

}  // namespace sb::text

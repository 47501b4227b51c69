#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace tocsin::cli {

// A text table whose columns are as wide as their widest cell, so that ids, times and names
// line up whatever their length. The last column is not padded (no trailing blanks).
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void AddRow(std::vector<std::string> cells);
  std::string ToString() const;
  // Each line prefixed with `indent`, for tables nested under a heading; without the header
  // row for key/value lists.
  std::string Indented(std::string_view indent, bool with_header = true) const;
  void Print(std::FILE* out = stdout) const;

 private:
  std::vector<std::vector<std::string>> rows_;  // the header first
};

}  // namespace tocsin::cli

#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace tocsin::cli {

// A text table whose columns are as wide as their widest cell, so that ids, times and names
// line up whatever their length. The last column is not padded (no trailing blanks).
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void AddRow(std::vector<std::string> cells);
  std::string ToString() const;
  void Print(std::FILE* out = stdout) const;

 private:
  std::vector<std::vector<std::string>> rows_;  // the header first
};

}  // namespace tocsin::cli

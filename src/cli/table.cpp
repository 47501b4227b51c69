#include "table.h"

#include <algorithm>

#include "tocsin/common/text.h"

namespace tocsin::cli {

namespace {

// Display width: one column per character (names such as "Kyiv" in Cyrillic).
std::size_t Width(const std::string& s) { return CodePoints(s); }

}  // namespace

Table::Table(std::vector<std::string> headers) { rows_.push_back(std::move(headers)); }

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(rows_.front().size());
  rows_.push_back(std::move(cells));
}

std::string Table::ToString() const {
  std::vector<std::size_t> widths(rows_.front().size(), 0);
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], Width(row[i]));
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - Width(row[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string Table::Indented(std::string_view indent, bool with_header) const {
  std::string text = ToString();
  std::string out;
  std::size_t pos = with_header ? 0 : text.find('\n') + 1;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    out.append(indent).append(text, pos, nl - pos + 1);
    pos = nl + 1;
  }
  return out;
}

void Table::Print(std::FILE* out) const {
  auto text = ToString();
  std::fwrite(text.data(), 1, text.size(), out);
}

}  // namespace tocsin::cli

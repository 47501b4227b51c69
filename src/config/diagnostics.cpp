#include "tocsin/config/diagnostics.h"

#include <algorithm>

namespace tocsin::config {

std::string Position::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += ':' + std::to_string(line);
    if (column > 0) out += ':' + std::to_string(column);
  }
  return out;
}

std::string Diagnostic::ToString() const {
  return position.ToString() + (severity == Severity::kError ? ": error: " : ": warning: ") +
         message;
}

void Diagnostics::Error(Position pos, std::string message) {
  items_.push_back({Diagnostic::Severity::kError, std::move(pos), std::move(message)});
  ++errors_;
}

void Diagnostics::Warning(Position pos, std::string message) {
  items_.push_back({Diagnostic::Severity::kWarning, std::move(pos), std::move(message)});
}

void Diagnostics::Append(const Diagnostics& other) {
  for (const auto& d : other.items_) {
    items_.push_back(d);
    if (d.severity == Diagnostic::Severity::kError) ++errors_;
  }
}

std::string Diagnostics::ToString() const {
  std::string out;
  for (const auto& d : items_) {
    out += d.ToString();
    out += '\n';
  }
  return out;
}

namespace {
std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}
}  // namespace

std::string Suggest(std::string_view given, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, given.size() / 3) + 1;
  for (const auto& c : candidates) {
    std::size_t d = EditDistance(given, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

}  // namespace tocsin::config

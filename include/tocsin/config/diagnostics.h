#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tocsin::config {

// Where something is in a file; line and column are 1-based, 0 when unknown.
struct Position {
  std::string file;
  int line = 0;
  int column = 0;
  std::string ToString() const;  // "rules/login.yaml:12:5"
};

struct Diagnostic {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  Position position;
  std::string message;
  // "config/tocsin.yaml:3:11: error: ..." — the format compilers use, so editors jump to it.
  std::string ToString() const;
};

// Collects every problem found while loading, instead of stopping at the first one.
class Diagnostics {
 public:
  void Error(Position pos, std::string message);
  void Warning(Position pos, std::string message);
  void Append(const Diagnostics& other);

  bool has_errors() const { return errors_ > 0; }
  std::size_t error_count() const { return errors_; }
  std::size_t warning_count() const { return items_.size() - errors_; }
  const std::vector<Diagnostic>& items() const { return items_; }
  // One diagnostic per line, errors and warnings in the order found.
  std::string ToString() const;

 private:
  std::vector<Diagnostic> items_;
  std::size_t errors_ = 0;
};

// "Did you mean ...?" for a misspelt key or name; empty when nothing is close.
std::string Suggest(std::string_view given, const std::vector<std::string>& candidates);

}  // namespace tocsin::config

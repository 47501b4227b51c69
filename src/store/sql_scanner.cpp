#include "sql_scanner.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "database_backend.h"

namespace tocsin::store::detail {

namespace {

bool IdentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' ||
         static_cast<unsigned char>(c) >= 0x80;
}

// Past the quote that closes the one at `open` ('' and "" are a quote inside); with
// `backslash`, a backslash escapes the byte after it (E'...').
std::size_t SkipQuoted(std::string_view sql, std::size_t open, bool backslash) {
  const char q = sql[open];
  std::size_t i = open + 1;
  while (i < sql.size()) {
    if (backslash && sql[i] == '\\') {
      i += 2;
      continue;
    }
    if (sql[i] == q) {
      if (i + 1 < sql.size() && sql[i + 1] == q) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    ++i;
  }
  return sql.size();
}

}  // namespace

std::size_t SkipNonCode(std::string_view sql, std::size_t i) {
  const char c = sql[i];
  const char next = i + 1 < sql.size() ? sql[i + 1] : '\0';
  if (c == '\'') {
    // E'...' (or e'...'): the E a token of its own, not the end of a word like "name'".
    const bool escaped =
        i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') && (i < 2 || !IdentChar(sql[i - 2]));
    return SkipQuoted(sql, i, escaped);
  }
  if (c == '"') return SkipQuoted(sql, i, false);
  if (c == '-' && next == '-') {
    auto eol = sql.find('\n', i);
    return eol == std::string_view::npos ? sql.size() : eol + 1;
  }
  if (c == '/' && next == '*') {
    int depth = 0;
    std::size_t j = i;
    while (j < sql.size()) {
      if (sql[j] == '/' && j + 1 < sql.size() && sql[j + 1] == '*') {
        ++depth;
        j += 2;
      } else if (sql[j] == '*' && j + 1 < sql.size() && sql[j + 1] == '/') {
        j += 2;
        if (--depth == 0) return j;
      } else {
        ++j;
      }
    }
    return sql.size();
  }
  if (c == '$' && (i == 0 || !IdentChar(sql[i - 1]))) {
    // $$ or $tag$ with a tag of letters, digits and _ not starting with a digit ($1 is a
    // parameter, not a tag).
    std::size_t j = i + 1;
    if (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j]))) return i;
    while (j < sql.size() && sql[j] != '$' && IdentChar(sql[j])) ++j;
    if (j >= sql.size() || sql[j] != '$') return i;
    const std::string_view tag = sql.substr(i, j - i + 1);
    auto close = sql.find(tag, j + 1);
    return close == std::string_view::npos ? sql.size() : close + tag.size();
  }
  return i;
}

std::string TranslatePlaceholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 8);
  int largest = 0;
  std::size_t i = 0;
  while (i < sql.size()) {
    if (std::size_t end = SkipNonCode(sql, i); end != i) {
      out.append(sql.substr(i, end - i));
      i = end;
      continue;
    }
    if (sql[i] != '?') {
      out += sql[i++];
      continue;
    }
    std::size_t j = i + 1;
    int n = 0;
    while (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j]))) {
      n = n * 10 + (sql[j] - '0');
      ++j;
    }
    if (j == i + 1) n = largest + 1;
    largest = std::max(largest, n);
    out += fmt::format("${}", n);
    i = j;
  }
  return out;
}

std::vector<std::string_view> SplitStatements(std::string_view script) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  auto flush = [&](std::size_t end) {
    std::string_view piece = TrimLeft(script.substr(start, end - start));
    if (!piece.empty() && piece != ";") out.push_back(piece);
    start = end;
  };
  std::size_t i = 0;
  while (i < script.size()) {
    if (std::size_t end = SkipNonCode(script, i); end != i) {
      i = end;
    } else if (script[i++] == ';') {
      flush(i);
    }
  }
  flush(script.size());
  return out;
}

}  // namespace tocsin::store::detail

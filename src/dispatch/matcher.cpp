#include "tocsin/dispatch/matcher.h"

#include <fmt/format.h>
#include <re2/re2.h>

namespace tocsin::dispatch {

Result<Matcher> Matcher::Create(std::string name, Op op, std::string value) {
  if (!IsValidLabelName(name)) {
    return Fail(Error::Invalid(fmt::format(
        "invalid label name \"{}\" (use letters, digits and _, not starting with a digit)", name)));
  }
  Matcher m;
  m.name_ = std::move(name);
  m.op_ = op;
  m.value_ = std::move(value);
  if (m.is_regex()) {
    RE2::Options opts;
    opts.set_log_errors(false);
    // Anchored like Alertmanager: `pay.*` must match the whole value.
    auto re = std::make_shared<const RE2>("^(?:" + m.value_ + ")$", opts);
    if (!re->ok()) {
      return Fail(Error::Invalid(fmt::format("invalid regular expression \"{}\" for label {}: {}",
                                             m.value_, m.name_, re->error())));
    }
    m.re_ = std::move(re);
  }
  return m;
}

namespace {

void SkipSpaces(std::string_view s, std::size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
}

// Reads a quoted or bare value starting at i; bare values end at a comma or a closing brace.
// Escapes as Alertmanager reads them (pkg/labels/parse.go), in both forms: backslash-n is a
// newline, two backslashes are one, a backslash before " (or before ' inside '...') is the
// quote; any other backslash is kept as written, so instance=~"db\d+" is the expression db\d+
// (dropping it made that dbd+, and the silence muted other alerts than the ones written).
Result<std::string> ReadValue(std::string_view s, std::size_t& i) {
  std::string out;
  const bool quoted = i < s.size() && (s[i] == '"' || s[i] == '\'');
  const char quote = quoted ? s[i++] : '\0';
  auto at_end = [&] { return quoted ? s[i] == quote : (s[i] == ',' || s[i] == '}'); };
  while (i < s.size() && !at_end()) {
    // A comma or brace ends a bare value even after a backslash, as Alertmanager splits there.
    if (s[i] == '\\' && i + 1 < s.size() && (quoted || (s[i + 1] != ',' && s[i + 1] != '}'))) {
      const char next = s[i + 1];
      if (next == 'n') {
        out.push_back('\n');
      } else if (next == '\\' || next == '"' || (quoted && next == quote)) {
        out.push_back(next);
      } else {
        out.push_back('\\');
        out.push_back(next);
      }
      i += 2;
      continue;
    }
    out.push_back(s[i++]);
  }
  if (quoted) {
    if (i >= s.size()) return Fail(Error::Invalid("unterminated quoted value"));
    ++i;
    return out;
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
  return out;
}

Result<Matcher> ParseOne(std::string_view s, std::size_t& i) {
  SkipSpaces(s, i);
  std::size_t start = i;
  while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_')) ++i;
  std::string name(s.substr(start, i - start));
  SkipSpaces(s, i);
  Matcher::Op op;
  if (s.substr(i, 2) == "=~") {
    op = Matcher::Op::kRegex;
    i += 2;
  } else if (s.substr(i, 2) == "!~") {
    op = Matcher::Op::kNotRegex;
    i += 2;
  } else if (s.substr(i, 2) == "!=") {
    op = Matcher::Op::kNotEqual;
    i += 2;
  } else if (s.substr(i, 1) == "=") {
    op = Matcher::Op::kEqual;
    i += 1;
  } else {
    return Fail(Error::Invalid(
        fmt::format("expected an operator (=, !=, =~, !~) after \"{}\" in \"{}\"; write e.g. "
                    "severity=\"critical\"",
                    name, s)));
  }
  if (name.empty()) {
    return Fail(Error::Invalid(fmt::format("missing label name before the operator in \"{}\"", s)));
  }
  SkipSpaces(s, i);
  auto value = ReadValue(s, i);
  if (!value) {
    return Fail(Error::Invalid(fmt::format("{} in \"{}\"", value.error().message(), s)));
  }
  return Matcher::Create(std::move(name), op, std::move(*value));
}

}  // namespace

Result<Matcher> Matcher::Parse(std::string_view text) {
  std::size_t i = 0;
  auto m = ParseOne(text, i);
  if (!m) return m;
  SkipSpaces(text, i);
  if (i != text.size()) {
    return Fail(Error::Invalid(
        fmt::format("unexpected \"{}\" after the matcher in \"{}\" (one matcher per item)",
                    text.substr(i), text)));
  }
  return m;
}

Result<Matchers> ParseMatchers(std::string_view text) {
  std::size_t i = 0;
  Matchers out;
  SkipSpaces(text, i);
  bool braces = i < text.size() && text[i] == '{';
  if (braces) ++i;
  while (true) {
    SkipSpaces(text, i);
    if (i >= text.size() || text[i] == '}') break;
    auto m = ParseOne(text, i);
    if (!m) return Fail(m.error());
    out.push_back(std::move(*m));
    SkipSpaces(text, i);
    if (i < text.size() && text[i] == ',') ++i;
  }
  if (braces) {
    if (i >= text.size() || text[i] != '}') {
      return Fail(Error::Invalid(fmt::format("missing closing brace in \"{}\"", text)));
    }
    ++i;
  }
  SkipSpaces(text, i);
  if (i != text.size()) {
    return Fail(Error::Invalid(fmt::format("unexpected \"{}\" in \"{}\"", text.substr(i), text)));
  }
  return out;
}

bool Matcher::Matches(std::string_view value) const {
  switch (op_) {
    case Op::kEqual:
      return value == value_;
    case Op::kNotEqual:
      return value != value_;
    case Op::kRegex:
      return RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *re_);
    case Op::kNotRegex:
      return !RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *re_);
  }
  return false;
}

std::string Matcher::ToString() const {
  static constexpr const char* kOps[] = {"=", "!=", "=~", "!~"};
  std::string escaped;
  for (char c : value_) {
    if (c == '"' || c == '\\') escaped.push_back('\\');
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped.push_back(c);
  }
  return fmt::format("{}{}\"{}\"", name_, kOps[static_cast<int>(op_)], escaped);
}

bool MatchesAll(const Matchers& matchers, const Labels& labels) {
  for (const auto& m : matchers) {
    if (!m.Matches(labels)) return false;
  }
  return true;
}

std::string MatchersToString(const Matchers& matchers) {
  std::string out = "{";
  for (std::size_t i = 0; i < matchers.size(); ++i) {
    if (i) out += ", ";
    out += matchers[i].ToString();
  }
  return out + "}";
}

}  // namespace tocsin::dispatch

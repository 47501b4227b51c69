#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tocsin/common/labels.h"
#include "tocsin/common/result.h"

namespace re2 {
class RE2;
}

namespace tocsin::dispatch {

// One label matcher, as in Alertmanager and PromQL: `name="v"`, `name!="v"`, `name=~"re"`,
// `name!~"re"`. Regular expressions are RE2 (linear time: a silence or a route cannot hang the
// daemon) and anchored at both ends, like Alertmanager. A missing label matches as "".
// Plain value: copies share the compiled regex, which is immutable and thread-safe.
class Matcher {
 public:
  enum class Op { kEqual, kNotEqual, kRegex, kNotRegex };

  // Fails with kInvalid when the name is not a valid label name or the regex does not compile.
  static Result<Matcher> Create(std::string name, Op op, std::string value);
  // Parses `name="value"`, `name=~"re"`, ... Values may be unquoted (`severity=critical`), as
  // amtool accepts them.
  static Result<Matcher> Parse(std::string_view text);

  bool Matches(std::string_view value) const;
  bool Matches(const Labels& labels) const { return Matches(labels.GetOr(name_)); }

  const std::string& name() const { return name_; }
  Op op() const { return op_; }
  const std::string& value() const { return value_; }
  bool is_regex() const { return op_ == Op::kRegex || op_ == Op::kNotRegex; }
  bool is_equal() const { return op_ == Op::kEqual || op_ == Op::kRegex; }
  // `name=~"pay.*"`, with the value escaped.
  std::string ToString() const;

  friend bool operator==(const Matcher& a, const Matcher& b) {
    return a.name_ == b.name_ && a.op_ == b.op_ && a.value_ == b.value_;
  }

 private:
  std::string name_;
  Op op_ = Op::kEqual;
  std::string value_;
  std::shared_ptr<const re2::RE2> re_;
};

using Matchers = std::vector<Matcher>;

bool MatchesAll(const Matchers& matchers, const Labels& labels);
// `{a="b", c=~"d"}` or `a="b",c=~"d"` (the braces are optional), as amtool and the
// Alertmanager `filter` parameter write them.
Result<Matchers> ParseMatchers(std::string_view text);
std::string MatchersToString(const Matchers& matchers);
using tocsin::IsValidLabelName;  // common/labels.h

}  // namespace tocsin::dispatch

#include "tocsin/rules/burn_rate.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

namespace tocsin::rules {

namespace {

// A non-negative decimal: digits (most significant first) x 10^exponent. Just enough
// arithmetic for one comparison of products of a few doubles; never stored.
struct Decimal {
  std::vector<int> digits;  // no leading or trailing zeros once normalized; empty is 0
  int exponent = 0;
};

void Normalize(Decimal& d) {
  auto first = std::find_if(d.digits.begin(), d.digits.end(), [](int x) { return x != 0; });
  d.digits.erase(d.digits.begin(), first);
  while (!d.digits.empty() && d.digits.back() == 0) {
    d.digits.pop_back();
    ++d.exponent;
  }
  if (d.digits.empty()) d.exponent = 0;
}

// The shortest decimal that reads back as `v` (finite, >= 0): "99.85" for 99.85, not the
// binary value 99.8499999999999943156581139191985130310058593750.
Decimal FromDouble(double v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  Decimal d;
  int fraction_digits = 0;
  bool after_point = false;
  const char* p = buf;
  for (; p < res.ptr && *p != 'e'; ++p) {
    if (*p == '.') {
      after_point = true;
      continue;
    }
    d.digits.push_back(*p - '0');
    if (after_point) ++fraction_digits;
  }
  int exp = 0;
  if (p < res.ptr) {
    ++p;                 // 'e'
    if (*p == '+') ++p;  // from_chars takes '-' but not '+'
    std::from_chars(p, res.ptr, exp);
  }
  d.exponent = exp - fraction_digits;
  Normalize(d);
  return d;
}

Decimal Multiply(const Decimal& a, const Decimal& b) {
  Decimal out;
  if (a.digits.empty() || b.digits.empty()) return out;
  std::vector<int> acc(a.digits.size() + b.digits.size(), 0);
  for (std::size_t i = a.digits.size(); i-- > 0;) {
    for (std::size_t j = b.digits.size(); j-- > 0;) acc[i + j + 1] += a.digits[i] * b.digits[j];
  }
  for (std::size_t k = acc.size(); k-- > 1;) {
    acc[k - 1] += acc[k] / 10;
    acc[k] %= 10;
  }
  out.digits = std::move(acc);
  out.exponent = a.exponent + b.exponent;
  Normalize(out);
  return out;
}

Decimal Add(const Decimal& a, const Decimal& b) {
  if (a.digits.empty()) return b;
  if (b.digits.empty()) return a;
  int exponent = std::min(a.exponent, b.exponent);
  auto widen = [exponent](const Decimal& d) {
    std::vector<int> v = d.digits;
    v.resize(v.size() + static_cast<std::size_t>(d.exponent - exponent), 0);
    return v;
  };
  std::vector<int> x = widen(a), y = widen(b);
  if (x.size() < y.size()) std::swap(x, y);
  std::vector<int> sum(x.size() + 1, 0);
  int carry = 0;
  for (std::size_t k = 0; k < x.size(); ++k) {
    int s = x[x.size() - 1 - k] + (k < y.size() ? y[y.size() - 1 - k] : 0) + carry;
    sum[sum.size() - 1 - k] = s % 10;
    carry = s / 10;
  }
  sum[0] = carry;
  Decimal out{std::move(sum), exponent};
  Normalize(out);
  return out;
}

std::strong_ordering Compare(const Decimal& a, const Decimal& b) {
  if (a.digits.empty() || b.digits.empty()) {
    return !a.digits.empty() <=> !b.digits.empty();
  }
  // Normalized: the position of the leading digit decides, then the digits themselves.
  long long ma = static_cast<long long>(a.digits.size()) + a.exponent;
  long long mb = static_cast<long long>(b.digits.size()) + b.exponent;
  if (ma != mb) return ma <=> mb;
  return std::lexicographical_compare_three_way(a.digits.begin(), a.digits.end(), b.digits.begin(),
                                                b.digits.end());
}

}  // namespace

double BurnRate(double error_ratio, double objective_percent) {
  return error_ratio * 100.0 / (100.0 - objective_percent);
}

std::partial_ordering CompareBurnRate(double error_ratio, double objective_percent, double factor) {
  if (std::isnan(error_ratio) || std::isnan(objective_percent) || std::isnan(factor)) {
    return std::partial_ordering::unordered;
  }
  // The loader keeps objectives inside (0, 100); anything else has no budget to burn.
  if (!(objective_percent > 0 && objective_percent < 100)) return std::partial_ordering::unordered;
  if (std::isinf(error_ratio) || std::isinf(factor)) return error_ratio <=> factor;
  double budget_percent = 100.0 - objective_percent;
  double burn = error_ratio * 100.0 / budget_percent;
  // Rounding error of `burn` against the decimals it stands for: a few units in the last place
  // for the products and the division, plus the objective's own representation error
  // (<= 100 * 2^-53) magnified by 100 / budget_percent in the subtraction. 1e-12 is over a
  // thousand times that, so outside the margin the double answer is the exact answer.
  double margin = 1e-12 * (1.0 + 100.0 / budget_percent) * std::fabs(factor);
  if (burn > factor + margin) return std::partial_ordering::greater;
  if (burn < factor - margin) return std::partial_ordering::less;
  // Negative ratios or factors do not occur (rates and validated factors); no exact answer
  // is owed to them.
  if (error_ratio < 0 || factor < 0) return burn <=> factor;
  // error_ratio * 100 <=> factor * (100 - objective), rearranged to stay non-negative.
  const Decimal hundred{{1}, 2};
  Decimal r = FromDouble(error_ratio), o = FromDouble(objective_percent), f = FromDouble(factor);
  Decimal lhs = Add(Multiply(r, hundred), Multiply(f, o));
  Decimal rhs = Multiply(f, hundred);
  return Compare(lhs, rhs);
}

}  // namespace tocsin::rules

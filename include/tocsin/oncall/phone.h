#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace tocsin::oncall {

// A roster phone number in E.164 ("+380501110001"), the form Twilio dials and sends back in
// From/To: the roster may spell it with blanks, dashes, dots or parentheses ("+380 50 111-00-01"),
// which are dropped. Empty when what is left is not "+", a non-zero digit and at most 14 more
// digits (a national number without its country code cannot be dialled from abroad).
inline std::string PhoneE164(std::string_view roster_phone) {
  std::string out;
  for (char c : roster_phone) {
    if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') continue;
    out += c;
  }
  if (out.size() < 3 || out.size() > 16 || out[0] != '+' || out[1] == '0') return {};
  for (std::size_t i = 1; i < out.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(out[i]))) return {};
  }
  return out;
}

}  // namespace tocsin::oncall

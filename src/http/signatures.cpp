#include "tocsin/http/signatures.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "tocsin/common/crypto.h"
#include "tocsin/common/text.h"

namespace tocsin::http {

std::string_view SignatureCheckName(SignatureCheck c) {
  switch (c) {
    case SignatureCheck::kOk:
      return "ok";
    case SignatureCheck::kMissing:
      return "missing signature";
    case SignatureCheck::kMalformed:
      return "malformed signature";
    case SignatureCheck::kExpired:
      return "request timestamp outside the replay window";
    case SignatureCheck::kMismatch:
      return "signature mismatch";
  }
  return "?";
}

int SignatureCheckStatus(SignatureCheck c) {
  switch (c) {
    case SignatureCheck::kOk:
      return 200;
    case SignatureCheck::kMalformed:
      return 400;
    case SignatureCheck::kMissing:
    case SignatureCheck::kExpired:
      return 401;
    case SignatureCheck::kMismatch:
      return 403;
  }
  return 403;
}

SignatureCheck ScreenSlackHeaders(std::string_view timestamp_header,
                                  std::string_view signature_header, TimePoint now,
                                  Duration window) {
  timestamp_header = TrimSpace(timestamp_header);
  signature_header = TrimSpace(signature_header);
  if (timestamp_header.empty() || signature_header.empty()) return SignatureCheck::kMissing;
  long long ts = 0;
  auto [ptr, ec] = std::from_chars(timestamp_header.data(),
                                   timestamp_header.data() + timestamp_header.size(), ts);
  if (ec != std::errc() || ptr != timestamp_header.data() + timestamp_header.size()) {
    return SignatureCheck::kMalformed;
  }
  if (signature_header.substr(0, 3) != "v0=" || signature_header.size() != 3 + 64) {
    return SignatureCheck::kMalformed;
  }
  long long now_s = ToUnixMillis(now) / 1000;
  long long window_s = window.count() / 1000;
  // Compared without subtracting `ts`: a timestamp near -2^63 made |now - ts| overflow.
  if (ts < now_s - window_s || ts > now_s + window_s) return SignatureCheck::kExpired;
  return SignatureCheck::kOk;
}

SignatureCheck VerifySlackSignature(std::string_view timestamp_header,
                                    std::string_view signature_header, std::string_view raw_body,
                                    std::string_view signing_secret, TimePoint now,
                                    Duration window) {
  if (auto screen = ScreenSlackHeaders(timestamp_header, signature_header, now, window);
      screen != SignatureCheck::kOk) {
    return screen;
  }
  std::string base = "v0:";
  base.append(TrimSpace(timestamp_header));
  base += ':';
  base.append(raw_body);
  std::string expected = "v0=" + HmacSha256Hex(signing_secret, base);
  return ConstantTimeEquals(expected, TrimSpace(signature_header)) ? SignatureCheck::kOk
                                                                   : SignatureCheck::kMismatch;
}

namespace {
// The hex digests of X-PagerDuty-Signature ("v1=<hex>[,v1=<hex>...]") into `given`.
SignatureCheck ParsePagerDutySignatures(std::string_view signature_header,
                                        std::vector<std::string_view>& given) {
  signature_header = TrimSpace(signature_header);
  if (signature_header.empty()) return SignatureCheck::kMissing;
  while (!signature_header.empty()) {
    auto comma = signature_header.find(',');
    auto part = TrimSpace(signature_header.substr(0, comma));
    signature_header =
        comma == std::string_view::npos ? std::string_view() : signature_header.substr(comma + 1);
    if (part.empty()) continue;
    if (part.substr(0, 3) != "v1=" || part.size() != 3 + 64) return SignatureCheck::kMalformed;
    given.push_back(part.substr(3));
  }
  return given.empty() ? SignatureCheck::kMalformed : SignatureCheck::kOk;
}
}  // namespace

SignatureCheck ScreenPagerDutyHeader(std::string_view signature_header) {
  std::vector<std::string_view> given;
  return ParsePagerDutySignatures(signature_header, given);
}

SignatureCheck VerifyPagerDutySignature(std::string_view signature_header,
                                        std::string_view raw_body,
                                        const std::vector<std::string>& secrets) {
  std::vector<std::string_view> given;
  if (auto parsed = ParsePagerDutySignatures(signature_header, given);
      parsed != SignatureCheck::kOk) {
    return parsed;
  }
  bool match = false;
  for (const auto& secret : secrets) {
    std::string expected = HmacSha256Hex(secret, raw_body);
    // No early exit: the time taken does not depend on which pair matched.
    for (auto g : given) match = ConstantTimeEquals(expected, g) || match;
  }
  return match ? SignatureCheck::kOk : SignatureCheck::kMismatch;
}

std::string TwilioSignature(std::string_view url,
                            std::vector<std::pair<std::string, std::string>> params,
                            std::string_view auth_token) {
  std::sort(params.begin(), params.end());
  std::string data(url);
  for (const auto& [name, value] : params) {
    data += name;
    data += value;
  }
  return HmacSha1Base64(auth_token, data);
}

SignatureCheck ScreenTwilioHeader(std::string_view signature_header) {
  signature_header = TrimSpace(signature_header);
  if (signature_header.empty()) return SignatureCheck::kMissing;
  // 20 bytes: 27 base64 characters and one '=' of padding.
  if (signature_header.size() != 28 || signature_header.back() != '=') {
    return SignatureCheck::kMalformed;
  }
  const bool base64 = std::all_of(signature_header.begin(), signature_header.end() - 1, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '/';
  });
  return base64 ? SignatureCheck::kOk : SignatureCheck::kMalformed;
}

SignatureCheck VerifyTwilioSignature(std::string_view signature_header, std::string_view url,
                                     const std::vector<std::pair<std::string, std::string>>& params,
                                     std::string_view auth_token) {
  if (auto shape = ScreenTwilioHeader(signature_header); shape != SignatureCheck::kOk) {
    return shape;
  }
  signature_header = TrimSpace(signature_header);
  return ConstantTimeEquals(TwilioSignature(url, params, auth_token), signature_header)
             ? SignatureCheck::kOk
             : SignatureCheck::kMismatch;
}

}  // namespace tocsin::http

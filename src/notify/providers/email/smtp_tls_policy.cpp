#include "notify/providers/email/smtp_tls_policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "tocsin/common/text.h"

namespace tocsin::notify {

namespace {

// "host:port" (with user information, if any) between "://" and the path.
std::string_view Authority(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return {};
  std::string_view rest = url.substr(scheme_end + 3);
  return rest.substr(0, rest.find_first_of("/?#"));
}

}  // namespace

bool HasSmtpCredentials(const config::EmailConfig& c) {
  return !c.username.empty() || !c.password.empty();
}

config::SmtpStartTls EffectiveStartTls(const config::EmailConfig& c) {
  if (c.starttls) return *c.starttls;
  return HasSmtpCredentials(c) ? config::SmtpStartTls::kRequired
                               : config::SmtpStartTls::kOpportunistic;
}

bool SmtpUrlHasUserInfo(std::string_view url) {
  return Authority(url).find('@') != std::string_view::npos;
}

std::string SmtpUrlHost(std::string_view url) {
  std::string_view a = Authority(url);
  if (auto at = a.rfind('@'); at != std::string_view::npos) a = a.substr(at + 1);
  std::string_view host;
  if (!a.empty() && a.front() == '[') {
    auto close = a.find(']');
    if (close == std::string_view::npos) return {};
    host = a.substr(1, close - 1);
  } else {
    host = a.substr(0, a.find(':'));
  }
  return AsciiLower(std::string(host));
}

bool IsLoopbackHost(std::string_view host) {
  std::string h(host);
  if (h == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    in6_addr loopback = IN6ADDR_LOOPBACK_INIT;
    return std::equal(std::begin(v6.s6_addr), std::end(v6.s6_addr), std::begin(loopback.s6_addr));
  }
  return false;
}

}  // namespace tocsin::notify

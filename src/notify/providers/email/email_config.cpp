#include "notify/providers/email/smtp_tls_policy.h"
#include "notify/providers/provider_checks.h"

namespace tocsin::notify {

void CheckEmailConfig(const config::EmailConfig& c, const WhereFn& where,
                      config::Diagnostics& diags) {
  using config::SmtpStartTls;
  if (c.from.find('@') == std::string::npos) {
    diags.Error(where("from"),
                "providers.email.from: an address such as tocsin@example.com (SMTP servers "
                "refuse mail without one)");
  }
  // A URL ends up in error messages; credentials in it would too.
  if (SmtpUrlHasUserInfo(c.smtp_url)) {
    diags.Error(where("smtp_url"),
                "providers.email.smtp_url: put the user name and password in username and "
                "password (or password_file), not in the URL");
  }
  if (!c.password.empty() && c.username.empty()) {
    diags.Error(where("password"),
                "providers.email.password: give username too (SMTP AUTH needs both)");
  }
  if (!c.starttls) return;
  if (c.smtp_url.rfind("smtps://", 0) == 0) {
    diags.Error(where("starttls"),
                "providers.email.starttls: applies to smtp:// only; smtps:// is TLS from the "
                "first byte, so remove the key");
    return;
  }
  std::string host = SmtpUrlHost(c.smtp_url);
  if (IsLoopbackHost(host)) return;
  if (*c.starttls == SmtpStartTls::kOff) {
    diags.Error(where("starttls"),
                "providers.email.starttls: off is allowed only for an SMTP server on this host "
                "(127.0.0.1, ::1 or localhost), and \"" +
                    host +
                    "\" is not one; use required, or opportunistic without username/password");
  } else if (*c.starttls == SmtpStartTls::kOpportunistic && HasSmtpCredentials(c)) {
    diags.Error(where("starttls"),
                "providers.email.starttls: opportunistic with username/password would send the "
                "password in clear text to a server that offers no STARTTLS; allowed only for "
                "an SMTP server on this host, and \"" +
                    host + "\" is not one: remove the key (STARTTLS is then required)");
  }
}

}  // namespace tocsin::notify

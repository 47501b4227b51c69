#pragma once

#include <string>
#include <string_view>

#include "tocsin/config/config.h"

namespace tocsin::notify {

// The STARTTLS policy in force for `c`: its `starttls` key, else kRequired when a user name or
// password is set (a password must never cross in clear text) and kOpportunistic without.
config::SmtpStartTls EffectiveStartTls(const config::EmailConfig& c);

// Whether `c` carries credentials (a user name or a password).
bool HasSmtpCredentials(const config::EmailConfig& c);

// The host of an smtp:// or smtps:// URL, lower-case and without IPv6 brackets; empty when the
// URL has none.
std::string SmtpUrlHost(std::string_view url);

// Whether the URL names user information ("user:pass@host"), which belongs in username and
// password instead.
bool SmtpUrlHasUserInfo(std::string_view url);

// 127.0.0.0/8, ::1 and localhost: a server on this host, the only one that may be spoken to in
// clear text with credentials (nothing crosses a network).
bool IsLoopbackHost(std::string_view host);

}  // namespace tocsin::notify

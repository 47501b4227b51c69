#pragma once

#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/config/config.h"

namespace tocsin::notify {

struct SmtpMessage {
  std::string from;
  std::vector<std::string> to;
  // The whole RFC 5322 message as readers see it, CRLF line ends, NOT dot-stuffed: the
  // transport applies SMTP's transparency (RFC 5321 4.5.2) on the wire, exactly once.
  std::string data;
};

// Hands a message to an SMTP server. Errors say whether to retry: kTransient for network
// errors and 4xx replies, kPermanent for 5xx replies and for a TLS policy that cannot be met
// (no STARTTLS where it is required, a certificate that does not verify). Messages never
// contain the password. Thread-safety: Send from any thread.
class SmtpTransport {
 public:
  virtual ~SmtpTransport() = default;
  virtual Result<void> Send(const SmtpMessage& message) = 0;
};

// libcurl's smtp:// / smtps:// client. STARTTLS follows EffectiveStartTls(config): with
// credentials it is required unless the config opts out for a loopback server, so the password
// never crosses in clear text. Certificates are always verified (against tls_ca_file when set).
class CurlSmtpTransport final : public SmtpTransport {
 public:
  explicit CurlSmtpTransport(const config::EmailConfig& config,
                             Duration timeout = std::chrono::seconds(20));
  Result<void> Send(const SmtpMessage& message) override;

 private:
  std::string url_;
  std::string host_;
  std::string username_;
  std::string password_;
  std::string ca_file_;
  config::SmtpStartTls starttls_;
  Duration timeout_;
};

}  // namespace tocsin::notify

#pragma once

#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"

namespace tocsin::notify {

struct SmtpMessage {
  std::string from;
  std::vector<std::string> to;
  std::string data;  // the whole RFC 5322 message, CRLF line ends
};

// Hands a message to an SMTP server. Errors say whether to retry: kTransient for network
// errors and 4xx replies, kPermanent for 5xx replies. Messages never contain the password.
// Thread-safety: Send from any thread.
class SmtpTransport {
 public:
  virtual ~SmtpTransport() = default;
  virtual Result<void> Send(const SmtpMessage& message) = 0;
};

// libcurl's smtp:// / smtps:// client (STARTTLS when the server offers it).
class CurlSmtpTransport final : public SmtpTransport {
 public:
  CurlSmtpTransport(std::string url, std::string username, std::string password,
                    Duration timeout = std::chrono::seconds(20));
  Result<void> Send(const SmtpMessage& message) override;

 private:
  std::string url_;
  std::string username_;
  std::string password_;
  Duration timeout_;
};

}  // namespace tocsin::notify

#pragma once

#include <memory>

#include "notify/page_renderer.h"
#include "notify/providers/email/smtp_transport.h"
#include "tocsin/config/config.h"
#include "tocsin/notify/notifier.h"

namespace tocsin::notify {

// E-mail for low-severity pages and notices: one plain-text UTF-8 message per recipient,
// subject and body from the templates, a Message-ID derived from the idempotency key so mail
// clients fold a re-sent copy into the first. Thread-safety: immutable; Deliver from any thread.
class EmailNotifier final : public Notifier {
 public:
  EmailNotifier(config::EmailConfig config, std::shared_ptr<const PageRenderer> renderer,
                std::shared_ptr<SmtpTransport> transport);
  incident::Channel channel() const override { return incident::Channel::kEmail; }
  DeliveryResult Deliver(const OutboxItem& item) override;
  std::string RateKey(const OutboxItem& item) const override;

  // The RFC 5322 message for `item` (CRLF line ends, not dot-stuffed), for tests.
  SmtpMessage BuildMessage(const OutboxItem& item) const;

 private:
  config::EmailConfig config_;
  std::shared_ptr<const PageRenderer> renderer_;
  std::shared_ptr<SmtpTransport> transport_;
};

}  // namespace tocsin::notify

#pragma once

#include <memory>
#include <string>

#include "notify/page_renderer.h"
#include "tocsin/common/http_client.h"
#include "tocsin/config/config.h"
#include "tocsin/notify/notifier.h"

namespace tocsin::notify {

// Twilio, straight to a person's phone: each page to a person is two outbox items, an SMS
// (kind "sms", POST .../Messages.json: the four questions, the runbook and how to answer) and
// then a voice call (kind "call", POST .../Calls.json with inline TwiML that speaks What /
// Where / How much / Action twice inside a <Gather numDigits="1"> whose action is tocsin's
// keypress callback: 1 acknowledges, 9 resolves). Kind "last_resort" is the call tocsin makes
// to the Duty Manager when the paging SaaS is down; it says so first. HTTP basic auth with the
// account SID and auth token; the token is never in a detail, a log line or a rate bucket.
// Twilio answers 201 with the message or call resource; 429 and 5xx are retried, other 4xx
// (an invalid number, a bad From) are permanent. The rate bucket is the recipient's number
// (hashed), so one person is not called more often than the limit allows however many
// incidents there are. Thread-safety: immutable; Deliver from any thread.
class TwilioNotifier final : public Notifier {
 public:
  static constexpr std::size_t kSmsMax = 1600;    // Twilio's limit of a message body
  static constexpr std::size_t kTwimlMax = 4000;  // and of the Twiml parameter of a call
  static constexpr const char* kSmsPath = "/webhooks/twilio/sms";
  static constexpr const char* kVoicePath = "/webhooks/twilio/voice";

  TwilioNotifier(config::TwilioConfig config, std::shared_ptr<const PageRenderer> renderer,
                 std::shared_ptr<HttpClient> http);
  incident::Channel channel() const override { return incident::Channel::kTwilio; }
  DeliveryResult Deliver(const OutboxItem& item) override;
  std::string RateKey(const OutboxItem& item) const override;

  // The SMS text and the call's TwiML for `item`, for tests.
  std::string SmsBody(const OutboxItem& item) const;
  std::string CallTwiml(const OutboxItem& item) const;

 private:
  DeliveryResult Post(const std::string& resource, const std::string& to,
                      std::vector<std::pair<std::string, std::string>> fields);

  config::TwilioConfig config_;
  std::shared_ptr<const PageRenderer> renderer_;
  std::shared_ptr<HttpClient> http_;
};

}  // namespace tocsin::notify

#pragma once

#include <memory>
#include <string>

#include "tocsin/api/incident_commands.h"
#include "tocsin/http/router.h"

namespace prometheus {
class Registry;
}

namespace tocsin::http {

struct TwilioInboundConfig {
  std::string account_sid;
  std::string auth_token;  // empty: Twilio is not configured, the endpoints answer 404
  // Base URL Twilio calls tocsin at (providers.twilio.public_url): signatures cover the URL as
  // Twilio called it, which behind a proxy is not the one the request arrives on.
  std::string public_url;
};

// Twilio's callbacks, through which a paged person answers from their phone:
//   POST /webhooks/twilio/sms     an SMS to tocsin's Twilio number: "1" or "ack" acknowledges,
//                                 "resolve" resolves (any case; "ack INC-42" names the incident)
//   POST /webhooks/twilio/voice   the keypress of a page call (<Gather> action, ?incident=INC-42):
//                                 1 acknowledges, 9 resolves
// Who acts is the roster person whose `phone` sent the SMS or took the call. A bare "1" acts on
// the one open incident that paged that person; with several, the answer lists them and asks
// for the id, and nothing is done. Every request is checked first: X-Twilio-Signature over
// `public_url` + the request target and the form parameters (403 when forged, 401 when
// absent) and the account SID. Each request acts at most once: its MessageSid, or CallSid and
// the key pressed, is stored with the effect through IncidentCommands (a replay answers that
// it was handled). The answer is TwiML, sent once the effect is durable; a failure to act is a
// 503 (nothing recorded), so that Twilio's retry, or the person's, acts.
// Loop thread only.
class TwilioInbound {
 public:
  TwilioInbound(TwilioInboundConfig config, IncidentCommands& incidents, PersonDirectory& people,
                prometheus::Registry& registry);
  ~TwilioInbound();

  void SetConfig(TwilioInboundConfig config);
  void Register(Router& router);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tocsin::http

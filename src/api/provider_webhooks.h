#pragma once

// The PagerDuty, Opsgenie and JSM Operations webhooks of InboundHandlers (its config, its
// counter, its incident commands), in a file of their own, and the refusal of a request by
// its signature check that they, the Slack routes and Twilio's callbacks share. Internal to
// the api module.

#include <optional>
#include <string>
#include <utility>

#include <prometheus/counter.h>
#include <prometheus/family.h>

#include "tocsin/api/inbound.h"
#include "tocsin/api/inbound_handlers.h"
#include "tocsin/common/log.h"
#include "tocsin/http/signatures.h"

namespace tocsin::http {

// Requests refused by their signature check: counted under their endpoint in `requests`,
// logged with where they came from, answered with the check's status. Refusals come from
// strangers too, so the log has one line per endpoint and reason every 10 s (saying how many
// were held back); the counter has each.
class SignatureRefusals {
 public:
  // `source` starts each line ("twilio "), before the endpoint.
  explicit SignatureRefusals(prometheus::Family<prometheus::Counter>& requests,
                             std::string source = {})
      : requests_(requests), source_(std::move(source)) {}
  // `hint` ends the line (what the signature was checked against).
  Response Refuse(const char* endpoint, SignatureCheck check, const Request& req,
                  const std::string& hint = {});
  // A refusal after a good signature (a replay): logged by the same rule, "<source><endpoint>:
  // refused <path> from <address>: <why> <hint>"; counting and answering are the caller's.
  void Log(const char* endpoint, std::string_view why, const Request& req,
           const std::string& hint = {});

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  const std::string source_;
  log::RepeatLimiter lines_;
};

class ProviderWebhooks {
 public:
  // `config` is the owner's, read at each request (a reload changes it in place).
  ProviderWebhooks(const InboundConfig& config, IncidentCommands& incidents,
                   prometheus::Family<prometheus::Counter>& requests, SignatureRefusals& refusals)
      : config_(config), incidents_(incidents), requests_(requests), refusals_(refusals) {}

  // POST /webhooks/pagerduty, /webhooks/opsgenie, /webhooks/jsm, each with its screen. The
  // routes call this object: it outlives the router.
  void Register(Router& router);

 private:
  // Opsgenie and JSM Operations send a shared token in a header (JSM's outgoing webhook
  // integration sets it as a custom header) or the query; both bodies have Opsgenie's shape.
  struct TokenRoute {
    const char* endpoint;
    const char* not_configured;
    std::string InboundConfig::*expected;
    Result<ProviderIncidentEvent> (*parse)(std::string_view);
    ActionOrigin origin;
  };

  void Count(const char* endpoint, const std::string& outcome);
  std::optional<Response> ScreenPagerDuty(const Request& req);
  void HandlePagerDuty(const Request& req, Respond respond);
  std::optional<Response> ScreenToken(const Request& req, const TokenRoute& route);
  void HandleTokenWebhook(const Request& req, Respond respond, const TokenRoute& route);
  void ApplyProviderEvent(const ProviderIncidentEvent& e, ActionOrigin origin, const char* endpoint,
                          Respond respond);

  const InboundConfig& config_;
  IncidentCommands& incidents_;
  prometheus::Family<prometheus::Counter>& requests_;
  SignatureRefusals& refusals_;
};

}  // namespace tocsin::http

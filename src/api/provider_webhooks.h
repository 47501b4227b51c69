#pragma once

// The PagerDuty, Opsgenie and JSM Operations webhooks of InboundHandlers (its config, its
// counter, its incident commands), in a file of their own. Internal to the api module.

#include <optional>

#include <prometheus/counter.h>
#include <prometheus/family.h>

#include "tocsin/api/inbound.h"
#include "tocsin/api/inbound_handlers.h"
#include "tocsin/http/signatures.h"

namespace tocsin::http {

// A request refused by its signature check: counted under `endpoint` in `requests`, logged with
// where it came from, answered with the check's status. The Slack routes' refusal too.
Response RefusedBySignature(prometheus::Family<prometheus::Counter>& requests, const char* endpoint,
                            SignatureCheck check, const Request& req);

class ProviderWebhooks {
 public:
  // `config` is the owner's, read at each request (a reload changes it in place).
  ProviderWebhooks(const InboundConfig& config, IncidentCommands& incidents,
                   prometheus::Family<prometheus::Counter>& requests)
      : config_(config), incidents_(incidents), requests_(requests) {}

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
};

}  // namespace tocsin::http

#include "provider_webhooks.h"

#include <chrono>
#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "tocsin/api/inbound.h"
#include "tocsin/common/crypto.h"
#include "tocsin/common/json.h"

namespace tocsin::http {

namespace {
std::string TokenOf(const Request& req) {
  return req.Header("X-Tocsin-Token").value_or(req.Query("token").value_or(""));
}
}  // namespace

Response SignatureRefusals::Refuse(const char* endpoint, SignatureCheck check, const Request& req,
                                   const std::string& hint) {
  const auto why = SignatureCheckName(check);
  requests_.Add({{"endpoint", endpoint}, {"outcome", std::string(why)}}).Increment();
  Log(endpoint, why, req, hint);
  return Response::Text(SignatureCheckStatus(check), std::string(why) + "\n");
}

void SignatureRefusals::Log(const char* endpoint, std::string_view why, const Request& req,
                            const std::string& hint) {
  const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  if (auto note =
          lines_.Pass(fmt::format("{} {}", endpoint, why), static_cast<std::uint64_t>(now_us))) {
    spdlog::warn("{}{}: refused {} from {}: {}{}{}", source_, endpoint, req.path,
                 req.remote_address, why, hint.empty() ? "" : " " + hint, *note);
  }
}

void ProviderWebhooks::Count(const char* endpoint, const std::string& outcome) {
  requests_.Add({{"endpoint", endpoint}, {"outcome", outcome}}).Increment();
}

void ProviderWebhooks::Register(Router& router) {
  router.AddSigned(
      "POST", "/webhooks/pagerduty", [this](const Request& r) { return ScreenPagerDuty(r); },
      [this](const Request& r, Respond respond) { HandlePagerDuty(r, respond); });
  static const TokenRoute kOpsgenie{
      "opsgenie", "Opsgenie webhooks are not configured (providers.opsgenie.webhook_token)",
      &InboundConfig::opsgenie_webhook_token, ParseOpsgenieWebhook, ActionOrigin::kOpsgenie};
  static const TokenRoute kJsm{
      "jsm", "JSM Operations webhooks are not configured (providers.jsm.webhook_token)",
      &InboundConfig::jsm_webhook_token, ParseJsmWebhook, ActionOrigin::kJsm};
  for (const TokenRoute* route : {&kOpsgenie, &kJsm}) {
    router.AddSigned(
        "POST", std::string("/webhooks/") + route->endpoint,
        [this, route](const Request& r) { return ScreenToken(r, *route); },
        [this, route](const Request& r, Respond s) { HandleTokenWebhook(r, s, *route); });
  }
}

// Acts on a provider's event before answering, so that a 2xx means the effect is durable,
// and answers what happened. A failure is a 503: the provider retries, and since the
// delivery was not recorded, the retry is acted on.
void ProviderWebhooks::ApplyProviderEvent(const ProviderIncidentEvent& e, ActionOrigin origin,
                                          const char* endpoint, Respond respond) {
  auto answer = [this, e, endpoint, respond](
                    int status, const char* outcome, const std::string& message,
                    const std::optional<ActionOutcome>& out = std::nullopt) {
    Count(endpoint, outcome);
    nlohmann::json body = {{"outcome", outcome}, {"message", message}, {"delivery", e.delivery_id}};
    if (out) {
      body["incident"] = out->incident_id;
      body["state"] = out->state;
    }
    respond(Response::Json(status, DumpJson(body) + "\n"));
  };
  if (e.action != "acknowledge" && e.action != "resolve" && e.action != "unacknowledge") {
    return answer(200, "ignored", "tocsin does not act on " + e.raw_type + "; nothing done");
  }
  // Withdrawn by nobody: the provider's own acknowledgement timeout ran out. tocsin's ladder
  // keeps its own (incidents.ack_timeout); following the provider's would page the same people
  // from two systems.
  if (e.action == "unacknowledge" && e.actor.empty()) {
    return answer(200, "ignored",
                  e.raw_type +
                      " without a person: the provider's own acknowledgement timeout; "
                      "tocsin's ack_timeout decides when its ladder resumes; nothing done");
  }
  const IncidentAction action = e.action == "acknowledge"     ? IncidentAction::kAcknowledge
                                : e.action == "unacknowledge" ? IncidentAction::kUnacknowledge
                                                              : IncidentAction::kResolve;
  ActionRequest r{
      e.incident_key, action, e.provider + ":" + (e.actor.empty() ? "unknown" : e.actor),
      origin,         "",     DeliveryKey{e.provider, e.delivery_id}};
  incidents_.ActAsync(r, [e, actor = r.actor, answer](Result<ActionOutcome> out) {
    if (!out) {
      if (out.error().kind() == Error::Kind::kNotFound) {
        spdlog::info("{}: {} for unknown incident {} ignored", e.provider, e.action,
                     e.incident_key);
        return answer(200, "unknown_incident",
                      "no tocsin incident for \"" + e.incident_key + "\"; nothing done");
      }
      spdlog::error("{}: {} for {} failed, asking for a retry: {}", e.provider, e.action,
                    e.incident_key, out.error().message());
      return answer(503, "failed",
                    "could not " + e.action + " " + e.incident_key + ": " + out.error().message() +
                        "; nothing was changed, retry the delivery");
    }
    if (out->duplicate) {
      return answer(200, "duplicate", "delivery already processed; nothing done again", *out);
    }
    if (!out->changed && e.action == "unacknowledge") {
      return answer(200, "unchanged",
                    out->state == "acknowledged"
                        ? out->incident_id +
                              " stays acknowledged: its acknowledgement was not "
                              "given in " +
                              e.provider + "; nothing done"
                        : out->incident_id + " is " + out->state +
                              ": no acknowledgement to withdraw; nothing done",
                    *out);
    }
    if (!out->changed) {
      return answer(200, "unchanged", out->incident_id + " was already " + out->state, *out);
    }
    if (e.action == "unacknowledge") {
      spdlog::info("{}: {} acknowledgement withdrawn by {}, {} again", e.provider, out->incident_id,
                   actor, out->state);
      return answer(200, "acted",
                    out->incident_id + " acknowledgement withdrawn by " + actor + "; " +
                        out->state + " again",
                    *out);
    }
    spdlog::info("{}: {} {} by {}", e.provider, out->incident_id, out->state, actor);
    answer(200, "acted", out->incident_id + " " + out->state + " by " + actor, *out);
  });
}

std::optional<Response> ProviderWebhooks::ScreenPagerDuty(const Request& req) {
  if (config_.pagerduty_secrets.empty()) {
    Count("pagerduty", "not_configured");
    return Response::Text(404,
                          "PagerDuty webhooks are not configured "
                          "(providers.pagerduty.webhook_secret)\n");
  }
  auto check = ScreenPagerDutyHeader(req.Header("X-PagerDuty-Signature").value_or(""));
  if (check != SignatureCheck::kOk) return refusals_.Refuse("pagerduty", check, req);
  return std::nullopt;
}

void ProviderWebhooks::HandlePagerDuty(const Request& req, Respond respond) {
  if (auto refused = ScreenPagerDuty(req)) return respond(*refused);
  auto check = VerifyPagerDutySignature(req.Header("X-PagerDuty-Signature").value_or(""), req.body,
                                        config_.pagerduty_secrets);
  if (check != SignatureCheck::kOk) return respond(refusals_.Refuse("pagerduty", check, req));
  // The dedup key comes from the signed body, never from the unsigned X-Webhook-Id header.
  auto event = ParsePagerDutyWebhook(req.body);
  if (!event) {
    Count("pagerduty", "malformed");
    return respond(Response::Text(400, event.error().message() + "\n"));
  }
  ApplyProviderEvent(*event, ActionOrigin::kPagerDuty, "pagerduty", respond);
}

// The token travels in the header or the query, so the whole check is made before the body.
std::optional<Response> ProviderWebhooks::ScreenToken(const Request& req, const TokenRoute& route) {
  const std::string& expected = config_.*route.expected;
  if (expected.empty()) {
    Count(route.endpoint, "not_configured");
    return Response::Text(404, std::string(route.not_configured) + "\n");
  }
  const std::string token = TokenOf(req);
  if (token.empty()) {
    Count(route.endpoint, "missing token");
    return Response::Text(401, "missing X-Tocsin-Token\n");
  }
  if (!ConstantTimeEquals(token, expected)) {
    Count(route.endpoint, "token mismatch");
    return Response::Text(403, "token mismatch\n");
  }
  return std::nullopt;
}

void ProviderWebhooks::HandleTokenWebhook(const Request& req, Respond respond,
                                          const TokenRoute& route) {
  // Again: a reload may have changed the token while the body arrived.
  if (auto refused = ScreenToken(req, route)) return respond(*refused);
  const char* endpoint = route.endpoint;
  auto event = route.parse(req.body);
  if (!event) {
    Count(endpoint, "malformed");
    return respond(Response::Text(400, event.error().message() + "\n"));
  }
  ApplyProviderEvent(*event, route.origin, endpoint, respond);
}

}  // namespace tocsin::http

#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "notify/page_renderer.h"
#include "notify/providers/email/smtp_transport.h"
#include "notify/providers/provider_checks.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/result.h"
#include "tocsin/config/config.h"
#include "tocsin/incident/page.h"
#include "tocsin/notify/notifier.h"
#include "tocsin/notify/notify_config.h"
#include "tocsin/notify/responder_request_store.h"
#include "tocsin/notify/slack_thread_store.h"
#include "tocsin/oncall/person.h"

namespace tocsin::notify {

// What the notifiers are built from; tests swap the HTTP client or SMTP transport.
struct NotifierDeps {
  std::shared_ptr<const PageRenderer> renderer;
  std::shared_ptr<HttpClient> http;
  // null: a CurlSmtpTransport from providers.email.smtp_url
  std::shared_ptr<SmtpTransport> smtp;
  SlackThreadStore* slack_threads = nullptr;
  // null: PagerDuty remembers accepted responder requests in memory only
  ResponderRequestStore* responder_requests = nullptr;
};

// Everything tocsin knows about one paging provider, in one place: its name, how it reaches a
// person, what the outbox plans for it, its config and how its notifier is built. Each
// provider's folder defines its own (providers/<name>/<name>_provider.cpp); the registry lists
// them. Plain value, immutable.
struct ProviderSpec {
  // How a page becomes deliveries there.
  enum class Delivery {
    kAlert,            // one alert per incident, its responders the people it reaches;
                       // acknowledges and resolves mirrored to it (PagerDuty, Opsgenie, webhook)
    kPerPerson,        // one message per person, addressed to them (e-mail)
    kIncidentMessage,  // one message per incident, updated on every change, later steps and
                       // notes as thread replies (Slack)
  };

  incident::Channel channel;  // its name in config, store, metrics and API ("pagerduty")
  std::string_view title{};   // in sentences people read ("PagerDuty")
  // The roster field that addresses a person there; empty: it reaches everyone a page names
  // (a webhook hands the targets to a system that routes by itself).
  std::string_view identity_field{};
  std::string (*identity)(const oncall::Person&) = nullptr;  // that field's value
  // PageRequest::origin of actions done in this provider: never mirrored back to it.
  std::string_view origin{};
  Delivery delivery = Delivery::kAlert;
  // kPerPerson: the outbox items one person gets per page, in order (e-mail: one "page";
  // Twilio: an "sms", then a "call").
  std::vector<std::string_view> per_person_kinds = {"page"};
  bool takes_notes = false;    // timeline notes are added to its alert (Opsgenie)
  bool can_fail_over = false;  // may fail over to (or take over from) a partner
  // The outbox kind a receiver notice becomes there; empty: it takes no receiver notices.
  std::string_view notice_kind{};
  RateLimit default_rate_limit{};

  // `providers.<name>` is in the config.
  bool (*configured)(const config::ProvidersConfig&) = nullptr;
  // The provider's own config checks beyond the config module's (errors and warnings).
  void (*check)(const config::ProvidersConfig&, const WhereFn&, config::Diagnostics&) = nullptr;
  // Its notifier; called only when configured (at start and on every reload).
  std::shared_ptr<Notifier> (*build)(const config::ProvidersConfig&, const NotifierDeps&) = nullptr;

  // Whether the provider can reach `person` at all (has the identity it needs).
  bool Reaches(const oncall::Person& person) const {
    return identity_field.empty() || !identity(person).empty();
  }
};

// Every provider tocsin can page through, in the order a trigger plans them.
const std::vector<ProviderSpec>& Providers();
// The provider of `channel`; null for a name no provider has (a stale row, a test's fake).
const ProviderSpec* FindProvider(incident::Channel channel);
// Every provider's name, in registry order ("pagerduty", "opsgenie", ...).
std::vector<std::string> ProviderNames();
// The provider called `name`; an error naming the known ones when there is none.
Result<incident::Channel> ParseProviderName(std::string_view name);
// "PagerDuty" for a known channel, its name otherwise.
std::string ProviderTitle(incident::Channel channel);

}  // namespace tocsin::notify

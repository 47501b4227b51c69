#include "notify/test_page.h"

#include <algorithm>
#include <map>
#include <mutex>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace tocsin::notify {

namespace {

// The test page's Slack message is never updated, so its id need not outlive the command.
class MemorySlackThreads final : public SlackThreadStore {
 public:
  std::optional<SlackMessageRef> FindSlackMessage(const std::string& incident_id) override {
    std::lock_guard lock(mu_);
    auto it = refs_.find(incident_id);
    if (it == refs_.end()) return std::nullopt;
    return it->second;
  }
  Result<void> SaveSlackMessage(const std::string& incident_id,
                                const SlackMessageRef& ref) override {
    std::lock_guard lock(mu_);
    refs_[incident_id] = ref;
    return {};
  }

 private:
  std::mutex mu_;
  std::map<std::string, SlackMessageRef> refs_;
};

// The outbox operations a trigger becomes at this provider for one person.
std::vector<std::pair<std::string, std::string>> Operations(const ProviderSpec& p,
                                                            const oncall::Person& person) {
  switch (p.delivery) {
    case ProviderSpec::Delivery::kAlert:
      return {{"page", ""}};
    case ProviderSpec::Delivery::kPerPerson: {
      std::vector<std::pair<std::string, std::string>> out;
      for (auto kind : p.per_person_kinds) out.emplace_back(kind, p.identity(person));
      return out;
    }
    case ProviderSpec::Delivery::kIncidentMessage:
      return {{"post", ""}};
  }
  return {};
}

}  // namespace

bool TestPageResult::ok() const {
  std::map<std::string, bool> last;
  for (const auto& a : attempts) last[a.kind] = a.result.ok();
  if (last.empty()) return false;
  for (const auto& [kind, ok] : last) {
    if (!ok) return false;
  }
  return true;
}

incident::PageRequest TestPageRequest(const oncall::Person& person, const ProviderSpec& provider,
                                      incident::Sev sev, TimePoint now) {
  const long long ms = ToUnixMillis(now);
  incident::PageRequest r;
  r.incident_id = fmt::format("TEST-{}", ms);
  // Its own key: PagerDuty and Opsgenie never fold a test into a real incident's alert.
  r.dedup_key = fmt::format("tocsin-test-{}-{}-{}", person.id, provider.channel.name(), ms);
  r.idempotency_key = r.dedup_key + "/test";
  r.action = incident::PageAction::kTrigger;
  r.sev = sev;
  r.title = fmt::format(
      "TEST — tocsin test page for {} through {}: no incident, nothing to do but acknowledge",
      person.name.empty() ? person.id : person.name, provider.title);
  r.state = "test";
  incident::PageTarget target;
  target.person = person;
  target.role = "test";
  target.channels = {provider.channel};
  target.paged_via = provider.channel;
  r.targets = {target};
  r.opened_at = now;
  r.at = now;
  return r;
}

Result<TestPageResult> SendTestPage(const config::ProvidersConfig& providers,
                                    const NotifierDeps& deps, incident::Channel channel,
                                    const oncall::Person& person, TimePoint now,
                                    const TestPageOptions& options) {
  const ProviderSpec* spec = FindProvider(channel);
  if (!spec) {
    return Fail(Error::Invalid(fmt::format("unknown provider \"{}\" (known: {})", channel.name(),
                                           fmt::join(ProviderNames(), ", "))));
  }
  if (!spec->configured(providers)) {
    return Fail(Error::Invalid(
        fmt::format("{} is not configured: add providers.{} to the configuration (see "
                    "docs/notifications.md)",
                    spec->title, channel.name())));
  }
  if (!spec->Reaches(person)) {
    return Fail(Error::Invalid(fmt::format(
        "{} has no {} in the roster: add `{}:` to people.{} to reach them through {}", person.id,
        spec->identity_field, spec->identity_field, person.id, spec->title)));
  }
  if (channel == incident::Channel::kPagerDuty && providers.pagerduty->api_token.empty()) {
    // The Events API pages whoever the service's escalation policy names, not this person.
    return Fail(Error::Invalid(
        "PagerDuty reaches one person only through its REST API: set "
        "providers.pagerduty.api_token_file, from and requester_id (a test page through the "
        "Events API alone would go to whoever the service's escalation policy names)"));
  }
  MemorySlackThreads slack_threads;
  NotifierDeps own = deps;
  if (!own.slack_threads) own.slack_threads = &slack_threads;
  // No durable memory of responder requests: the test's dedup key is never used again.
  own.responder_requests = nullptr;
  std::shared_ptr<Notifier> notifier = spec->build(providers, own);
  if (!notifier) {
    return Fail(Error::Invalid(
        fmt::format("{} could not be set up from providers.{}", spec->title, channel.name())));
  }
  TestPageResult out;
  OutboxItem item;
  item.channel = channel;
  item.original_channel = channel;
  item.person_id = person.id;
  item.created_at = now;
  item.next_attempt_at = now;
  item.request = TestPageRequest(person, *spec, options.sev, now);
  out.incident_id = item.request.incident_id;
  out.dedup_key = item.request.dedup_key;
  for (const auto& [kind, target] : Operations(*spec, person)) {
    item.kind = kind;
    item.target = target;
    for (int attempt = 1; attempt <= std::max(1, options.max_attempts); ++attempt) {
      item.attempts = attempt - 1;
      DeliveryResult r = notifier->Deliver(item);
      bool again = r.outcome == DeliveryResult::Outcome::kRetry && attempt < options.max_attempts;
      Duration pause = r.retry_after.value_or(std::chrono::seconds(2));
      out.attempts.push_back({kind, attempt, std::move(r)});
      if (!again) break;
      if (options.wait) options.wait(std::min<Duration>(pause, std::chrono::seconds(30)));
    }
    // A later operation (Twilio's call after its SMS) is still worth trying: each says for
    // itself whether it reached the person.
  }
  return out;
}

}  // namespace tocsin::notify

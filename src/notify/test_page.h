#pragma once

#include <functional>
#include <string>
#include <vector>

#include "notify/provider_registry.h"
#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/config/config.h"
#include "tocsin/incident/page.h"
#include "tocsin/notify/notifier.h"
#include "tocsin/oncall/person.h"

namespace tocsin::notify {

// `tocsin notify test`: one clearly marked test page to one person through one provider,
// delivered directly (no incident is opened, nothing goes through the daemon's outbox), so a
// team can see that a person's roster ids work before a real page needs them.

// What one provider request of the test page came to.
struct TestPageAttempt {
  std::string kind;  // the provider operation: "page", "post", "sms", "call"
  int attempt = 1;
  DeliveryResult result;
};

struct TestPageResult {
  std::string incident_id;  // "TEST-..." (no such incident exists)
  std::string dedup_key;    // its own, never a real incident's
  std::vector<TestPageAttempt> attempts;
  // Every operation's last attempt was accepted.
  bool ok() const;
};

struct TestPageOptions {
  incident::Sev sev = incident::Sev::kSev1;
  int max_attempts = 3;  // per operation, for answers worth retrying (429, 5xx, network)
  // Waits between attempts (the caller's real sleep; tests pass one that returns at once).
  std::function<void(Duration)> wait;
};

// The marked request: title "TEST — ...", incident "TEST-<ms>", state "test", a dedup key of
// its own ("tocsin-test-<person>-<provider>-<ms>"), the person as the only target.
incident::PageRequest TestPageRequest(const oncall::Person& person, const ProviderSpec& provider,
                                      incident::Sev sev, TimePoint now);

// Checks that `channel` is configured and reaches `person` (an error naming the config key or
// roster key to add otherwise), then sends the test page and returns every answer. An error
// means nothing was sent.
Result<TestPageResult> SendTestPage(const config::ProvidersConfig& providers,
                                    const NotifierDeps& deps, incident::Channel channel,
                                    const oncall::Person& person, TimePoint now,
                                    const TestPageOptions& options);

}  // namespace tocsin::notify

#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/http/incident_commands.h"
#include "tocsin/http/router.h"

namespace prometheus {
class Registry;
}

namespace tocsin {
class HttpClient;
}

namespace tocsin::store {
class Database;
}

namespace tocsin::http {

struct InboundConfig {
  std::string slack_signing_secret;  // empty: the Slack endpoints answer 404
  std::string slash_command = "/tocsin";
  std::vector<std::string> pagerduty_secrets;  // empty: the PagerDuty webhook answers 404
  std::string opsgenie_webhook_token;          // empty: the Opsgenie webhook answers 404
  Duration replay_window = std::chrono::minutes(5);
};

// Remembers which webhook deliveries were processed, so an at-least-once delivery acts once.
// The SQLite implementation keeps them across restarts (providers retry for up to 48 h).
class DeliveryLog {
 public:
  virtual ~DeliveryLog() = default;
  // True if (provider, id) was already recorded; records it otherwise.
  virtual bool SeenBefore(const std::string& provider, const std::string& id, TimePoint now) = 0;
};
std::unique_ptr<DeliveryLog> MakeMemoryDeliveryLog();
// Table inbound_deliveries (module "http"); rows older than 72 h are pruned as it goes.
Result<std::unique_ptr<DeliveryLog>> MakeSqliteDeliveryLog(store::Database& db);

// The endpoints through which people act on incidents from where they are:
//   POST /slack/interactivity   Acknowledge / Resolve / Escalate buttons
//   POST /slack/command         the slash command: ack, resolve, who, status, incidents, silence
//   POST /webhooks/pagerduty    PagerDuty v3 webhooks (acks and resolves done in PagerDuty)
//   POST /webhooks/opsgenie     Opsgenie outgoing webhooks
// Every request is authenticated before anything changes (Slack signature with replay window
// and replay cache, PagerDuty signature, Opsgenie shared token). Slack gets its 200 at once;
// the work runs on the next loop turn and its outcome goes back through `response_url`
// (ephemeral to the clicking user), posted off-loop. Loop thread only.
class InboundHandlers {
 public:
  // Posts a JSON body to a Slack response_url; runs on the executor.
  using ResponseUrlPoster = std::function<void(const std::string& url, const std::string& json)>;
  // Creates a silence from slash-command words ("silence 2h service=payments reason...");
  // returns the user-facing answer. Empty function: silences are not offered.
  using SilenceCommand =
      std::function<std::string(const std::vector<std::string>& words, const std::string& actor)>;

  InboundHandlers(InboundConfig config, IncidentCommands& incidents, PersonDirectory& people,
                  DeliveryLog& deliveries, Scheduler& scheduler, ResponseUrlPoster poster,
                  prometheus::Registry& registry);
  ~InboundHandlers();

  void SetConfig(InboundConfig config);
  void SetSilenceCommand(SilenceCommand command);
  void Register(Router& router);

  // For tests: the answer a slash command gets (what Slack would show).
  std::string RunSlashCommand(const std::vector<std::string>& words, const std::string& slack_user);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Default ResponseUrlPoster: POSTs with CurlHttpClient on `executor` (never on the loop).
InboundHandlers::ResponseUrlPoster MakeResponseUrlPoster(HttpClient& client, Executor& executor);

}  // namespace tocsin::http

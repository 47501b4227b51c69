#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tocsin/api/incident_commands.h"
#include "tocsin/common/clock.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/http/router.h"

namespace prometheus {
class Registry;
}

namespace tocsin {
class HttpClient;
}

namespace tocsin::http {

struct InboundConfig {
  std::string slack_signing_secret;  // empty: the Slack endpoints answer 404
  std::string slash_command = "/tocsin";
  std::vector<std::string> pagerduty_secrets;  // empty: the PagerDuty webhook answers 404
  std::string opsgenie_webhook_token;          // empty: the Opsgenie webhook answers 404
  std::string jsm_webhook_token;               // empty: the JSM webhook answers 404
  Duration replay_window = std::chrono::minutes(5);
};

// The endpoints through which people act on incidents from where they are:
//   POST /slack/interactivity   Acknowledge / Resolve / Escalate buttons
//   POST /slack/command         the slash command: ack, resolve, who, status, incidents, silence
//   POST /webhooks/pagerduty    PagerDuty v3 webhooks (acks and resolves done in PagerDuty)
//   POST /webhooks/opsgenie     Opsgenie outgoing webhooks
//   POST /webhooks/jsm          Jira Service Management Operations outgoing webhooks
// Every request is authenticated before anything changes (Slack signature with replay window,
// PagerDuty signature, Opsgenie and JSM shared token). Each request acts at most once, across
// restarts: its delivery key (the signed PagerDuty event id, the Opsgenie alert id, action and
// update time, the Slack signature) is stored with the effect through IncidentCommands, and a
// request whose key is stored is refused (Slack) or answered "duplicate" (providers).
// A provider webhook is acted on before it is answered: 200 with what happened (acted,
// unchanged, duplicate, unknown_incident, ignored), or 503 when the action failed, so the
// provider retries. Slack gets its 200 at once for a button click; the work runs on the next
// loop turn and its outcome goes back through `response_url` (ephemeral to the clicking user),
// posted off-loop. Loop thread only.
class InboundHandlers {
 public:
  // Posts a JSON body to a Slack response_url; runs on the executor.
  using ResponseUrlPoster = std::function<void(const std::string& url, const std::string& json)>;
  // Creates a silence from slash-command words ("silence 2h service=payments reason...");
  // gives `answer` the user-facing answer, once the silence is durable. Empty function:
  // silences are not offered.
  using SilenceCommand =
      std::function<void(const std::vector<std::string>& words, const std::string& actor,
                         std::function<void(std::string)> answer)>;

  InboundHandlers(InboundConfig config, IncidentCommands& incidents, PersonDirectory& people,
                  Scheduler& scheduler, ResponseUrlPoster poster, prometheus::Registry& registry);
  ~InboundHandlers();

  void SetConfig(InboundConfig config);
  void SetSilenceCommand(SilenceCommand command);
  void Register(Router& router);

  // For tests: the answer a slash command gets (what Slack would show), with IncidentCommands
  // that answer before returning (empty otherwise).
  std::string RunSlashCommand(const std::vector<std::string>& words, const std::string& slack_user);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Default ResponseUrlPoster: POSTs with CurlHttpClient on `executor` (never on the loop).
InboundHandlers::ResponseUrlPoster MakeResponseUrlPoster(HttpClient& client, Executor& executor);

}  // namespace tocsin::http

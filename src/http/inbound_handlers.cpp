#include "tocsin/http/inbound_handlers.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "tocsin/common/http_client.h"
#include "tocsin/http/inbound.h"
#include "tocsin/http/signatures.h"
#include "tocsin/store/database.h"

namespace tocsin::http {

std::string_view ActionOriginName(ActionOrigin o) {
  switch (o) {
    case ActionOrigin::kApi:
      return "api";
    case ActionOrigin::kCli:
      return "cli";
    case ActionOrigin::kSlack:
      return "slack";
    case ActionOrigin::kPagerDuty:
      return "pagerduty";
    case ActionOrigin::kOpsgenie:
      return "opsgenie";
  }
  return "api";
}

std::string_view IncidentActionName(IncidentAction a) {
  switch (a) {
    case IncidentAction::kAcknowledge:
      return "acknowledge";
    case IncidentAction::kResolve:
      return "resolve";
    case IncidentAction::kEscalate:
      return "escalate";
    case IncidentAction::kNote:
      return "note";
  }
  return "acknowledge";
}

namespace {

using nlohmann::json;

class MemoryDeliveryLog final : public DeliveryLog {
 public:
  bool SeenBefore(const std::string& provider, const std::string& id, TimePoint) override {
    return !seen_.insert(provider + "\n" + id).second;
  }

 private:
  std::set<std::string> seen_;
};

class SqliteDeliveryLog final : public DeliveryLog {
 public:
  explicit SqliteDeliveryLog(store::Database& db) : db_(db) {}
  bool SeenBefore(const std::string& provider, const std::string& id, TimePoint now) override {
    bool seen = false;
    auto r = db_.Transaction([&](store::Database& db) -> Result<void> {
      auto q = db.Prepare("SELECT 1 FROM inbound_deliveries WHERE provider = ? AND id = ?");
      if (!q) return Fail(q.error());
      q->Bind(1, provider).Bind(2, id);
      auto row = q->Step();
      if (!row) return Fail(row.error());
      if (*row) {
        seen = true;
        return {};
      }
      auto ins = db.Prepare("INSERT INTO inbound_deliveries(provider, id, seen_at) VALUES (?,?,?)");
      if (!ins) return Fail(ins.error());
      ins->Bind(1, provider).Bind(2, id).Bind(3, static_cast<std::int64_t>(ToUnixMillis(now)));
      if (auto e = ins->Run(); !e) return e;
      if (++inserts_ % 1000 == 0) {
        auto prune = db.Prepare("DELETE FROM inbound_deliveries WHERE seen_at < ?");
        if (!prune) return Fail(prune.error());
        prune->Bind(1, static_cast<std::int64_t>(ToUnixMillis(now) - 72LL * 3600 * 1000));
        return prune->Run();
      }
      return {};
    });
    if (!r) {
      // Failing open would act twice on a retried delivery; failing closed could drop one.
      // Acting twice is harmless (acks are idempotent), dropping is not: treat as new.
      spdlog::error("inbound: delivery log unavailable: {}", r.error().message());
      return false;
    }
    return seen;
  }

 private:
  store::Database& db_;
  std::uint64_t inserts_ = 0;
};

std::string Ephemeral(const std::string& text) {
  return json{{"response_type", "ephemeral"}, {"replace_original", false}, {"text", text}}.dump();
}

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

}  // namespace

std::unique_ptr<DeliveryLog> MakeMemoryDeliveryLog() {
  return std::make_unique<MemoryDeliveryLog>();
}

Result<std::unique_ptr<DeliveryLog>> MakeSqliteDeliveryLog(store::Database& db) {
  auto m = db.Migrate({{"http", 1,
                        "CREATE TABLE inbound_deliveries (provider TEXT NOT NULL, id TEXT NOT NULL,"
                        " seen_at INTEGER NOT NULL, PRIMARY KEY (provider, id));"
                        "CREATE INDEX inbound_deliveries_seen ON inbound_deliveries(seen_at);"}});
  if (!m) return Fail(m.error());
  return std::unique_ptr<DeliveryLog>(std::make_unique<SqliteDeliveryLog>(db));
}

InboundHandlers::ResponseUrlPoster MakeResponseUrlPoster(HttpClient& client, Executor& executor) {
  return [&client, &executor](const std::string& url, const std::string& body) {
    executor.Submit([&client, url, body] {
      HttpClientRequest req;
      req.method = "POST";
      req.url = url;
      req.headers = {{"Content-Type", "application/json"}};
      req.body = body;
      req.timeout = std::chrono::seconds(5);
      auto r = client.Send(req);
      // response_url carries a token of its own: never log it.
      if (!r) {
        spdlog::warn("slack: answering through response_url failed: {}",
                     r.error().kind() == Error::Kind::kTransient ? "network error" : "error");
      } else if (r->status / 100 != 2) {
        spdlog::warn("slack: response_url answered HTTP {}", r->status);
      }
    });
  };
}

struct InboundHandlers::Impl {
  Impl(InboundConfig c, IncidentCommands& i, PersonDirectory& p, DeliveryLog& d, Scheduler& s,
       ResponseUrlPoster post, prometheus::Registry& registry)
      : config(std::move(c)),
        incidents(i),
        people(p),
        deliveries(d),
        scheduler(s),
        poster(std::move(post)),
        requests(prometheus::BuildCounter()
                     .Name("tocsin_inbound_requests_total")
                     .Help("Inbound Slack and provider webhook requests, by endpoint and outcome.")
                     .Register(registry)) {}

  void Count(const char* endpoint, const std::string& outcome) {
    requests.Add({{"endpoint", endpoint}, {"outcome", outcome}}).Increment();
  }

  // Checks the Slack signature and the replay cache. Returns a response to send when the
  // request must be refused.
  std::optional<Response> CheckSlack(const Request& req, const char* endpoint) {
    if (config.slack_signing_secret.empty()) {
      Count(endpoint, "not_configured");
      return Response::Text(404, "Slack is not configured (providers.slack.signing_secret)\n");
    }
    TimePoint now = scheduler.clock().Now();
    auto ts = req.Header("X-Slack-Request-Timestamp").value_or("");
    auto sig = req.Header("X-Slack-Signature").value_or("");
    auto check = VerifySlackSignature(ts, sig, req.body, config.slack_signing_secret, now,
                                      config.replay_window);
    if (check != SignatureCheck::kOk) {
      Count(endpoint, std::string(SignatureCheckName(check)));
      spdlog::warn("slack: refused {} from {}: {}", req.path, req.remote_address,
                   SignatureCheckName(check));
      return Response::Text(SignatureCheckStatus(check),
                            std::string(SignatureCheckName(check)) + "\n");
    }
    // A captured request replayed inside the window carries a valid signature: remember the
    // signatures seen until they would have expired anyway.
    for (auto it = seen_signatures.begin(); it != seen_signatures.end();) {
      it = it->second < now ? seen_signatures.erase(it) : std::next(it);
    }
    if (!seen_signatures.emplace(sig, now + config.replay_window * 2).second) {
      Count(endpoint, "replayed");
      spdlog::warn("slack: refused a replayed request from {}", req.remote_address);
      return Response::Text(401, "replayed request\n");
    }
    return std::nullopt;
  }

  std::string ActAndDescribe(const ActionRequest& request) {
    auto r = incidents.Act(request);
    if (!r) {
      if (r.error().kind() == Error::Kind::kUnauthorized) {
        return "You may not act on " + request.incident_ref + ": " + r.error().message();
      }
      if (r.error().kind() == Error::Kind::kNotFound) {
        return "No incident " + request.incident_ref + ". `" + config.slash_command +
               " incidents` lists the open ones.";
      }
      return "Could not " + std::string(IncidentActionName(request.action)) + " " +
             request.incident_ref + ": " + r.error().message();
    }
    std::string verb = request.action == IncidentAction::kAcknowledge ? "acknowledged"
                       : request.action == IncidentAction::kResolve   ? "resolved"
                       : request.action == IncidentAction::kEscalate  ? "escalated"
                                                                      : "noted";
    if (!r->changed && request.action == IncidentAction::kEscalate) {
      // The incident side ignores a repeated Escalate so a double click does not skip a step.
      return r->incident_id + " was escalated moments ago; nothing more was paged.";
    }
    if (!r->changed) return r->incident_id + " was already " + r->state + ".";
    return fmt::format("{} {}: {}", r->incident_id, verb, r->title);
  }

  void HandleInteractivity(const Request& req, Respond respond) {
    if (auto refused = CheckSlack(req, "slack_interactivity")) return respond(*refused);
    auto action = ParseSlackInteraction(req.body);
    if (!action) {
      Count("slack_interactivity", "malformed");
      return respond(Response::Text(400, action.error().message() + "\n"));
    }
    Count("slack_interactivity", "accepted");
    // Slack wants its answer within 3 s: answer now, act on the next loop turn.
    respond(Response::Text(200, ""));
    scheduler.Post([this, a = *action] {
      std::string answer;
      auto person = people.BySlackUserId(a.user_id);
      if (!person) {
        answer = "You (Slack user " + a.user_id +
                 ") are not in the tocsin roster, so tocsin cannot act for you. Ask the on-call "
                 "lead to add your slack_user_id to config/roster.yaml.";
      } else {
        IncidentAction act;
        if (a.action_id == "tocsin_ack") {
          act = IncidentAction::kAcknowledge;
        } else if (a.action_id == "tocsin_resolve") {
          act = IncidentAction::kResolve;
        } else if (a.action_id == "tocsin_escalate") {
          act = IncidentAction::kEscalate;
        } else {
          answer = "Unknown action " + a.action_id;
          if (!a.response_url.empty()) poster(a.response_url, Ephemeral(answer));
          return;
        }
        answer = ActAndDescribe({a.value, act, person->id, ActionOrigin::kSlack, ""});
      }
      if (!a.response_url.empty()) poster(a.response_url, Ephemeral(answer));
    });
  }

  std::string Help() const {
    const std::string& c = config.slash_command;
    return "Usage:\n" + c + " ack INC-42 — acknowledge\n" + c + " resolve INC-42 — resolve\n" + c +
           " escalate INC-42 — page the next step now\n" + c +
           " note INC-42 text… — add to the timeline\n" + c + " who [team] — who is on call\n" + c +
           " incidents — open incidents\n" + c + " status — summary\n" + c +
           " silence DURATION matcher… [-- comment] — silence alerts";
  }

  std::string Slash(const std::vector<std::string>& words, const std::string& slack_user) {
    if (words.empty() || words[0] == "help") return Help();
    const std::string& verb = words[0];
    if (verb == "who") return Who(words.size() > 1 ? words[1] : "");
    if (verb == "incidents" || verb == "status") {
      auto open = incidents.OpenIncidents();
      if (verb == "status") {
        std::size_t acked = 0;
        for (const auto& i : open) acked += i.state == "acknowledged";
        std::string out =
            fmt::format("{} open incident(s), {} acknowledged.\n", open.size(), acked);
        return out + Who("");
      }
      if (open.empty()) return "No open incidents.";
      std::string out;
      for (const auto& i : open) {
        out += fmt::format("{} SEV-{} {} — {} (since {})\n", i.id, i.sev, i.state, i.title,
                           i.opened_at);
      }
      return out;
    }
    auto person = people.BySlackUserId(slack_user);
    if (!person) {
      return "You (Slack user " + slack_user +
             ") are not in the tocsin roster; only rostered people can change incidents or "
             "silences.";
    }
    if (verb == "silence") {
      if (!silence_command) return "Silences are not available here.";
      return silence_command(std::vector<std::string>(words.begin() + 1, words.end()), person->id);
    }
    static const std::map<std::string, IncidentAction> kVerbs = {
        {"ack", IncidentAction::kAcknowledge},
        {"acknowledge", IncidentAction::kAcknowledge},
        {"resolve", IncidentAction::kResolve},
        {"escalate", IncidentAction::kEscalate},
        {"note", IncidentAction::kNote}};
    auto it = kVerbs.find(verb);
    if (it == kVerbs.end()) return "Unknown command \"" + verb + "\".\n" + Help();
    if (words.size() < 2)
      return "Which incident? e.g. `" + config.slash_command + " " + verb + " INC-42`";
    std::string text;
    for (std::size_t i = 2; i < words.size(); ++i) text += (text.empty() ? "" : " ") + words[i];
    if (it->second == IncidentAction::kNote && text.empty()) return "A note needs text.";
    return ActAndDescribe({Upper(words[1]), it->second, person->id, ActionOrigin::kSlack, text});
  }

  std::string Who(const std::string& team) {
    auto lines = people.WhoIsOnCall(team);
    if (lines.empty())
      return team.empty() ? "Nobody is on call!" : "No team \"" + team + "\" on call.";
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }

  void HandleSlash(const Request& req, Respond respond) {
    if (auto refused = CheckSlack(req, "slack_command")) return respond(*refused);
    auto cmd = ParseSlashCommand(req.body);
    if (!cmd) {
      Count("slack_command", "malformed");
      return respond(Response::Text(400, cmd.error().message() + "\n"));
    }
    Count("slack_command", "accepted");
    respond(Response::Json(200, Ephemeral(Slash(cmd->words, cmd->user_id))));
  }

  void ApplyProviderEvent(const ProviderIncidentEvent& e, ActionOrigin origin) {
    if (e.action != "acknowledge" && e.action != "resolve") return;
    ActionRequest r{
        e.incident_key,
        e.action == "acknowledge" ? IncidentAction::kAcknowledge : IncidentAction::kResolve,
        e.provider + ":" + (e.actor.empty() ? "unknown" : e.actor), origin, ""};
    auto out = incidents.Act(r);
    if (!out) {
      spdlog::info("{}: {} for {} not applied: {}", e.provider, e.action, e.incident_key,
                   out.error().message());
    }
  }

  void HandlePagerDuty(const Request& req, Respond respond) {
    if (config.pagerduty_secrets.empty()) {
      Count("pagerduty", "not_configured");
      return respond(Response::Text(404,
                                    "PagerDuty webhooks are not configured "
                                    "(providers.pagerduty.webhook_secret)\n"));
    }
    auto check = VerifyPagerDutySignature(req.Header("X-PagerDuty-Signature").value_or(""),
                                          req.body, config.pagerduty_secrets);
    if (check != SignatureCheck::kOk) {
      Count("pagerduty", std::string(SignatureCheckName(check)));
      spdlog::warn("pagerduty: refused webhook from {}: {}", req.remote_address,
                   SignatureCheckName(check));
      return respond(Response::Text(SignatureCheckStatus(check),
                                    std::string(SignatureCheckName(check)) + "\n"));
    }
    auto event = ParsePagerDutyWebhook(req.body, req.Header("X-Webhook-Id").value_or(""));
    if (!event) {
      Count("pagerduty", "malformed");
      return respond(Response::Text(400, event.error().message() + "\n"));
    }
    if (!event->delivery_id.empty() &&
        deliveries.SeenBefore("pagerduty", event->delivery_id, scheduler.clock().Now())) {
      Count("pagerduty", "duplicate");
      return respond(Response::Text(202, "duplicate delivery ignored\n"));
    }
    // Acting here, before answering, makes the ack durable before PagerDuty stops retrying.
    ApplyProviderEvent(*event, ActionOrigin::kPagerDuty);
    Count("pagerduty", "accepted");
    respond(Response::Text(202, "accepted\n"));
  }

  void HandleOpsgenie(const Request& req, Respond respond) {
    if (config.opsgenie_webhook_token.empty()) {
      Count("opsgenie", "not_configured");
      return respond(Response::Text(404,
                                    "Opsgenie webhooks are not configured "
                                    "(providers.opsgenie.webhook_token)\n"));
    }
    std::string token = req.Header("X-Tocsin-Token").value_or(req.Query("token").value_or(""));
    if (token.empty()) {
      Count("opsgenie", "missing token");
      return respond(Response::Text(401, "missing X-Tocsin-Token\n"));
    }
    if (!ConstantTimeEquals(token, config.opsgenie_webhook_token)) {
      Count("opsgenie", "token mismatch");
      return respond(Response::Text(403, "token mismatch\n"));
    }
    auto event = ParseOpsgenieWebhook(req.body);
    if (!event) {
      Count("opsgenie", "malformed");
      return respond(Response::Text(400, event.error().message() + "\n"));
    }
    if (deliveries.SeenBefore("opsgenie", event->delivery_id, scheduler.clock().Now())) {
      Count("opsgenie", "duplicate");
      return respond(Response::Text(202, "duplicate delivery ignored\n"));
    }
    ApplyProviderEvent(*event, ActionOrigin::kOpsgenie);
    Count("opsgenie", "accepted");
    respond(Response::Text(202, "accepted\n"));
  }

  InboundConfig config;
  IncidentCommands& incidents;
  PersonDirectory& people;
  DeliveryLog& deliveries;
  Scheduler& scheduler;
  ResponseUrlPoster poster;
  SilenceCommand silence_command;
  prometheus::Family<prometheus::Counter>& requests;
  std::map<std::string, TimePoint> seen_signatures;
};

InboundHandlers::InboundHandlers(InboundConfig config, IncidentCommands& incidents,
                                 PersonDirectory& people, DeliveryLog& deliveries,
                                 Scheduler& scheduler, ResponseUrlPoster poster,
                                 prometheus::Registry& registry)
    : impl_(std::make_unique<Impl>(std::move(config), incidents, people, deliveries, scheduler,
                                   std::move(poster), registry)) {}

InboundHandlers::~InboundHandlers() = default;

void InboundHandlers::SetConfig(InboundConfig config) { impl_->config = std::move(config); }
void InboundHandlers::SetSilenceCommand(SilenceCommand command) {
  impl_->silence_command = std::move(command);
}

void InboundHandlers::Register(Router& router) {
  Impl* impl = impl_.get();
  // Public at the API guard, signed in the handler: each verifies its provider's signature or
  // token before anything changes.
  router.Add("POST", "/slack/interactivity", Access::kSigned,
             [impl](const Request& r, Respond respond) { impl->HandleInteractivity(r, respond); });
  router.Add("POST", "/slack/command", Access::kSigned,
             [impl](const Request& r, Respond respond) { impl->HandleSlash(r, respond); });
  router.Add("POST", "/webhooks/pagerduty", Access::kSigned,
             [impl](const Request& r, Respond respond) { impl->HandlePagerDuty(r, respond); });
  router.Add("POST", "/webhooks/opsgenie", Access::kSigned,
             [impl](const Request& r, Respond respond) { impl->HandleOpsgenie(r, respond); });
}

std::string InboundHandlers::RunSlashCommand(const std::vector<std::string>& words,
                                             const std::string& slack_user) {
  return impl_->Slash(words, slack_user);
}

}  // namespace tocsin::http

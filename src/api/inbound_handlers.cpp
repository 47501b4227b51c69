#include "tocsin/api/inbound_handlers.h"

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "provider_webhooks.h"
#include "tocsin/api/inbound.h"
#include "tocsin/common/crypto.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/json.h"
#include "tocsin/common/text.h"
#include "tocsin/http/signatures.h"

namespace tocsin::http {

namespace {

using nlohmann::json;

std::string Ephemeral(const std::string& text) {
  return DumpJson(
      json{{"response_type", "ephemeral"}, {"replace_original", false}, {"text", text}});
}

}  // namespace

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
  Impl(InboundConfig c, IncidentCommands& i, PersonDirectory& p, Scheduler& s,
       ResponseUrlPoster post, prometheus::Registry& registry)
      : config(std::move(c)),
        incidents(i),
        people(p),
        scheduler(s),
        poster(std::move(post)),
        requests(prometheus::BuildCounter()
                     .Name("tocsin_inbound_requests_total")
                     .Help("Inbound Slack and provider webhook requests, by endpoint and outcome.")
                     .Register(registry)) {}

  void Count(const char* endpoint, const std::string& outcome) {
    requests.Add({{"endpoint", endpoint}, {"outcome", outcome}}).Increment();
  }

  Response Refuse(const char* endpoint, SignatureCheck check, const Request& req) {
    return refusals.Refuse(endpoint, check, req);
  }

  // Before the body (Router::Screen) and again in the handler: configured, both header fields
  // there and well-formed, the timestamp inside the replay window.
  std::optional<Response> ScreenSlack(const Request& req, const char* endpoint) {
    if (config.slack_signing_secret.empty()) {
      Count(endpoint, "not_configured");
      return Response::Text(404, "Slack is not configured (providers.slack.signing_secret)\n");
    }
    auto check = ScreenSlackHeaders(req.Header("X-Slack-Request-Timestamp").value_or(""),
                                    req.Header("X-Slack-Signature").value_or(""),
                                    scheduler.clock().Now(), config.replay_window);
    if (check != SignatureCheck::kOk) return Refuse(endpoint, check, req);
    return std::nullopt;
  }

  // Checks the Slack signature, then that the request was not processed before: a captured
  // request replayed inside the window carries a valid signature, so the signature is the
  // request's delivery key, stored durably with what the request did (a replay after a restart
  // is refused too). Returns a response to send when the request must be refused; otherwise
  // `key` is the request's delivery key, in flight until Done(key).
  std::optional<Response> CheckSlack(const Request& req, const char* endpoint, DeliveryKey& key) {
    if (auto refused = ScreenSlack(req, endpoint)) return refused;
    TimePoint now = scheduler.clock().Now();
    auto ts = req.Header("X-Slack-Request-Timestamp").value_or("");
    auto sig = req.Header("X-Slack-Signature").value_or("");
    auto check = VerifySlackSignature(ts, sig, req.body, config.slack_signing_secret, now,
                                      config.replay_window);
    if (check != SignatureCheck::kOk) return Refuse(endpoint, check, req);
    // The key is the signature as verified, without the blanks the check tolerates around it:
    // a replay with a space added is the same request.
    std::string_view verified = sig;
    verified.remove_prefix(std::min(verified.size(), verified.find_first_not_of(" \t")));
    verified = verified.substr(0, verified.find_last_not_of(" \t") + 1);
    key = DeliveryKey{"slack", std::string(verified)};
    bool replayed = in_flight.count(key.id) > 0;
    if (!replayed) {
      auto seen = incidents.Processed(key);
      if (!seen) {
        Count(endpoint, "failed");
        spdlog::error("slack: cannot check {} for a replay: {}", req.path, seen.error().message());
        return Response::Text(503,
                              "tocsin cannot check this request for a replay right now; nothing "
                              "was done\n");
      }
      replayed = *seen;
    }
    if (replayed) {
      Count(endpoint, "replayed");
      refusals.Log(endpoint, "a replayed request", req);
      return Response::Text(401, "replayed request\n");
    }
    in_flight.insert(key.id);
    return std::nullopt;
  }

  void Done(const DeliveryKey& key) { in_flight.erase(key.id); }

  // Records a Slack request that asks for nothing Act does (who, status, a silence, a
  // refusal), so that its replay is refused; the answer when it cannot be recorded.
  // The answer to a Slack request, given once the store has answered (never blocking the loop).
  using Answer = std::function<void(std::string)>;

  // Calls `then` with nothing once recorded (or when there is no key), or with the answer.
  void Claim(const std::optional<DeliveryKey>& key,
             std::function<void(std::optional<std::string>)> then) {
    if (!key) return then(std::nullopt);
    incidents.RecordProcessedAsync(*key, [then](Result<void> r) {
      if (r) return then(std::nullopt);
      if (r.error().kind() == Error::Kind::kConflict) {
        return then("This request was already handled; nothing was done again.");
      }
      spdlog::error("slack: cannot record a request: {}", r.error().message());
      then("tocsin could not record this request (" + r.error().message() +
           "), so nothing was done. Try again.");
    });
  }

  // Claims `key`, then answers `text` (or the refusal).
  void ClaimThenAnswer(const std::optional<DeliveryKey>& key, std::string text, Answer answer) {
    Claim(key, [text = std::move(text), answer](std::optional<std::string> refused) {
      answer(refused ? *refused : text);
    });
  }

  void ActAndDescribe(const ActionRequest& request, Answer answer) {
    incidents.ActAsync(request, [this, request, answer](Result<ActionOutcome> r) {
      answer(Describe(request, r));
    });
  }

  std::string Describe(const ActionRequest& request, const Result<ActionOutcome>& r) const {
    if (r && r->duplicate) return "This request was already handled; nothing was done again.";
    if (!r) {
      if (r.error().kind() == Error::Kind::kUnauthorized) {
        return "You may not act on " + request.incident_ref + ": " + r.error().message();
      }
      if (r.error().kind() == Error::Kind::kNotFound) {
        return "No incident " + request.incident_ref + ". `" + config.slash_command +
               " incidents` lists the open ones.";
      }
      const bool retry =
          r.error().kind() == Error::Kind::kIo || r.error().kind() == Error::Kind::kTransient;
      return "Could not " + std::string(IncidentActionName(request.action)) + " " +
             request.incident_ref + ": " + r.error().message() + ". Nothing was changed" +
             (retry ? "; try again." : ".");
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
    DeliveryKey key;
    if (auto refused = CheckSlack(req, "slack_interactivity", key)) return respond(*refused);
    auto action = ParseSlackInteraction(req.body);
    if (!action) {
      Done(key);
      Count("slack_interactivity", "malformed");
      return respond(Response::Text(400, action.error().message() + "\n"));
    }
    Count("slack_interactivity", "accepted");
    // Slack wants its answer within 3 s: answer now, act on the next loop turn. The outcome,
    // failures included, reaches the person through response_url.
    respond(Response::Text(200, ""));
    scheduler.Post([this, a = *action, key] {
      Click(a, key, [this, url = a.response_url, key](std::string answer) {
        Done(key);
        if (!url.empty()) poster(url, Ephemeral(answer));
      });
    });
  }

  void Click(const SlackAction& a, const DeliveryKey& key, Answer answer) {
    auto person = people.BySlackUserId(a.user_id);
    if (!person) {
      return ClaimThenAnswer(
          key,
          "You (Slack user " + a.user_id +
              ") are not in the tocsin roster, so tocsin cannot act for you. Ask the on-call "
              "lead to add your slack_user_id to config/roster.yaml.",
          answer);
    }
    static const std::map<std::string, IncidentAction> kButtons = {
        {"tocsin_ack", IncidentAction::kAcknowledge},
        {"tocsin_resolve", IncidentAction::kResolve},
        {"tocsin_escalate", IncidentAction::kEscalate}};
    auto it = kButtons.find(a.action_id);
    if (it == kButtons.end()) return ClaimThenAnswer(key, "Unknown action " + a.action_id, answer);
    ActAndDescribe({a.value, it->second, person->id, ActionOrigin::kSlack, "", key}, answer);
  }

  std::string Help() const {
    const std::string& c = config.slash_command;
    return "Usage:\n" + c + " ack INC-42 — acknowledge\n" + c + " resolve INC-42 — resolve\n" + c +
           " escalate INC-42 — page the next step now\n" + c +
           " note INC-42 text… — add to the timeline\n" + c + " who [team] — who is on call\n" + c +
           " incidents — open incidents\n" + c + " status — summary\n" + c +
           " silence DURATION matcher… [-- comment] — silence alerts";
  }

  // The answer to a slash command. `key`, when given, is the request's delivery key: stored
  // with the incident change it causes, or alone (first) for anything else.
  void Slash(const std::vector<std::string>& words, const std::string& slack_user,
             const std::optional<DeliveryKey>& key, Answer answer) {
    static const std::map<std::string, IncidentAction> kVerbs = {
        {"ack", IncidentAction::kAcknowledge},
        {"acknowledge", IncidentAction::kAcknowledge},
        {"resolve", IncidentAction::kResolve},
        {"escalate", IncidentAction::kEscalate},
        {"note", IncidentAction::kNote}};
    auto action = words.empty() ? kVerbs.end() : kVerbs.find(words[0]);
    auto person = people.BySlackUserId(slack_user);
    if (action == kVerbs.end() || !person || words.size() < 2) {
      // Asks for nothing Act does: claimed first, then answered.
      return Claim(key, [this, words, slack_user, answer](std::optional<std::string> refused) {
        if (refused) return answer(*refused);
        // A silence is answered once it is durable; the other answers are read at once.
        auto who = people.BySlackUserId(slack_user);
        if (!words.empty() && words[0] == "silence" && who && silence_command) {
          return silence_command(std::vector<std::string>(words.begin() + 1, words.end()), who->id,
                                 answer);
        }
        answer(SlashAnswer(words, slack_user));
      });
    }
    std::string text;
    for (std::size_t i = 2; i < words.size(); ++i) text += (text.empty() ? "" : " ") + words[i];
    if (action->second == IncidentAction::kNote && text.empty())
      return answer("A note needs text.");
    ActAndDescribe(
        {AsciiUpper(words[1]), action->second, person->id, ActionOrigin::kSlack, text, key},
        answer);
  }

  // What a slash command that changes no incident answers (help, who, incidents, status,
  // silence, mistakes).
  std::string SlashAnswer(const std::vector<std::string>& words, const std::string& slack_user) {
    static const std::set<std::string> kIncidentVerbs = {"ack", "acknowledge", "resolve",
                                                         "escalate", "note"};
    auto person = people.BySlackUserId(slack_user);
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
    if (!person) {
      return "You (Slack user " + slack_user +
             ") are not in the tocsin roster; only rostered people can change incidents or "
             "silences.";
    }
    // With a silence command, Slash creates the silence; here only its absence is answered.
    if (verb == "silence") return "Silences are not available here.";
    if (!kIncidentVerbs.count(verb)) return "Unknown command \"" + verb + "\".\n" + Help();
    return "Which incident? e.g. `" + config.slash_command + " " + verb + " INC-42`";
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
    DeliveryKey key;
    if (auto refused = CheckSlack(req, "slack_command", key)) return respond(*refused);
    auto cmd = ParseSlashCommand(req.body);
    if (!cmd) {
      Done(key);
      Count("slack_command", "malformed");
      return respond(Response::Text(400, cmd.error().message() + "\n"));
    }
    Count("slack_command", "accepted");
    // Slack shows the person only a 200's body, so failures are answered there, saying that
    // nothing was done; Slack never re-sends a slash command, the person does.
    Slash(cmd->words, cmd->user_id, key, [this, key, respond](std::string answer) {
      Done(key);
      respond(Response::Json(200, Ephemeral(answer)));
    });
  }

  InboundConfig config;
  IncidentCommands& incidents;
  PersonDirectory& people;
  Scheduler& scheduler;
  ResponseUrlPoster poster;
  SilenceCommand silence_command;
  prometheus::Family<prometheus::Counter>& requests;
  // Slack requests verified and not yet done: a replay racing its original is refused too.
  std::set<std::string> in_flight;
  SignatureRefusals refusals{requests};
  ProviderWebhooks providers{config, incidents, requests, refusals};
};

InboundHandlers::InboundHandlers(InboundConfig config, IncidentCommands& incidents,
                                 PersonDirectory& people, Scheduler& scheduler,
                                 ResponseUrlPoster poster, prometheus::Registry& registry)
    : impl_(std::make_unique<Impl>(std::move(config), incidents, people, scheduler,
                                   std::move(poster), registry)) {}

InboundHandlers::~InboundHandlers() = default;

void InboundHandlers::SetConfig(InboundConfig config) { impl_->config = std::move(config); }
void InboundHandlers::SetSilenceCommand(SilenceCommand command) {
  impl_->silence_command = std::move(command);
}

void InboundHandlers::Register(Router& router) {
  Impl* impl = impl_.get();
  // Public at the API guard, signed in the handler: each verifies its provider's signature or
  // token before anything changes. Each screen answers before the body is read when the header
  // fields cannot pass.
  router.AddSigned(
      "POST", "/slack/interactivity",
      [impl](const Request& r) { return impl->ScreenSlack(r, "slack_interactivity"); },
      [impl](const Request& r, Respond respond) { impl->HandleInteractivity(r, respond); });
  router.AddSigned(
      "POST", "/slack/command",
      [impl](const Request& r) { return impl->ScreenSlack(r, "slack_command"); },
      [impl](const Request& r, Respond respond) { impl->HandleSlash(r, respond); });
  impl->providers.Register(router);
}

std::string InboundHandlers::RunSlashCommand(const std::vector<std::string>& words,
                                             const std::string& slack_user) {
  // Tests drive it with incident commands that answer at once.
  auto answer = std::make_shared<std::string>();
  impl_->Slash(words, slack_user, std::nullopt,
               [answer](std::string a) { *answer = std::move(a); });
  return *answer;
}

}  // namespace tocsin::http

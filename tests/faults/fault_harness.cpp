// The harness behind fault_injection_test.cpp (see fault_harness.h): the daemon's modules over
// one database file, "lives" that end in a simulated crash, and the outside world (an alert
// source re-sending, PagerDuty retrying webhooks, a person clicking again in Slack).
#include "fault_harness.h"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <prometheus/registry.h>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include <spdlog/spdlog.h>

#include "fakes/store/counting_fault_injector.h"
#include "incident/incident_test_support.h"
#include "notify/notifier_factory.h"
#include "notify/outbox.h"
#include "notify/sim_fixture.h"
#include "support/temp_dir.h"
#include "tocsin/api/inbound_handlers.h"
#include "tocsin/api/manager_incident_commands.h"
#include "tocsin/api/roster_person_directory.h"
#include "tocsin/common/crypto.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/simulated_scheduler.h"
#include "tocsin/common/worker_pool.h"
#include "tocsin/http/router.h"
#include "tocsin/http/signatures.h"
#include "tocsin/store/database.h"
#include "tocsin/store/sqlite_incident_store.h"
#include "tocsin/store/sqlite_outbox_store.h"

namespace tocsin::faults {

std::string ScenarioName(Scenario s) {
  switch (s) {
    case Scenario::kLadder:
      return "Ladder";
    case Scenario::kPagerDutyAck:
      return "PagerDutyAck";
    case Scenario::kSlackAck:
      return "SlackAck";
  }
  return "?";
}

namespace {

using nlohmann::json;
using std::chrono::minutes;
using std::chrono::seconds;
using store::StoreOp;
using store::testkit::CountingFaultInjector;

const char* kSlackSecret = "slack-signing-secret-for-fault-tests";
const char* kPdWebhookSecret = "pagerduty-webhook-secret-for-fault-tests";
const char* kRoutingKey = "0123456789abcdef0123456789abcdef";

// "INC-7" -> "INC-#": an incident number burnt by a failed open is not a page lost; the
// number of distinct incidents is checked separately.
std::string Normalize(const std::string& s) {
  static const std::regex kId("INC-[0-9]+");
  return std::regex_replace(s, kId, "INC-#");
}

// One life of the daemon: every module over one connection to the database file, on its own
// scheduler (a crash takes its timers and posted work with it).
class Life {
 public:
  Life(const std::string& db_path, TimePoint now, notify::testing::SimServer& sim,
       std::shared_ptr<const oncall::Schedule> schedule, const incident::PolicySet& policies,
       const incident::IncidentsConfig& incidents, store::FaultInjector* injector,
       std::vector<std::string>* slack_answers)
      : scheduler_(now) {
    ok_ = Start(db_path, sim, std::move(schedule), policies, incidents, injector, slack_answers);
  }
  ~Life() {
    if (db_) db_->SetFaultInjector(nullptr);
  }

  bool ok() const { return ok_; }
  SimulatedScheduler& scheduler() { return scheduler_; }
  incident::IncidentManager& manager() { return *manager_; }

  // The request as the HTTP server would hand it over; returns the status answered.
  int Handle(const std::string& path, const std::string& body, http::Headers headers) {
    http::Request req;
    req.method = "POST";
    req.target = path;
    req.path = path;
    req.body = body;
    req.headers = std::move(headers);
    req.remote_address = "127.0.0.1";
    auto match = router_.Find(req);
    if (match.handler == nullptr) return 404;
    int status = 0;
    (*match.handler)(req, [&status](http::Response r) { status = r.status; });
    return status;
  }

 private:
  // What `tocsin serve` does at start, in its order; false where it would exit (the test then
  // restarts it, as systemd would).
  bool Start(const std::string& db_path, notify::testing::SimServer& sim,
             std::shared_ptr<const oncall::Schedule> schedule, const incident::PolicySet& policies,
             const incident::IncidentsConfig& incidents, store::FaultInjector* injector,
             std::vector<std::string>* slack_answers) {
    store::DatabaseOptions options;
    // The fault model is a process crash, which WAL with synchronous=NORMAL survives; FULL
    // would only make the hundreds of runs slower.
    options.synchronous_full = false;
    auto db = store::Database::Open(db_path, options);
    if (!db) return false;
    db_ = std::move(*db);
    db_->SetFaultInjector(injector);
    outbox_store_ = std::make_unique<store::SqliteOutboxStore>(*db_);
    outbox_ = std::make_unique<notify::Outbox>(*outbox_store_, scheduler_, executor_, nullptr, 7);
    if (!outbox_->Open()) return false;
    config::ProvidersConfig p;
    p.pagerduty = config::PagerDutyConfig{sim.url(), kRoutingKey, kPdWebhookSecret};
    config::SlackConfig slack;
    slack.api_url = sim.url();
    slack.bot_token = "xoxb-fault-tests";
    slack.signing_secret = kSlackSecret;
    slack.channel = "#incidents";
    p.slack = slack;
    notify::NotifierDeps deps;
    deps.renderer = *notify::PageRenderer::Create({});
    deps.http = std::make_shared<CurlHttpClient>();
    deps.slack_threads = outbox_store_.get();
    notify::NotifyConfig nc;
    nc.jitter = 0;
    nc.failover.clear();
    outbox_->Configure(notify::BuildNotifiers(p, deps), nc);

    incident_store_ = std::make_unique<store::SqliteIncidentStore>(*db_);
    if (!incident_store_->Migrate()) return false;
    manager_ = std::make_unique<incident::IncidentManager>(scheduler_, *incident_store_, *outbox_,
                                                           schedule, policies, incidents);
    outbox_->SetObserver(manager_.get());
    if (!manager_->Start()) return false;

    commands_ = std::make_unique<incident::ManagerIncidentCommands>(*manager_, scheduler_.clock());
    people_ = std::make_unique<incident::RosterPersonDirectory>([schedule] { return schedule; },
                                                                scheduler_.clock());
    http::InboundConfig ic;
    ic.slack_signing_secret = kSlackSecret;
    ic.pagerduty_secrets = {kPdWebhookSecret};
    inbound_ = std::make_unique<http::InboundHandlers>(
        ic, *commands_, *people_, scheduler_,
        [slack_answers](const std::string&, const std::string& body) {
          slack_answers->push_back(json::parse(body).value("text", ""));
        },
        registry_);
    inbound_->Register(router_);
    return true;
  }

  SimulatedScheduler scheduler_;
  InlineExecutor executor_;
  prometheus::Registry registry_;
  bool ok_ = true;
  // Declared in construction order; destroyed in reverse, the database last.
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::SqliteOutboxStore> outbox_store_;
  std::unique_ptr<notify::Outbox> outbox_;
  std::unique_ptr<store::SqliteIncidentStore> incident_store_;
  std::unique_ptr<incident::IncidentManager> manager_;
  std::unique_ptr<incident::ManagerIncidentCommands> commands_;
  std::unique_ptr<incident::RosterPersonDirectory> people_;
  std::unique_ptr<http::InboundHandlers> inbound_;
  http::Router router_;
};

// The shared test roster, with a PagerDuty user for everyone: a person no configured channel
// reaches is not paged at all, and these scenarios page through PagerDuty.
std::string RosterReachableByPagerDuty() {
  std::istringstream in(incident::kTestRoster);
  std::string out;
  bool people = false;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line == "people:")
      people = true;
    else if (!line.empty() && line[0] != ' ')
      people = false;
    if (people && line.size() > 2 && line[2] != ' ' && line.back() == '}') {
      line.insert(line.size() - 1, ", pagerduty_user_id: PTEST" + std::to_string(++n));
    }
    out += line + "\n";
  }
  return out;
}

// Runs one scenario from start to end, with `injector` on the first life's database (nullptr:
// fault-free). Once the injector has fired, the daemon "crashes" at the end of that tick and
// a new life starts on the same file at the same moment.
class Harness {
 public:
  explicit Harness(Scenario scenario) : scenario_(scenario) {
    config::Diagnostics diags;
    auto roster = oncall::LoadRosterString("roster.yaml", RosterReachableByPagerDuty(), diags);
    EXPECT_TRUE(roster) << diags.ToString();
    schedule_ = std::make_shared<const oncall::Schedule>(*roster);
    policies_.policies["default"] = incident::DefaultPolicy();
    // With a person in the loop the incident is closed by that person, not by the alert.
    if (scenario != Scenario::kLadder) incidents_.resolve = incident::ResolveMode::kManual;
  }

  Outcome Run(CountingFaultInjector* injector) {
    Outcome out;
    const TimePoint t0 = ParseTime("2026-11-23T10:00:00Z").value();
    const TimePoint end = t0 + minutes(20);
    auto life = NewLife(t0, injector);
    bool crashed = false;
    for (TimePoint now = t0; now <= end; now += seconds(1)) {
      if (life->ok()) {
        life->scheduler().AdvanceTo(now);
        Drive(*life, now - t0, out, injector);
        life->scheduler().RunPending();
      } else if (injector == nullptr || !injector->fired()) {
        ADD_FAILURE() << "tocsin did not start, and no fault explains it";
        return out;
      }
      if (!crashed && injector != nullptr && injector->fired()) {
        crashed = true;
        out.log.push_back(fmt::format("t={}s: fault fired, restarting", (now - t0) / seconds(1)));
        life.reset();
        life = NewLife(now, nullptr);
        if (!life->ok()) {
          ADD_FAILURE() << "the restart after the fault failed";
          return out;
        }
      }
    }
    if (injector != nullptr) {
      out.writes = injector->writes();
      out.commits = injector->commits();
      out.fired = injector->fired();
      out.failed_sql = injector->failed_sql();
      out.lost_writes = injector->lost_writes();
    }
    Collect(out);
    return out;
  }

 private:
  std::unique_ptr<Life> NewLife(TimePoint now, store::FaultInjector* injector) {
    return std::make_unique<Life>(dir_.path() + "/tocsin.db", now, sim_, schedule_, policies_,
                                  incidents_, injector, &slack_answers_);
  }

  static dispatch::AlertGroup Group(bool firing) {
    dispatch::AlertGroup g;
    g.key = "payments-deposits";
    g.receiver.name = "oncall";
    g.receiver.escalation_policy = "default";
    Alert a;
    a.labels = Labels{{"alertname", "DepositSuccessLow"}, {"domain", "payments"}};
    a.severity = Severity::kCritical;
    a.annotations["summary"] = "Deposit success 97.2 % (SLO 99.85 %)";
    a.state = firing ? AlertState::kFiring : AlertState::kResolved;
    g.alerts.push_back(a);
    return g;
  }

  // The incident the providers know of (what PagerDuty and the Slack buttons send back).
  std::string LatestIncidentId() {
    std::string id;
    for (const auto& r : sim_.Requests("/v2/enqueue")) {
      if (r["status"] != 202) continue;
      auto b = json::parse(r["body"].get<std::string>());
      if (b["event_action"] == "trigger") id = b["dedup_key"].get<std::string>().substr(7);
    }
    return id;
  }

  // The outside world, once per simulated second.
  void Drive(Life& life, Duration t, Outcome& out, CountingFaultInjector* injector) {
    const bool on_minute = t % minutes(1) == Duration(0);
    const TimePoint now = life.scheduler().clock().Now();
    // The alert source (Prometheus through the dispatcher) re-sends firing alerts every
    // minute, and resolved ones for a few minutes after they resolve.
    const Duration firing_until = scenario_ == Scenario::kLadder ? minutes(12) : minutes(7);
    if (on_minute && t < firing_until) life.manager().OnGroupFlush(Group(true), now);
    if (on_minute && t >= firing_until && t < firing_until + minutes(3)) {
      life.manager().OnGroupFlush(Group(false), now);
    }
    if (scenario_ == Scenario::kPagerDutyAck) {
      DriveWebhook(life, t, minutes(6), "incident.acknowledged", "delivery-ack", out, injector);
      DriveWebhook(life, t, minutes(10) + seconds(30), "incident.resolved", "delivery-resolve", out,
                   injector);
    }
    if (scenario_ == Scenario::kSlackAck) {
      DriveSlack(life, t, minutes(6), "tocsin_ack", "acknowledged", out);
      DriveSlack(life, t, minutes(10) + seconds(30), "tocsin_resolve", "resolved", out);
    }
  }

  // PagerDuty delivers the webhook at `at` and retries every 30 s until it gets a 2xx.
  void DriveWebhook(Life& life, Duration t, Duration at, const std::string& type,
                    const std::string& delivery, Outcome& out, CountingFaultInjector* injector) {
    auto& state = webhooks_[delivery];
    if (state.done || t < at || t < state.next_try) return;
    json body = {{"event",
                  {{"id", delivery},
                   {"event_type", type},
                   {"agent", {{"summary", "L1 Day"}}},
                   {"data", {{"incident_key", "tocsin/" + LatestIncidentId()}}}}}};
    std::string text = body.dump();
    bool fired_before = injector != nullptr && injector->fired();
    int status =
        life.Handle("/webhooks/pagerduty", text,
                    {{"Content-Type", "application/json"},
                     {"X-Webhook-Id", delivery},
                     {"X-PagerDuty-Signature", "v1=" + HmacSha256Hex(kPdWebhookSecret, text)}});
    bool fired_now = injector != nullptr && !fired_before && injector->fired();
    out.log.push_back(fmt::format("t={}s: PagerDuty webhook {} answered {}{}", t / seconds(1),
                                  delivery, status, fired_now ? " (the fault fired in it)" : ""));
    if (status / 100 == 2) {
      state.done = true;
    } else {
      state.next_try = t + seconds(30);
    }
  }

  // A person clicks the button at `at`; unless Slack's answer says it worked within 30 s,
  // they click again.
  void DriveSlack(Life& life, Duration t, Duration at, const std::string& action,
                  const std::string& verb, Outcome& out) {
    auto& state = clicks_[action];
    if (state.done || t < at) return;
    for (; state.read < slack_answers_.size(); ++state.read) {
      const std::string& answer = slack_answers_[state.read];
      out.log.push_back(fmt::format("t={}s: Slack answered \"{}\"", t / seconds(1), answer));
      if (answer.find(" " + verb) != std::string::npos &&
          answer.find("Could not") == std::string::npos) {
        state.done = true;
        return;
      }
    }
    if (t < state.next_try) return;
    std::string id = LatestIncidentId();
    const TimePoint now = life.scheduler().clock().Now();
    json payload = {
        {"type", "block_actions"},
        {"user", {{"id", "U1"}, {"username", "l1a"}}},
        {"team", {{"id", "T1"}}},
        {"channel", {{"id", "C_INCIDENTS"}}},
        {"container", {{"message_ts", "1795312391.000200"}}},
        {"response_url", "https://hooks.slack.test/actions/1"},
        {"actions",
         {{{"action_id", action},
           {"value", id},
           {"action_ts", fmt::format("{}.{}", ToUnixMillis(now) / 1000, ++state.clicks)}}}}};
    std::string body = "payload=" + UrlEncode(payload.dump());
    std::string ts = std::to_string(ToUnixMillis(now) / 1000);
    int status = life.Handle(
        "/slack/interactivity", body,
        {{"Content-Type", "application/x-www-form-urlencoded"},
         {"X-Slack-Request-Timestamp", ts},
         {"X-Slack-Signature", "v0=" + HmacSha256Hex(kSlackSecret, "v0:" + ts + ":" + body)}});
    out.log.push_back(
        fmt::format("t={}s: Slack click {} on {} answered {}", t / seconds(1), action, id, status));
    state.next_try = t + seconds(30);
  }

  // The pages as the providers hold them.
  void Collect(Outcome& out) {
    auto add = [&out](const std::string& page) {
      std::string p = Normalize(page);
      out.pages.insert(p);
      out.requests[p]++;
    };
    for (const auto& r : sim_.Requests("/v2/enqueue")) {
      if (r["status"] != 202) continue;
      auto b = json::parse(r["body"].get<std::string>());
      std::string key = b["dedup_key"];
      out.incident_ids.insert(key);
      std::string page = fmt::format("pagerduty {} {}", b["event_action"].get<std::string>(), key);
      if (b["event_action"] == "trigger") {
        const auto& d = b["payload"]["custom_details"];
        page += fmt::format(" step {} paging {}", d["step"].dump(), d["paging"].dump());
      }
      add(page);
    }
    std::map<std::string, std::string> last_header;  // Slack message ts -> its last header
    for (const auto& r : sim_.Requests("/api/chat.postMessage")) {
      if (r["status"] != 200) continue;
      auto b = json::parse(r["body"].get<std::string>());
      if (b.contains("thread_ts")) {
        add("slack thread reply: " + b.value("text", ""));
      } else {
        add("slack message: " + b.value("text", ""));
      }
    }
    for (const auto& r : sim_.Requests("/api/chat.update")) {
      if (r["status"] != 200) continue;
      auto b = json::parse(r["body"].get<std::string>());
      last_header[b.value("ts", "")] = b["blocks"][0]["text"]["text"].get<std::string>();
    }
    // Updates coalesce (a newer one supersedes a pending one), so how many there were
    // depends on timing; what the message finally says does not.
    for (const auto& [ts, header] : last_header) {
      out.pages.insert("slack message finally reads: " + Normalize(header));
    }
  }

  struct WebhookState {
    bool done = false;
    Duration next_try{0};
  };
  struct ClickState {
    bool done = false;
    Duration next_try{0};
    std::size_t read = 0;
    int clicks = 0;
  };

  Scenario scenario_;
  notify::testing::SimServer sim_;
  tocsin::testing::TempDir dir_;
  std::shared_ptr<const oncall::Schedule> schedule_;
  incident::PolicySet policies_;
  incident::IncidentsConfig incidents_;
  std::vector<std::string> slack_answers_;
  std::map<std::string, WebhookState> webhooks_;
  std::map<std::string, ClickState> clicks_;
};

}  // namespace

Outcome RunScenario(Scenario scenario, store::testkit::CountingFaultInjector* injector) {
  Harness h(scenario);
  return h.Run(injector);
}

}  // namespace tocsin::faults

#include "ha/ha_cluster.h"

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/alert_json.h"
#include "support/files.h"
#include "support/ladder_roster.h"
#include "tocsin/common/duration.h"

namespace tocsin::ha::testing {

using namespace std::chrono_literals;
using nlohmann::json;

double WallMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool WaitUntil(SteadyClock::duration limit, const std::function<bool()>& ok) {
  for (auto until = SteadyClock::now() + limit; SteadyClock::now() < until;
       std::this_thread::sleep_for(50ms)) {  // the poll interval, not a timer wait
    if (ok()) return true;
  }
  return ok();
}

int SecondsFromEnvironment(const char* name, int fallback) {
  const char* s = std::getenv(name);
  return s != nullptr ? std::atoi(s) : fallback;
}

std::map<std::string, int> CountPages(const std::vector<Page>& pages) {
  std::map<std::string, int> out;
  for (const auto& p : pages) out[p.what]++;
  return out;
}

std::map<std::string, int> CountPagesAbout(const std::vector<Page>& pages) {
  std::map<std::string, int> out;
  for (const auto& p : pages) out[p.about]++;
  return out;
}

std::string Describe(const std::vector<Page>& pages) {
  std::string out;
  const double t0 = pages.empty() ? 0 : pages.front().at_ms;
  for (const auto& p : pages) out += fmt::format("  +{:.0f} ms {}\n", p.at_ms - t0, p.what);
  return out;
}

std::optional<store::StoreUrl> PgServer::Url() const {
  std::string text = tocsin::testing::ReadFile(dir_ + "/url");
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  auto url = store::ParseStoreUrl(text);
  if (!url) {
    ADD_FAILURE() << "no URL in " << dir_ << ": \"" << text << "\"";
    return std::nullopt;
  }
  std::string password = tocsin::testing::ReadFile(dir_ + "/password");
  while (!password.empty() && password.back() == '\n') password.pop_back();
  url->password = password;
  return *url;
}

std::string PgServer::port() const {
  std::string port = tocsin::testing::ReadFile(dir_ + "/port");
  while (!port.empty() && (port.back() == '\n' || port.back() == '\r')) port.pop_back();
  return port;
}

bool PgServer::Run(std::vector<std::string> args) {
  args.insert(args.begin(), TOCSIN_SOURCE_DIR "/scripts/pg-cluster");
  auto r = tocsin::testing::RunCommand(args);
  if (r.exit_code != 0) ADD_FAILURE() << "scripts/pg-cluster " << args[1] << ": " << r.err;
  return r.exit_code == 0;
}

PartitionProxy::PartitionProxy(const std::string& target_port, const std::string& dir,
                               const std::string& name) {
  const std::string port_file = dir + "/" + name + ".port";
  log_ = dir + "/" + name + ".log";
  process_ = std::make_unique<tocsin::testing::Process>(
      std::vector<std::string>{TOCSIN_SOURCE_DIR "/tests/support/partition_proxy.py", target_port,
                               port_file},
      std::vector<std::string>{}, log_);
  if (!WaitUntil(10s, [&] { return !tocsin::testing::ReadFile(port_file).empty(); })) {
    ADD_FAILURE() << "the partition proxy " << name << " did not start";
    return;
  }
  port_ = tocsin::testing::ReadFile(port_file);
  while (!port_.empty() && (port_.back() == '\n' || port_.back() == '\r')) port_.pop_back();
}

bool PartitionProxy::Cut() { return Change(SIGUSR1, "cut"); }

bool PartitionProxy::Heal() { return Change(SIGUSR2, "healed"); }

bool PartitionProxy::Change(int signo, const std::string& said) {
  auto times_said = [&] {
    std::istringstream lines(tocsin::testing::ReadFile(log_));
    int n = 0;
    for (std::string line; std::getline(lines, line);) n += line == said;
    return n;
  };
  const int before = times_said();
  if (!process_ || !process_->Signal(signo)) {
    ADD_FAILURE() << "the partition proxy is not running";
    return false;
  }
  if (!WaitUntil(5s, [&] { return times_said() > before; })) {
    ADD_FAILURE() << "the partition proxy did not say \"" << said << "\"";
    return false;
  }
  return true;
}

HaCluster::HaCluster(std::string dir, std::string name, store::StoreUrl store, std::string sim_url,
                     std::string routing_key, int lease_s, Ladder ladder)
    : dir_(std::move(dir)),
      name_(std::move(name)),
      store_(std::move(store)),
      sim_(std::move(sim_url)),
      routing_key_(std::move(routing_key)) {
  std::filesystem::create_directories(dir_);
  std::ofstream(dir_ + "/roster.yaml") << tocsin::testing::kLadderRoster;
  config_ = dir_ + "/tocsin.yaml";
  // A lease in seconds and a ladder in seconds, so that a failover happens between two steps.
  // idle_in_transaction_session_timeout: see docs/operations.md (a lease under 10 s).
  std::ofstream(config_) << fmt::format(
      R"(log: {{level: info}}
roster_file: roster.yaml
ha: {{cluster_name: {name}, lease: {lease}s}}
providers:
  pagerduty: {{events_url: "{sim}", routing_key: {key}}}
escalation_policies:
  default:
    steps:
      - {{after: 0s, targets: [{{role: l1}}], channels: [pagerduty]}}
      - {{after: {s2}s, targets: [{{role: "l2-{{domain}}"}}, {{role: comms}}], channels: [pagerduty]}}
      - {{after: {s3}s, targets: [{{role: duty-manager}}], channels: [pagerduty]}}
    default_domain: payments
route:
  receiver: oncall
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: oncall
    escalation_policy: default
)",
      fmt::arg("name", name_), fmt::arg("lease", lease_s), fmt::arg("sim", sim_),
      fmt::arg("key", routing_key_), fmt::arg("s2", ladder.step2_after_s),
      fmt::arg("s3", ladder.step3_after_s));
}

HaCluster::~HaCluster() = default;

HaCluster::Instance& HaCluster::Start(const std::string& name) {
  auto& slot = instances_[name];
  if (!slot) {
    slot = std::make_unique<Instance>();
    slot->name = name;
    slot->port = tocsin::testing::FreePort();
  }
  Instance& i = *slot;
  auto own = store_of_.find(name);
  const store::StoreUrl& url = own != store_of_.end() ? own->second : store_;
  i.process.reset();
  i.process = std::make_unique<tocsin::testing::Process>(
      std::vector<std::string>{TOCSIN_BINARY, "serve", "--config", config_, "--instance", name,
                               "--listen", "127.0.0.1:" + std::to_string(i.port), "--data-dir",
                               dir_ + "/data-" + name},
      std::vector<std::string>{"TOCSIN_STORE_URL=" + url.ToString(),
                               "TOCSIN_STORE_PASSWORD=" + url.password},
      fmt::format("{}/{}-{}.log", dir_, name, i.lives++));
  return i;
}

void HaCluster::SetStoreOf(const std::string& name, store::StoreUrl url) {
  store_of_[name] = std::move(url);
}

std::vector<std::string> HaCluster::Names() const {
  std::vector<std::string> out;
  for (const auto& [name, i] : instances_) out.push_back(name);
  return out;
}

std::optional<RoleView> HaCluster::Role(const std::string& name) {
  json j = GetJson(name, "/api/v1/ha");
  if (!j.is_object()) return std::nullopt;
  return RoleView{j.value("role", ""), j.value("epoch", std::int64_t{-1})};
}

std::optional<RoleView> HaCluster::WaitForRole(const std::string& name, const std::string& role,
                                               SteadyClock::duration within) {
  std::optional<RoleView> seen;
  WaitUntil(within, [&] {
    seen = Role(name);
    // Epoch 0: the instance has not read the lease yet.
    return seen && seen->role == role && seen->epoch > 0;
  });
  if (seen && seen->role == role && seen->epoch > 0) return seen;
  return std::nullopt;
}

std::string HaCluster::Active() {
  for (const auto& [name, i] : instances_) {
    if (!i->process || !i->process->running()) continue;
    if (auto r = Role(name); r && r->role == "active") return name;
  }
  return "";
}

std::map<std::string, long> HaCluster::PushAlert(const std::string& alertname) {
  std::map<std::string, long> out;
  for (const auto& [name, i] : instances_) {
    if (!i->process || !i->process->running()) continue;
    auto resp = PostAlert(name, alertname);
    out[name] = resp ? resp->status : 0;
  }
  return out;
}

std::optional<HttpClientResponse> HaCluster::PostAlert(const std::string& name,
                                                       const std::string& alertname,
                                                       bool resolved) {
  json alert = {{"labels",
                 {{"alertname", alertname},
                  {"severity", "critical"},
                  {"domain", "payments"},
                  {"service", "deposit"}}},
                {"annotations", {{"summary", "deposit success below SLO"}}}};
  if (resolved) tocsin::testing::AsResolvedNow(alert);
  HttpClientRequest r;
  r.method = "POST";
  r.url = fmt::format("http://127.0.0.1:{}/api/v2/alerts", instances_.at(name)->port);
  r.body = json::array({alert}).dump();
  r.headers = {{"Content-Type", "application/json"}};
  r.timeout = 2s;
  auto resp = client_.Send(r);
  if (!resp) return std::nullopt;
  return *resp;
}

json HaCluster::GetJson(const std::string& name, const std::string& path) {
  auto resp = Get(name, path);
  if (!resp || resp->status != 200) return json();
  return json::parse(resp->body, nullptr, false);
}

std::optional<HttpClientResponse> HaCluster::Get(const std::string& name, const std::string& path) {
  auto it = instances_.find(name);
  if (it == instances_.end()) return std::nullopt;
  HttpClientRequest r;
  r.url = fmt::format("http://127.0.0.1:{}{}", it->second->port, path);
  r.timeout = 2s;
  auto resp = client_.Send(r);
  if (!resp) return std::nullopt;
  return *resp;
}

std::vector<Page> HaCluster::Pages() {
  std::vector<Page> out;
  HttpClientRequest r;
  r.url = sim_ + "/_sim/requests?path=" + UrlEncode("/v2/enqueue");
  r.timeout = 5s;
  auto resp = client_.Send(r);
  if (!resp || resp->status != 200) return out;
  json all = json::parse(resp->body, nullptr, false);
  if (!all.is_array()) return out;
  for (const auto& req : all) {
    if (req.value("status", 0) != 202) continue;
    json b = json::parse(req.value("body", ""), nullptr, false);
    if (!b.is_object() || b.value("routing_key", "") != routing_key_) continue;
    Page p;
    p.what = b.value("event_action", "") + " " + b.value("dedup_key", "");
    p.about = p.what;
    if (b.value("event_action", "") == "trigger") {
      const json& d = b["payload"]["custom_details"];
      p.step = d.value("step", 0);
      const std::string rest =
          fmt::format(" step {} paging {}", p.step, d.value("paging", json()).dump());
      p.alert = b["payload"].value("class", "");
      p.about = "trigger " + p.alert + rest;
      p.what += rest;
    }
    p.at_ms = req.value("time_ms", 0.0);
    out.push_back(p);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Page& a, const Page& b) { return a.at_ms < b.at_ms; });
  return out;
}

std::optional<double> HaCluster::OpenedAtMs(const std::string& name, const std::string& incident) {
  json j = GetJson(name, "/api/v1/incidents/" + incident);
  if (!j.is_object() || !j.contains("incident")) return std::nullopt;
  auto t = ParseTime(j["incident"].value("opened_at", ""));
  if (!t) return std::nullopt;
  return static_cast<double>(ToUnixMillis(*t));
}

bool HaCluster::StoredSent(const std::string& name, std::size_t at_least) {
  json j = GetJson(name, "/api/v1/notifications?limit=500");
  if (!j.is_object() || !j["notifications"].is_array()) return false;
  std::size_t sent = 0;
  for (const auto& n : j["notifications"]) {
    if (n.value("state", "") == "pending") return false;
    sent += n.value("state", "") == "sent";
  }
  return sent >= at_least;
}

std::optional<std::size_t> HaCluster::PendingDeliveries(const std::string& name) {
  json j = GetJson(name, "/api/v1/notifications?state=pending&limit=500");
  if (!j.is_object() || !j["notifications"].is_array()) return std::nullopt;
  return j["notifications"].size();
}

std::optional<double> HaCluster::LoggedAtMs(const std::string& name, int life,
                                            const std::string& text) const {
  std::istringstream lines(
      tocsin::testing::ReadFile(fmt::format("{}/{}-{}.log", dir_, name, life)));
  for (std::string line; std::getline(lines, line);) {
    if (line.find(text) == std::string::npos) continue;
    // "2026-12-05T10:11:12.345Z warning ha: ..." (the text format's timestamp, in UTC)
    auto t = ParseTime(line.substr(0, line.find(' ')));
    if (!t) return std::nullopt;
    return static_cast<double>(ToUnixMillis(*t));
  }
  return std::nullopt;
}

std::string HaCluster::Logs() const {
  std::string out;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    if (entry.path().extension() != ".log") continue;
    // Without the roster's fairness warnings (the test roster keeps everyone on call for
    // weeks): they fill the start of every log and pushed what failed out of the tail shown.
    std::istringstream lines(tocsin::testing::ReadFile(entry.path().string()));
    std::string text;
    for (std::string line; std::getline(lines, line);) {
      if (line.find("roster.yaml: warning: [max-") == std::string::npos) text += line + "\n";
    }
    if (text.size() > 8000) text = "...\n" + text.substr(text.size() - 8000);
    out += "\n--- " + name_ + "/" + entry.path().filename().string() + " ---\n" + text;
  }
  return out;
}

}  // namespace tocsin::ha::testing

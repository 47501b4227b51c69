#pragma once

// Real `tocsin serve` processes of one HA cluster on one PostgreSQL store, and the pages the
// provider simulator received from them, for the failover tests (kill -9 mid-ladder, the
// database stopped). The cluster pages through PagerDuty at the simulator with a routing key
// of its own, so two clusters (a run with faults beside one without) share one simulator and
// their pages are told apart. Everything here polls with deadlines; nothing sleeps for a timer.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/process.h"
#include "support/sanitizer.h"
#include "tocsin/common/http_client.h"
#include "tocsin/store/store_url.h"

namespace tocsin::ha::testing {

using SteadyClock = std::chrono::steady_clock;

// Milliseconds since the Unix epoch by the wall clock (the simulator's clock for its records).
double WallMs();
// Polls `ok` every 50 ms until it holds or `limit` passes; returns its last answer.
bool WaitUntil(SteadyClock::duration limit, const std::function<bool()>& ok);

// A PagerDuty trigger as PagerDuty folds it ("trigger tocsin/INC-1 step 2 paging [...]"), and
// when the simulator received it.
struct Page {
  std::string what;
  // The same without the incident's id ("trigger DepositSuccessLow step 1 paging [...]"):
  // what a person was paged about, whichever incident number the store gave it.
  std::string about;
  std::string alert;  // the alert's name (the trigger's payload class)
  int step = 0;
  double at_ms = 0;
};
// "what" (or "about") -> how many times it was received.
std::map<std::string, int> CountPages(const std::vector<Page>& pages);
std::map<std::string, int> CountPagesAbout(const std::vector<Page>& pages);
std::string Describe(const std::vector<Page>& pages);

// The instance's answer to GET /api/v1/ha.
struct RoleView {
  std::string role;
  std::int64_t epoch = -1;
};

// The ladder every cluster here pages on (seconds after the incident opened).
struct Ladder {
  int step2_after_s = 6;
  int step3_after_s = 9;
};
// Only step 1 pages within a test: the alerts' own pages are what is counted.
inline constexpr Ladder kStepOneOnly{/*step2_after_s=*/600, /*step3_after_s=*/1200};
// The whole seconds in environment variable `name` (a longer run of a test), else `fallback`.
int SecondsFromEnvironment(const char* name, int fallback);
// How long the network cut of the partition tests lasts: TOCSIN_HA_PARTITION_SECONDS, else four
// leases.
inline int PartitionSeconds(int lease_seconds) {
  return SecondsFromEnvironment("TOCSIN_HA_PARTITION_SECONDS", 4 * lease_seconds);
}
// What a timing bound of these tests allows beyond the promise it checks.
#if defined(TOCSIN_ASAN)
inline constexpr double kSlackMs = 3000;  // every start and request runs several times slower
#else
inline constexpr double kSlackMs = 1000;  // a loaded CI machine
#endif

// A throwaway PostgreSQL server of a test's own (scripts/pg-cluster), so that stopping,
// crashing or promoting it disturbs no other test. Stopped and removed when destroyed.
class PgServer {
 public:
  explicit PgServer(std::string dir) : dir_(std::move(dir)) {}
  ~PgServer() { Run({"stop", dir_}); }
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;
  bool Start() { return Run({"start", dir_}); }
  // A new cluster in this one's directory, streaming from `primary` (running).
  bool StartReplicaOf(const PgServer& primary) { return Run({"replica", dir_, primary.dir_}); }
  bool Halt() { return Run({"halt", dir_}); }
  bool Crash() { return Run({"crash", dir_}); }
  bool Promote() { return Run({"promote", dir_}); }
  bool CommitSynchronously() { return Run({"sync", dir_}); }
  // Its URL with the password set; nullopt (and a test failure) when it has none.
  std::optional<store::StoreUrl> Url() const;
  std::string port() const;

 private:
  bool Run(std::vector<std::string> args);
  std::string dir_;
};

// tests/support/partition_proxy.py in front of 127.0.0.1:`target_port`: carries bytes until
// Cut(), then holds them without closing anything until Heal() (a partition, not a refusal).
class PartitionProxy {
 public:
  // Started, its port read; a test failure (and port() empty) when it did not start.
  PartitionProxy(const std::string& target_port, const std::string& dir, const std::string& name);
  const std::string& port() const { return port_; }
  // Each returns once the proxy says the change is in force (false, and a test failure, when
  // it does not within 5 s): nothing sent after Cut() gets through.
  bool Cut();
  bool Heal();

 private:
  bool Change(int signo, const std::string& said);
  std::unique_ptr<tocsin::testing::Process> process_;
  std::string log_;
  std::string port_;
};

class HaCluster {
 public:
  struct Instance {
    std::string name;
    unsigned short port = 0;
    std::unique_ptr<tocsin::testing::Process> process;
    int lives = 0;
  };

  // `dir`: this cluster's directory (config, logs, data dirs). `routing_key`: 32 characters.
  HaCluster(std::string dir, std::string name, store::StoreUrl store, std::string sim_url,
            std::string routing_key, int lease_s, Ladder ladder);
  ~HaCluster();

  // Starts (or restarts, on its port) instance `name`, up to its HTTP port accepting.
  Instance& Start(const std::string& name);
  // Instance `name` reaches the cluster's database at `url` (a proxy of its own) from its next
  // start on, instead of at the cluster's URL.
  void SetStoreOf(const std::string& name, store::StoreUrl url);
  // The instances started so far.
  std::vector<std::string> Names() const;
  Instance& instance(const std::string& name) { return *instances_.at(name); }
  std::optional<RoleView> Role(const std::string& name);
  // Polls until `name` reports `role` with the lease read (epoch > 0).
  std::optional<RoleView> WaitForRole(const std::string& name, const std::string& role,
                                      SteadyClock::duration within);
  // The name of the instance that reports active now, or "".
  std::string Active();

  // POSTs the alert (firing) to /api/v2/alerts of every running instance, as Prometheus does
  // with each of its Alertmanagers; returns instance -> HTTP status (0: no answer).
  std::map<std::string, long> PushAlert(const std::string& alertname);
  // The same to instance `name` alone: its whole answer (nullopt: none). `resolved`: its resolve
  // instead, as Prometheus sends one (endsAt a second ago).
  std::optional<HttpClientResponse> PostAlert(const std::string& name, const std::string& alertname,
                                              bool resolved = false);
  // GET `path` on instance `name`: the parsed body, or null when the answer was not 200.
  nlohmann::json GetJson(const std::string& name, const std::string& path);
  // The same, the whole answer (nullopt: none within 2 s).
  std::optional<HttpClientResponse> Get(const std::string& name, const std::string& path);

  // The PagerDuty triggers of this cluster that the simulator accepted (202), by time.
  std::vector<Page> Pages();
  // The incident's opening time (ms) as the instance `name` reads it from the store.
  std::optional<double> OpenedAtMs(const std::string& name, const std::string& incident);
  // Whether instance `name` lists no delivery still pending and at least `at_least` sent (as
  // stored in the database: the notifications API reads the outbox's rows).
  bool StoredSent(const std::string& name, std::size_t at_least);
  // The deliveries the outbox still has pending, as `name` reads them (nullopt: no answer).
  std::optional<std::size_t> PendingDeliveries(const std::string& name);

  // When run `life` (0: the first) of instance `name` logged its first line that contains
  // `text`: the line's own timestamp, in ms since the Unix epoch (nullopt: no such line).
  std::optional<double> LoggedAtMs(const std::string& name, int life,
                                   const std::string& text) const;
  // Every instance's log, for a failure message.
  std::string Logs() const;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::string name_;
  store::StoreUrl store_;
  std::string sim_;
  std::string routing_key_;
  std::string config_;
  std::map<std::string, std::unique_ptr<Instance>> instances_;
  std::map<std::string, store::StoreUrl> store_of_;
  CurlHttpClient client_;
};

}  // namespace tocsin::ha::testing

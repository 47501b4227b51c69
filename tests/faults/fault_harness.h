// The fault-injection harness of fault_injection_test.cpp: one scenario of the paging paths
// (ladder, PagerDuty webhook ack, Slack ack) run from start to end over the real SQLite store,
// outbox, notifiers and webhook handlers, with a store fault injector on the first life of the
// daemon and a restart on the same database file once it has fired.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "fakes/store/counting_fault_injector.h"

namespace tocsin::faults {

enum class Scenario { kLadder, kPagerDutyAck, kSlackAck };

std::string ScenarioName(Scenario s);

// What one run left behind: the pages as the providers hold them, and how they got there.
struct Outcome {
  std::set<std::string> pages;          // as the providers fold them
  std::map<std::string, int> requests;  // every accepted request, by the same description
  std::set<std::string> incident_ids;   // distinct incidents the providers heard of
  int writes = 0;                       // of the first life (the fault-free run: all)
  int commits = 0;
  bool fired = false;
  std::string failed_sql;
  std::vector<std::string> lost_writes;
  std::vector<std::string> log;  // what the outside world did, for failure messages
};

// Runs `scenario` from start to end, with `injector` on the first life's database (nullptr:
// fault-free). Once the injector has fired, the daemon "crashes" at the end of that tick and
// a new life starts on the same file at the same moment.
Outcome RunScenario(Scenario scenario, store::testkit::CountingFaultInjector* injector);

}  // namespace tocsin::faults

// tocsin incidents postmortem ID: the post-mortem draft, read from the incident store (no
// daemon needed) with its impact from the SLO's Prometheus source. Recording where the
// post-mortem is (--done URL) goes through the daemon (incidents_command.cpp).
#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "commands.h"
#include "tocsin/app/runtime_config.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/system_clock.h"
#include "tocsin/report/postmortem.h"
#include "tocsin/source/prometheus_client.h"
#include "tocsin/store/database.h"
#include "tocsin/store/sqlite_incident_store.h"

namespace tocsin::cli {

int RunPostmortemDraft(const PostmortemDraftOptions& o) {
  std::optional<app::RuntimeConfig> config;
  std::string db_path = o.database;
  std::string config_error;
  auto found = FindConfigPath(o.config);
  if (!found.path.empty()) {
    auto loaded = app::LoadRuntimeConfig(found.path, {});
    if (!loaded.config) {
      fmt::print(stderr, "{}", loaded.diagnostics.ToString());
      fmt::print(stderr, "(fix the configuration, or pass --database FILE without -c)\n");
      return kExitUsage;
    }
    config = std::move(loaded.config);
    if (db_path.empty()) db_path = config->store.path;
  } else if (db_path.empty()) {
    fmt::print(stderr, "tocsin: {} (or pass --database)\n", found.error);
    return kExitUsage;
  } else {
    config_error = found.error;
  }
  if (!std::filesystem::exists(db_path)) {
    fmt::print(stderr, "no database at {} (check store.path, or pass --database FILE)\n", db_path);
    return kExitUsage;
  }
  auto db = OpenIncidentDatabase(db_path);
  if (!db) return kExitUsage;
  store::SqliteIncidentStore incidents(*db);
  auto inc = incidents.Get(o.id);
  if (!inc || !*inc) {
    fmt::print(stderr, "no incident {} in {}{}\n", o.id, db_path,
               inc ? "" : ": " + inc.error().message());
    return kExitFailure;
  }
  auto timeline = incidents.Timeline(o.id);
  if (!timeline) {
    fmt::print(stderr, "reading the timeline of {}: {}\n", o.id, timeline.error().message());
    return kExitFailure;
  }
  report::PostmortemInput in;
  in.record = {**inc, *timeline};
  in.now = SystemClock().Now();
  if (report::SlosOf(**inc).empty()) {
    in.impact_unavailable =
        "the incident's alerts name no SLO (no `slo` label), so there is no SLI to measure it by.";
  } else if (!config) {
    in.impact_unavailable = fmt::format(
        "no configuration was read ({}), so the SLO's query and source are unknown.", config_error);
  } else {
    auto http = std::make_shared<CurlHttpClient>();
    std::map<std::string, std::unique_ptr<source::PrometheusClient>> clients;
    for (const auto& s : config->main.sources) {
      clients[s.name] = std::make_unique<source::PrometheusClient>(s, http);
    }
    in.impact = report::MeasureImpact(
        **inc, config->rules,
        [&](const std::string& name) -> source::SliSource* {
          auto it = clients.find(name);
          return it == clients.end() ? nullptr : it->second.get();
        },
        in.now);
  }
  std::string md = report::RenderPostmortem(in);
  if (o.out.empty()) {
    fmt::print("{}", md);
    return kExitOk;
  }
  std::ofstream file(o.out, std::ios::trunc);
  file << md;
  file.close();
  if (!file) {
    fmt::print(stderr, "cannot write {}\n", o.out);
    return kExitFailure;
  }
  fmt::print(stderr, "wrote the post-mortem draft of {} to {}\n", o.id, o.out);
  return kExitOk;
}

}  // namespace tocsin::cli

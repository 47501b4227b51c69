// tocsin report sla: what each provider owes in service credits for a calendar month, from
// the SLIs `providers_sla:` declares, read from Prometheus. Formulas: docs/reports.md.
#include <fmt/format.h>

#include "commands.h"
#include "tocsin/app/runtime_config.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/system_clock.h"
#include "tocsin/report/sla_telemetry.h"
#include "tocsin/source/prometheus_client.h"

namespace tocsin::cli {
namespace {

struct SlaOptions {
  std::string config;
  std::string month;
  std::string provider;
  std::string output = "text";
  std::string time_zone;  // instead of providers_sla.time_zone
};

int RunSla(const SlaOptions& o) {
  auto found = FindConfigPath(o.config);
  if (found.path.empty()) {
    fmt::print(stderr, "tocsin: {}\n", found.error);
    return kExitUsage;
  }
  auto loaded = app::LoadRuntimeConfig(found.path, {});
  if (!loaded.config) {
    fmt::print(stderr, "{}", loaded.diagnostics.ToString());
    return loaded.io_error ? kExitUsage : kExitFailure;
  }
  auto sla = loaded.config->sla;
  if (sla.providers.empty()) {
    fmt::print(stderr, "{} declares no providers under providers_sla: (see docs/reports.md)\n",
               found.path);
    return kExitUsage;
  }
  if (!o.time_zone.empty()) sla.time_zone = o.time_zone;
  const auto& sources = loaded.config->main.sources;
  auto src = std::find_if(sources.begin(), sources.end(), [&](const config::SourceConfig& s) {
    return sla.source.empty() || s.name == sla.source;
  });
  // LoadSlaConfig already rejects an unknown source and providers without any source.
  source::PrometheusClient client(*src, std::make_shared<CurlHttpClient>());
  auto report = report::BuildSlaReport(client, sla, o.month, o.provider, SystemClock().Now());
  if (!report) {
    fmt::print(stderr, "report sla: {}\n", report.error().message());
    return report.error().kind() == Error::Kind::kInvalid ||
                   report.error().kind() == Error::Kind::kNotFound
               ? kExitUsage
               : kExitFailure;
  }
  fmt::print("{}", o.output == "csv"    ? report::RenderSlaCsv(*report)
                   : o.output == "json" ? report::RenderSlaJson(*report)
                                        : report::RenderSlaText(*report));
  return kExitOk;
}

}  // namespace

void AddReportSlaCommand(CLI::App& report, int& exit_code) {
  auto o = std::make_shared<SlaOptions>();
  auto* sla = report.add_subcommand(
      "sla", "Provider SLA credits for a calendar month: availability, DSR, TTFS, webhook delay");
  sla->add_option("--month", o->month, "Calendar month, YYYY-MM")->required();
  sla->add_option("--provider", o->provider, "Only this provider (a providers_sla name)");
  sla->add_option("-o,--output", o->output, "text (CSV and the details), csv or json")
      ->check(CLI::IsMember({"text", "csv", "json"}))
      ->default_val("text");
  sla->add_option("--time-zone", o->time_zone,
                  "Zone of the calendar month instead of providers_sla.time_zone (IANA)");
  AddConfigOption(*sla, o->config, " (providers_sla, sources)");
  sla->callback([&exit_code, o] { exit_code = RunSla(*o); });
}

}  // namespace tocsin::cli

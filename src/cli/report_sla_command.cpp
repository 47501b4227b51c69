// tocsin report sla: what each provider owes in service credits for a calendar month, from
// the SLIs `providers_sla:` declares, read from Prometheus. Formulas: docs/reports.md.
#include <fmt/format.h>

#include "commands.h"
#include "tocsin/app/runtime_config.h"
#include "tocsin/common/http_client.h"
#include "tocsin/report/sla_telemetry.h"
#include "tocsin/source/prometheus_client.h"

namespace tocsin::cli {
namespace {

struct SlaOptions {
  std::string config = "/etc/tocsin/tocsin.yaml";
  std::string month;
  std::string provider;
  std::string output = "text";
  std::string time_zone;  // instead of providers_sla.time_zone
};

int RunSla(const SlaOptions& o) {
  auto loaded = app::LoadRuntimeConfig(o.config, {});
  if (!loaded.config) {
    fmt::print(stderr, "{}", loaded.diagnostics.ToString());
    return kExitUsage;
  }
  auto sla = loaded.config->sla;
  if (sla.providers.empty()) {
    fmt::print(stderr, "{} declares no providers under providers_sla: (see docs/reports.md)\n",
               o.config);
    return kExitUsage;
  }
  if (!o.time_zone.empty()) sla.time_zone = o.time_zone;
  const auto& sources = loaded.config->main.sources;
  auto src = std::find_if(sources.begin(), sources.end(), [&](const config::SourceConfig& s) {
    return sla.source.empty() || s.name == sla.source;
  });
  // LoadSlaConfig already rejects an unknown source and providers without any source.
  source::PrometheusClient client(*src, std::make_shared<CurlHttpClient>());
  auto report = report::BuildSlaReport(client, sla, o.month, o.provider);
  if (!report) {
    fmt::print(stderr, "report sla: {}\n", report.error().message());
    return report.error().kind() == Error::Kind::kInvalid ||
                   report.error().kind() == Error::Kind::kNotFound
               ? kExitUsage
               : kExitFailure;
  }
  fmt::print("{}",
             o.output == "csv" ? report::RenderSlaCsv(*report) : report::RenderSlaText(*report));
  return kExitOk;
}

}  // namespace

void AddReportSlaCommand(CLI::App& report, int& exit_code) {
  auto o = std::make_shared<SlaOptions>();
  auto* sla = report.add_subcommand(
      "sla", "Provider SLA credits for a calendar month: availability, DSR, TTFS, webhook delay");
  sla->add_option("--month", o->month, "Calendar month, YYYY-MM")->required();
  sla->add_option("--provider", o->provider, "Only this provider (a providers_sla name)");
  sla->add_option("--output", o->output, "text (CSV and the details) or csv")
      ->check(CLI::IsMember({"text", "csv"}))
      ->default_val("text");
  sla->add_option("--time-zone", o->time_zone,
                  "Zone of the calendar month instead of providers_sla.time_zone (IANA)");
  sla->add_option("-c,--config", o->config, "Configuration file (providers_sla, sources)")
      ->default_val("/etc/tocsin/tocsin.yaml");
  sla->callback([&exit_code, o] { exit_code = RunSla(*o); });
}

}  // namespace tocsin::cli

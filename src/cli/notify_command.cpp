// tocsin notify test: one clearly marked test page to one person through one provider, sent by
// this process from the config and roster files (no daemon, no incident).
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "notify/page_renderer.h"
#include "notify/test_page.h"
#include "tocsin/app/runtime_config.h"
#include "tocsin/common/http_client.h"
#include "tocsin/common/json.h"
#include "tocsin/common/system_clock.h"

namespace tocsin::cli {

namespace {

struct NotifyTestOptions {
  std::string config;
  std::string provider;
  std::string person;
  int severity = 1;
  std::string output = "text";
};

int NotifyTest(const NotifyTestOptions& o) {
  auto channel = notify::ParseProviderName(o.provider);
  if (!channel) {
    fmt::print(stderr, "tocsin notify test: --provider: {}\n", channel.error().message());
    return kExitUsage;
  }
  auto found = FindConfigPath(o.config);
  if (found.path.empty()) {
    fmt::print(stderr, "tocsin: {}\n", found.error);
    return kExitUsage;
  }
  auto loaded = app::LoadRuntimeConfig(found.path, {});
  if (loaded.io_error || !loaded.config) {
    for (const auto& d : loaded.diagnostics.items()) fmt::print(stderr, "{}\n", d.ToString());
    fmt::print(stderr, "tocsin notify test: {} does not load; nothing sent (see `tocsin check`)\n",
               found.path);
    return loaded.io_error ? kExitUsage : kExitFailure;
  }
  const auto& cfg = *loaded.config;
  if (!cfg.roster) {
    fmt::print(stderr, "tocsin notify test: {} names no roster_file, so it knows no people\n",
               found.path);
    return kExitUsage;
  }
  const oncall::Person* person = cfg.roster->FindPerson(o.person);
  if (!person) {
    std::vector<std::string> ids;
    for (const auto& [id, p] : cfg.roster->people) ids.push_back(id);
    fmt::print(stderr, "tocsin notify test: --person: no person \"{}\" in {} (people: {})\n",
               o.person, cfg.roster->file, fmt::join(ids, ", "));
    return kExitUsage;
  }
  notify::RenderOptions render;
  render.runbook_base_url = cfg.main.runbook_base_url;
  render.external_url = cfg.main.server.external_url;
  render.templates_dir = cfg.notify.templates_dir;
  auto renderer = notify::PageRenderer::Create(render);
  if (!renderer) {
    fmt::print(stderr, "tocsin notify test: {}\n", renderer.error().message());
    return kExitFailure;
  }
  notify::NotifierDeps deps;
  deps.renderer = *renderer;
  deps.http = std::make_shared<CurlHttpClient>();
  notify::TestPageOptions options;
  options.sev = static_cast<incident::Sev>(o.severity);
  // A provider that answers 429 or 5xx is asked again after the time it names.
  options.wait = [](Duration d) { std::this_thread::sleep_for(d); };
  SystemClock clock;
  auto sent =
      notify::SendTestPage(cfg.main.providers, deps, *channel, *person, clock.Now(), options);
  if (!sent) {
    fmt::print(stderr, "tocsin notify test: {}; nothing sent\n", sent.error().message());
    return kExitUsage;
  }
  const std::string title = notify::ProviderTitle(*channel);
  if (o.output == "json") {
    nlohmann::json answers = nlohmann::json::array();
    for (const auto& a : sent->attempts) {
      answers.push_back({{"kind", a.kind},
                         {"attempt", a.attempt},
                         {"outcome", notify::OutcomeName(a.result.outcome)},
                         {"status", a.result.status},
                         {"provider_ref", a.result.provider_ref},
                         {"detail", a.result.detail}});
    }
    nlohmann::json j = {
        {"provider", channel->name()},  {"person", person->id}, {"incident_id", sent->incident_id},
        {"dedup_key", sent->dedup_key}, {"ok", sent->ok()},     {"answers", answers}};
    fmt::print("{}\n", DumpJson(j, 2));
  } else {
    fmt::print("test page {} to {} through {} (dedup key {}; no incident was opened)\n",
               sent->incident_id, person->id, title, sent->dedup_key);
    for (const auto& a : sent->attempts) {
      std::string verdict = a.result.ok() ? "accepted"
                            : a.result.outcome == notify::DeliveryResult::Outcome::kRetry
                                ? "not accepted (worth retrying)"
                                : "refused";
      fmt::print(
          "  {} (attempt {}): {}, status {}{}: {}\n", a.kind, a.attempt, verdict, a.result.status,
          a.result.provider_ref.empty() ? "" : ", id " + a.result.provider_ref, a.result.detail);
    }
    if (sent->ok()) {
      fmt::print("{} accepted the test page for {}; ask them whether it arrived\n", title,
                 person->id);
    } else {
      fmt::print("{} did NOT accept the test page for {}\n", title, person->id);
    }
  }
  return sent->ok() ? kExitOk : kExitFailure;
}

}  // namespace

void AddNotifyCommand(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("notify", "Check the paging providers");
  cmd->require_subcommand(1);
  auto o = std::make_shared<NotifyTestOptions>();
  auto* test = cmd->add_subcommand(
      "test",
      "Send one clearly marked test page (title \"TEST — ...\", its own dedup key, no incident) "
      "to one person through one provider, and print what the provider answered");
  test->add_option("--provider", o->provider,
                   "Provider: " + fmt::format("{}", fmt::join(notify::ProviderNames(), ", ")))
      ->required();
  test->add_option("--person", o->person, "The person's roster id (people.<id>)")->required();
  test->add_option("--severity", o->severity,
                   "Severity the test page travels with, 1-4 (default 1, so that the provider's "
                   "urgency rules treat it like a real SEV-1 page)")
      ->check(CLI::Range(1, 4));
  test->add_option("-o,--output", o->output, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  AddConfigOption(*test, o->config, "");
  test->callback([o, &exit_code] { exit_code = NotifyTest(*o); });
}

}  // namespace tocsin::cli

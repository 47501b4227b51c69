// tocsin config import --from alertmanager FILE [-o OUT]
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "commands.h"
#include "tocsin/dispatch/alertmanager_import.h"

namespace tocsin::cli {

void AddConfigCommand(CLI::App& parent, int& exit_code) {
  auto* config = parent.add_subcommand("config", "Convert configuration from other tools");
  config->require_subcommand(1);
  auto* import = config->add_subcommand(
      "import",
      "Convert an Alertmanager configuration's route, receivers and inhibit_rules into "
      "tocsin.yaml sections (docs/migrating.md)");
  struct Args {
    std::string from, file, output;
    dispatch::AlertmanagerImportOptions options;
  };
  auto a = std::make_shared<Args>();
  import->add_option("--from", a->from, "Format of FILE: alertmanager")
      ->required()
      ->check(CLI::IsMember({"alertmanager"}));
  import->add_option("file", a->file, "alertmanager.yml")->required();
  import->add_option("-o,--output", a->output, "File to write (default: stdout)");
  import
      ->add_option("--escalation-policy", a->options.escalation_policy,
                   "Policy that PagerDuty and Opsgenie receivers page through")
      ->default_val(a->options.escalation_policy);
  import->callback([&exit_code, a] {
    if (!std::filesystem::is_regular_file(a->file)) {
      fmt::print(stderr, "{}: cannot read file\n", a->file);
  exit_code = kExitUsage;
  return;
}
config::Diagnostics diags;
auto imported = dispatch::ImportAlertmanagerConfig(a->file, a->options, diags);
for (const auto& d : diags.items()) fmt::print(stderr, "{}\n", d.ToString());
if (!imported) {
  exit_code = kExitUsage;
  return;
}
if (a->output.empty()) {
  fmt::print("{}", imported->yaml);
} else {
  std::ofstream out(a->output, std::ios::binary | std::ios::trunc);
  out << imported->yaml;
  out.close();
  if (!out) {
    fmt::print(stderr, "{}: cannot write file\n", a->output);
    exit_code = kExitUsage;
    return;
  }
}
fmt::print(stderr,
           "{}: {} route(s), {} receiver(s), {} inhibit rule(s) imported{}, {} field(s) not "
           "mapped\n",
           a->file, imported->routes, imported->receivers, imported->inhibit_rules,
           a->output.empty() ? "" : " to " + a->output, diags.warning_count());
exit_code = kExitOk;
}  // namespace tocsin::cli
);
}

}  // namespace tocsin::cli

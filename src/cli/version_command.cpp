#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "tocsin/app/version.h"
#include "tocsin/common/json.h"

namespace tocsin::cli {

std::string VersionText() {
  return fmt::format("tocsin {} (revision {}, built {})", Version(), Revision(), BuildDate());
}

void AddVersionCommand(CLI::App& parent, int& exit_code) {
  // `tocsin --version` and `tocsin version` print the same line.
  parent.set_version_flag("--version", VersionText(), "Print version and build information");
  auto* cmd = parent.add_subcommand("version", "Print version and build information");
  auto output = std::make_shared<std::string>("text");
  cmd->add_option("-o,--output", *output, "text or json")->check(CLI::IsMember({"text", "json"}));
  cmd->callback([&exit_code, output] {
    if (*output == "json") {
      nlohmann::json v = {
          {"version", Version()}, {"revision", Revision()}, {"build_date", BuildDate()}};
      fmt::print("{}\n", DumpJson(v, 2));
    } else {
      fmt::print("{}\n", VersionText());
    }
    exit_code = kExitOk;
  });
}

}  // namespace tocsin::cli

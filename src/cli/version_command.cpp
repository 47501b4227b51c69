#include <fmt/format.h>

#include "commands.h"
#include "tocsin/app/version.h"

namespace tocsin::cli {

std::string VersionText() {
  return fmt::format("tocsin {} (revision {}, built {})", Version(), Revision(), BuildDate());
}

void AddVersionCommand(CLI::App& parent, int& exit_code) {
  // `tocsin --version` and `tocsin version` print the same line.
  parent.set_version_flag("--version", VersionText(), "Print version and build information");
  auto* cmd = parent.add_subcommand("version", "Print version and build information");
  cmd->callback([&exit_code] {
    fmt::print("{}\n", VersionText());
    exit_code = kExitOk;
  });
}

}  // namespace tocsin::cli

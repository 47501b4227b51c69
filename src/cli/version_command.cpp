#include <fmt/format.h>

#include "commands.h"
#include "tocsin/app/version.h"

namespace tocsin::cli {

void AddVersionCommand(CLI::App& parent, int& exit_code) {
  auto* cmd = parent.add_subcommand("version", "Print version and build information");
  cmd->callback([&exit_code] {
    fmt::print("tocsin {} (revision {}, built {})\n", Version(), Revision(), BuildDate());
    exit_code = kExitOk;
  });
}

}  // namespace tocsin::cli

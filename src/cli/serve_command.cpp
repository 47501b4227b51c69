#include <cstdlib>

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>

#include "commands.h"
#include "tocsin/app/app.h"
#include "tocsin/common/system_clock.h"

namespace tocsin::cli {

void AddServeCommand(CLI::App& parent, int& exit_code) {
  auto* cmd = parent.add_subcommand("serve", "Run the tocsin daemon");
  auto opts = std::make_shared<app::AppOptions>();
  auto listen = std::make_shared<std::string>();
  auto data_dir = std::make_shared<std::string>();
  AddConfigOption(*cmd, opts->config_file, "");
  cmd->add_option("--listen", *listen,
                  "Listen address host:port, overriding server.listen (e.g. 0.0.0.0:9095)");
  cmd->add_option("--data-dir", *data_dir, "Data directory, overriding data_dir");
  cmd->add_option("--instance", opts->instance,
                  "This instance's name in a cluster, overriding ha.instance (default: host name)");
  auto store_url = std::make_shared<std::string>();
  cmd->add_option("--store-url", *store_url,
                  "Store URL (sqlite:///path or postgresql://user@host:port/db), overriding "
                  "store.url and $TOCSIN_STORE_URL");
  cmd->callback([&exit_code, opts, listen, data_dir, store_url] {
    // Through the variable the store config reads, so the flag wins over it and the file.
    if (!store_url->empty()) ::setenv("TOCSIN_STORE_URL", store_url->c_str(), 1);
    auto found = FindConfigPath(opts->config_file);
    if (found.path.empty()) {
      fmt::print(stderr, "tocsin: {}\n", found.error);
      exit_code = kExitUsage;
      return;
    }
    opts->config_file = found.path;
    if (!listen->empty()) opts->overrides.listen = *listen;
    if (!data_dir->empty()) opts->overrides.data_dir = *data_dir;
    boost::asio::io_context io(1);
    SystemClock clock;
    app::App daemon(io, clock, *opts);
    auto started = daemon.Start();
    if (!started) {
      fmt::print(stderr, "tocsin: {}\n", started.error().message());
      exit_code = started.error().kind() == Error::Kind::kInvalid ? kExitFailure : kExitUsage;
      return;
    }
    daemon.Run();
    exit_code = daemon.exit_code() != 0 ? daemon.exit_code() : kExitOk;
  });
}

}  // namespace tocsin::cli

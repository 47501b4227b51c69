#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace tocsin::cli {

// The one way every command finds its configuration file: --config when given, else
// $TOCSIN_CONFIG, else ./config/tocsin.yaml (the checkout the README builds), else
// /etc/tocsin/tocsin.yaml (the package). The first that is set wins; it must exist.
struct ConfigPath {
  std::string path;   // the file to read; empty when none was found
  std::string error;  // when empty `path`: every place looked at and why it did not count
};

ConfigPath FindConfigPath(const std::string& flag);

// The daemon's base URL for commands that talk to it: --url when given, else the found
// configuration's server.external_url, else http://127.0.0.1:9095 (the default listen address).
std::string DaemonUrl(const std::string& url_flag, const std::string& config_flag);

// Adds "-c,--config" (only "--config" where -c means something else, as in `silence add -c
// COMMENT`, amtool's flag) with the help text that lists the lookup order.
CLI::Option* AddConfigOption(CLI::App& cmd, std::string& target, const std::string& purpose,
                             bool short_flag = true);

}  // namespace tocsin::cli

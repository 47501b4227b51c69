#include "config_path.h"

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "tocsin/config/config.h"

namespace tocsin::cli {

namespace {

constexpr const char* kLocalConfig = "./config/tocsin.yaml";
constexpr const char* kSystemConfig = "/etc/tocsin/tocsin.yaml";

// Why `path` cannot be read as a config file, or empty when it can.
std::string Unusable(const std::string& path) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) return "no such file";
  if (std::filesystem::is_directory(status)) return "a directory, not a file";
  return {};
}

}  // namespace

ConfigPath FindConfigPath(const std::string& flag) {
  // An explicit choice is never replaced by a fallback: a typo must not load another file.
  if (!flag.empty()) {
    if (auto why = Unusable(flag); !why.empty()) {
      return {{}, fmt::format("--config {}: {}", flag, why)};
    }
    return {flag, {}};
  }
  const char* env = std::getenv("TOCSIN_CONFIG");
  if (env != nullptr && *env != '\0') {
    if (auto why = Unusable(env); !why.empty()) {
      return {{}, fmt::format("$TOCSIN_CONFIG={}: {}", env, why)};
    }
    return {env, {}};
  }
  std::string looked = "--config (not given), $TOCSIN_CONFIG (not set)";
  for (const char* candidate : {kLocalConfig, kSystemConfig}) {
    auto why = Unusable(candidate);
    if (why.empty()) return {candidate, {}};
    looked += fmt::format(", {} ({})", candidate, why);
  }
  return {{},
          fmt::format("no configuration file found; looked at {}. Pass --config FILE or set "
                      "TOCSIN_CONFIG",
                      looked)};
}

std::string DaemonUrl(const std::string& url_flag, const std::string& config_flag) {
  std::string url = url_flag;
  if (url.empty()) {
    auto found = FindConfigPath(config_flag);
    if (!found.path.empty()) {
      auto cfg = config::LoadConfig(found.path);
      if (cfg.config) url = cfg.config->server.external_url;
    }
  }
  if (url.empty()) url = "http://127.0.0.1:9095";
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

CLI::Option* AddConfigOption(CLI::App& cmd, std::string& target, const std::string& purpose,
                             bool short_flag) {
  return cmd.add_option(
      short_flag ? "-c,--config" : "--config", target,
      fmt::format("Configuration file{} (default: $TOCSIN_CONFIG, else {}, else {})", purpose,
                  kLocalConfig, kSystemConfig));
}

}  // namespace tocsin::cli

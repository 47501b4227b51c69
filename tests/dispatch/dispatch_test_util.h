#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "tocsin/config/config.h"
#include "tocsin/dispatch/dispatch_config.h"
#include "tocsin/http/router.h"

namespace tocsin::dispatch::testutil {

// One Slack receiver, alerts grouped by name and service: for tests of intake, where routing
// does not matter.
inline constexpr const char* kSlackOnlyConfig = R"(
route:
  receiver: slack
  group_by: [alertname, service]
  group_wait: 30s
receivers:
  - {name: slack, slack: [{channel: "#ops"}]}
)";

// Loads the dispatch sections of a tocsin.yaml given as text; fails the test on errors.
inline DispatchConfig LoadOrDie(const std::string& yaml) {
  auto main = config::LoadConfigString("test.yaml", yaml);
  EXPECT_TRUE(main.config) << main.diagnostics.ToString();
  if (!main.config) return {};
  config::Diagnostics diags;
  auto d = LoadDispatchConfig(*main.config, diags);
  EXPECT_TRUE(d) << diags.ToString();
  EXPECT_EQ(diags.items().size(), 0u) << diags.ToString();
  return d ? *d : DispatchConfig{};
}

// Errors of the dispatch loader for a config text, one per line.
inline std::string ErrorsOf(const std::string& yaml) {
  auto main = config::LoadConfigString("test.yaml", yaml);
  if (!main.config) return main.diagnostics.ToString();
  config::Diagnostics diags;
  auto d = LoadDispatchConfig(*main.config, diags);
  EXPECT_FALSE(d);
  return diags.ToString();
}

// A router whose guard lets every caller do everything, as a loopback caller of a daemon
// without tokens may. The guard itself is exercised by the http and app tests (HttpGuardTest
// walks every route, and its intake burst goes through the real guard).
inline std::shared_ptr<http::Router> RouterForEveryCaller() {
  return std::make_shared<http::Router>(
      [](http::Request&, http::Access) -> std::optional<http::Response> { return std::nullopt; });
}

}  // namespace tocsin::dispatch::testutil

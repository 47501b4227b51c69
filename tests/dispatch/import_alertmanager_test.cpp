#include "tocsin/dispatch/alertmanager_import.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>

#include "support/temp_dir.h"
#include "tocsin/dispatch/matcher.h"

namespace tocsin::dispatch {
namespace {

// The imported route's matchers, parsed as tocsin reads them from tocsin.yaml.
std::vector<Matcher> RouteMatchers(const std::string& alertmanager_yml) {
  testing::TempDir dir;
  config::Diagnostics diags;
  auto imported = ImportAlertmanagerConfig(dir.Write("am.yml", alertmanager_yml), {}, diags);
  EXPECT_TRUE(imported.has_value()) << diags.ToString();
  if (!imported) return {};
  YAML::Node out = YAML::Load(imported->yaml);
  std::vector<Matcher> matchers;
  for (const auto& m : out["route"]["routes"][0]["matchers"]) {
    auto parsed = Matcher::Parse(m.as<std::string>());
    EXPECT_TRUE(parsed.has_value()) << m.as<std::string>() << ": " << parsed.error().message();
    if (parsed) matchers.push_back(*parsed);
  }
  return matchers;
}

// Review finding: the importer dropped every backslash of a quoted matcher value, so the
// regex db\d+ became dbd+ and the alerts it routed to the pager went to the default receiver.
// Alertmanager keeps a backslash that escapes nothing and reads \n, \" and \\ as escapes.
TEST(AlertmanagerImportTest, ARegexKeepsItsBackslashesAsAlertmanagerReadsThem) {
  auto matchers = RouteMatchers(R"(route:
  receiver: default
  routes:
    - receiver: pager
      matchers: ['instance=~"db\d+\.prod"', 'path="C:\\ops"', 'quote="say \"hi\""']
receivers: [{name: default}, {name: pager}]
)");
  ASSERT_EQ(matchers.size(), 3u);
  EXPECT_TRUE(matchers[0].Matches("db12.prod"));
  EXPECT_FALSE(matchers[0].Matches("dbd.prod"));
  EXPECT_FALSE(matchers[0].Matches("db12xprod")) << "\\. is a literal dot";
  EXPECT_TRUE(matchers[1].Matches("C:\\ops"));
  EXPECT_TRUE(matchers[2].Matches("say \"hi\""));
}

}  // namespace
}  // namespace tocsin::dispatch

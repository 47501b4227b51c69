// scripts/demo itself, unattended, on the binaries of this build (TOCSIN_DEMO_BUILD_DIR: no
// bootstrap, no build): everything it printed to the terminal, stdout and stderr, is searched
// for every secret scripts/demo-config generated for the run (PagerDuty routing key and
// webhook secret, Opsgenie API key and webhook token, Slack bot token and signing secret; any
// secret file added to the demo later is covered the same way). The demo printed whole
// PagerDuty events, routing key included, before this test existed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/files.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace tocsin {
namespace {

using namespace std::chrono_literals;

using testing::ReadFile;
constexpr auto Trim = testing::TrimEnd;

TEST(DemoOutput, NoConfiguredSecretAppearsInWhatTheDemoPrints) {
  testing::TempDir dir;
  const std::string out_file = dir.path() + "/demo.out";
  // The build directory holds src/cli/tocsin; TOCSIN_BINARY is <build>/src/cli/tocsin.
  const auto build_dir =
      std::filesystem::path(TOCSIN_BINARY).parent_path().parent_path().parent_path();
  testing::Process demo({"/bin/bash", std::string(TOCSIN_SOURCE_DIR) + "/scripts/demo"},
                        {"TOCSIN_DEMO_UNATTENDED=1", "TOCSIN_DEMO_KEEP=1",
                         "TOCSIN_DEMO_BUILD_DIR=" + build_dir.string(), "TOCSIN_DEMO_PORT=19400"},
                        out_file);
  auto rc = demo.Wait(480s);
  const std::string printed = ReadFile(out_file);
  ASSERT_TRUE(rc.has_value()) << "the demo did not finish within 8 minutes:\n" << printed;
  // The kept directory, from the demo's last line: "demo: kept /tmp/tocsin-demo-XXXXXX".
  const std::string kept_marker = "demo: kept ";
  auto at = printed.rfind(kept_marker);
  ASSERT_NE(at, std::string::npos) << printed;
  const std::string work = Trim(printed.substr(at + kept_marker.size()));
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      std::error_code ec;
      if (path.rfind("/tmp/tocsin-demo-", 0) == 0) std::filesystem::remove_all(path, ec);
    }
  } cleanup{work};
  EXPECT_EQ(*rc, 0) << "the demo failed:\n" << printed;
  // The demo got as far as the lines that used to print secrets.
  EXPECT_NE(printed.find("PagerDuty: {"), std::string::npos) << printed;

  std::size_t secrets_checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(work + "/demo/secrets")) {
    const std::string secret = Trim(ReadFile(entry.path().string()));
    ASSERT_GE(secret.size(), 16u) << entry.path();  // a real secret, not an empty file
    ++secrets_checked;
    EXPECT_EQ(printed.find(secret), std::string::npos)
        << "the secret in " << entry.path().filename() << " appears in the demo's output";
  }
  EXPECT_GE(secrets_checked, 6u);
}

}  // namespace
}  // namespace tocsin

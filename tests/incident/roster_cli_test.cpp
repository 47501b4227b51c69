// The roster subcommands of the real binary: output and exit codes (0 ok, 1 findings, 2 I/O).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>

#include "support/temp_dir.h"

namespace tocsin::incident {
namespace {

struct Run {
  int code;
  std::string out;
};

Run Tocsin(const std::string& args) {
  std::string cmd = std::string(TOCSIN_BINARY) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  while (p != nullptr && std::fgets(buf.data(), buf.size(), p) != nullptr) out += buf.data();
  int status = p != nullptr ? ::pclose(p) : -1;
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

const std::string kConfig = std::string(TOCSIN_SOURCE_DIR) + "/config/tocsin.yaml";

TEST(RosterCliTest, WhoShowsTheHolderOfARoleAtATime) {
  // 2026-11-23 08:00 UTC = 10:00 Kyiv: slot 42 of l1-kyiv -> iryna (2 mod 5).
  auto r = Tocsin("roster who -c " + kConfig + " --at 2026-11-23T08:00:00Z --role l1 -o json");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("\"person\": \"iryna\""), std::string::npos) << r.out;
}

TEST(RosterCliTest, CheckOfTheShippedRosterIsClean) {
  auto r = Tocsin("roster check -c " + kConfig + " --weeks 8");
  EXPECT_EQ(r.code, 0) << r.out;
  auto c = Tocsin("check -c " + kConfig);
  EXPECT_EQ(c.code, 0) << c.out;
}

TEST(RosterCliTest, FindingsExitOneAndNameTheRule) {
  testing::TempDir dir;
  auto roster = dir.Write("roster.yaml", R"(
people:
  a: {name: A, time_zone: Europe/Kyiv}
rotations:
  l1: {role: l1, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["08:00"], members: [a]}
)");
  auto r = Tocsin("roster check --roster " + roster + " --from 2026-11-16 --weeks 2");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find(roster + ":3:6: [max-consecutive-nights] a is on call"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("[max-days-in-14]"), std::string::npos) << r.out;
  // tocsin check reports the same roster's findings and exits 1 as well.
  auto cfg = dir.Write("tocsin.yaml", "roster_file: roster.yaml\n");
  auto c = Tocsin("check -c " + cfg);
  EXPECT_EQ(c.code, 1) << c.out;
}

TEST(RosterCliTest, BrokenRosterIsExitOneWithFileLineColumn) {
  testing::TempDir dir;
  auto roster = dir.Write("roster.yaml", R"(people:
  a: {name: A, time_zone: Europe/Kyiv}
rotations:
  l1: {role: l1, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["08:00"], members: [b]}
)");
  auto r = Tocsin("roster who --roster " + roster);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find(roster + ":4:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unknown person \"b\""), std::string::npos) << r.out;
  auto missing = Tocsin("roster who --roster " + dir.path() + "/nope.yaml");
  EXPECT_EQ(missing.code, 2) << missing.out;
}

TEST(RosterCliTest, IcalExportForAPerson) {
  auto r = Tocsin("roster ical -c " + kConfig + " --person olena --weeks 2");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("BEGIN:VEVENT"), std::string::npos);
  auto unknown = Tocsin("roster ical -c " + kConfig + " --person nobody");
  EXPECT_EQ(unknown.code, 2);
}

}  // namespace
}  // namespace tocsin::incident

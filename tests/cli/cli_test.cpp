// The real binary, run as a new user would run it (issue 13): from the checkout the README
// builds, from an empty directory, against a daemon that is not there.
#include <gtest/gtest.h>

#include <string>

#include "support/process.h"
#include "support/temp_dir.h"

namespace tocsin::cli {
namespace {

using testing::CommandResult;
using testing::RunCommand;

// Runs tocsin in `dir` with TOCSIN_CONFIG unset (or set to `config_env`).
CommandResult TocsinIn(const std::string& dir, const std::string& args,
                       const std::string& config_env = "") {
  std::string env = config_env.empty() ? "env -u TOCSIN_CONFIG" : "env TOCSIN_CONFIG=" + config_env;
  return RunCommand(
      {"/bin/sh", "-c", "cd '" + dir + "' && " + env + " '" + TOCSIN_BINARY + "' " + args});
}

TEST(CliTest, VersionFlagAndVersionCommandPrintTheSameLineWithTheCommit) {
  auto flag = RunCommand({TOCSIN_BINARY, "--version"});
  auto cmd = RunCommand({TOCSIN_BINARY, "version"});
  EXPECT_EQ(flag.exit_code, 0) << flag.err;
  EXPECT_EQ(flag.out, cmd.out);
  EXPECT_EQ(flag.out.rfind("tocsin ", 0), 0u) << flag.out;
  // Built from a git checkout: the commit is known (12 hex digits, maybe "-dirty").
  auto rev = flag.out.find("(revision ");
  ASSERT_NE(rev, std::string::npos) << flag.out;
  EXPECT_EQ(flag.out.find("revision unknown"), std::string::npos) << flag.out;
  std::string hex = flag.out.substr(rev + 10, 12);
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos) << flag.out;
}

// `tocsin roster who` without -c read /etc/tocsin and failed even in the built checkout.
TEST(CliTest, RosterWhoWithoutConfigWorksInTheCheckout) {
  auto r = TocsinIn(TOCSIN_SOURCE_DIR, "roster who --at 2026-11-23T08:00:00Z --role l1");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("iryna"), std::string::npos) << r.out;
}

TEST(CliTest, NoConfigFoundNamesEveryPlaceLookedAtAndExitsTwo) {
  testing::TempDir dir;
  for (const char* cmd : {"check", "roster who", "serve", "backup x.db",
                          "notify test --provider pagerduty --person olena",
                          "report oncall --from "
                          "2026-11-01 --to "
                          "2026-11-02"}) {
    auto r = TocsinIn(dir.path(), cmd);
    EXPECT_EQ(r.exit_code, 2) << cmd << "\n" << r.err;
    EXPECT_NE(r.err.find("no configuration file found; looked at --config (not given), "
                         "$TOCSIN_CONFIG (not set), ./config/tocsin.yaml (no such file), "
                         "/etc/tocsin/tocsin.yaml"),
              std::string::npos)
        << cmd << "\n"
        << r.err;
  }
}

TEST(CliTest, TocsinConfigEnvironmentIsUsedAndAMissingOneIsNamed) {
  testing::TempDir dir;
  auto cfg = dir.Write("elsewhere.yaml", "log: {level: info}\n");
  auto ok = TocsinIn(dir.path(), "check", cfg);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find(cfg + ": ok"), std::string::npos) << ok.out;
  auto missing = TocsinIn(dir.path(), "check", dir.path() + "/nope.yaml");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("$TOCSIN_CONFIG=" + dir.path() + "/nope.yaml: no such file"),
            std::string::npos)
      << missing.err;
  // --config wins over the environment, and a wrong --config is never replaced by a fallback.
  auto flag = TocsinIn(TOCSIN_SOURCE_DIR, "check --config " + dir.path() + "/typo.yaml", cfg);
  EXPECT_EQ(flag.exit_code, 2);
  EXPECT_NE(flag.err.find("--config " + dir.path() + "/typo.yaml: no such file"), std::string::npos)
      << flag.err;
}

TEST(CliTest, ServeAndCheckAgreeOnAMissingConfig) {
  testing::TempDir dir;
  auto serve = RunCommand({TOCSIN_BINARY, "serve", "--config", dir.path() + "/missing.yaml"});
  auto check = RunCommand({TOCSIN_BINARY, "check", "--config", dir.path() + "/missing.yaml"});
  EXPECT_EQ(serve.exit_code, 2) << serve.err;
  EXPECT_EQ(check.exit_code, 2) << check.err;
}

TEST(CliTest, UnreachableDaemonIsExitThree) {
  std::string url = "http://127.0.0.1:" + std::to_string(testing::FreePort());
  for (std::vector<std::string> args :
       {std::vector<std::string>{"incidents", "list", "--url", url},
        std::vector<std::string>{"silence", "list", "--url", url},
        std::vector<std::string>{"silence", "expire", "--url", url, "some-id"}}) {
    args.insert(args.begin(), TOCSIN_BINARY);
    auto r = RunCommand(args);
    EXPECT_EQ(r.exit_code, 3) << args[1] << "\n" << r.err;
    EXPECT_NE(r.err.find("cannot reach tocsin at " + url), std::string::npos) << r.err;
  }
}

TEST(CliTest, RosterWhoShowsTheNewcomerShadowingTheOnCallPerson) {
  // 2026-11-22 10:00 UTC = 12:00 Kyiv: olena holds L1 and maksym shadows her until 7 December.
  auto table = TocsinIn(TOCSIN_SOURCE_DIR, "roster who --at 2026-11-22T10:00:00Z --role l1");
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("olena"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("maksym"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("shadows olena"), std::string::npos) << table.out;
  auto json = TocsinIn(TOCSIN_SOURCE_DIR, "roster who --at 2026-11-22T10:00:00Z --role l1 -o json");
  EXPECT_NE(json.out.find("\"shadows\": [\n      {\n        \"from\""), std::string::npos)
      << json.out;
  EXPECT_NE(json.out.find("\"person\": \"maksym\""), std::string::npos) << json.out;
}

TEST(CliTest, RosterCheckFlagsAShiftLongerThanThePolicy) {
  testing::TempDir dir;
  const std::string people = R"(people:
  a: {name: A, time_zone: Europe/Kyiv}
  b: {name: B, time_zone: Europe/Kyiv}
  c: {name: C, time_zone: Europe/Kyiv}
)";
  // 12-hour shifts; a holds the night of 15 November, and a swap hands b's next day shift to a,
  // who then holds L1 for 24 hours.
  auto roster = dir.Write("roster.yaml", people + R"(rotations:
  l1: {role: l1, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["08:00", "20:00"], members: [a, b, c]}
overrides:
  - {type: swap, rotation: l1, from: 2026-11-16T08:00, to: 2026-11-16T20:00, person: a, with: b, reason: "agreed in #ops"}
)");
  auto r = TocsinIn(dir.path(), "roster check --roster " + roster + " --from 2026-11-16 --weeks 1");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(
      r.out.find(roster + ":2:6: [max-shift-length] a holds l1 for 1d without a break, from "
                          "2026-11-15 20:00 EET to 2026-11-16 20:00 EET; at most 12h is allowed"),
      std::string::npos)
      << r.out;
  // A rotation that is meant to be held for a day says so.
  auto day = dir.Write("day.yaml", people + R"(rotations:
  l1: {role: l1, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["08:00"], max_shift: 24h, members: [a, b, c]}
)");
  auto ok = TocsinIn(dir.path(), "roster check --roster " + day + " --from 2026-11-16 --weeks 1");
  EXPECT_EQ(ok.out.find("max-shift-length"), std::string::npos) << ok.out;
}

TEST(CliTest, ShippedRosterKeepsTheWholeReason) {
  auto r = TocsinIn(TOCSIN_SOURCE_DIR,
                    "roster show --from 2026-12-07T00:00 --to 2026-12-08T12:00 --role l1");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("family event, agreed in #ops-roster"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "");
}

TEST(CliTest, AReasonCutByAYamlCommentIsReportedWithTheQuotedFix) {
  testing::TempDir dir;
  auto roster = dir.Write("roster.yaml", R"(people:
  a: {name: A, time_zone: Europe/Kyiv}
  b: {name: B, time_zone: Europe/Kyiv}
rotations:
  l1: {role: l1, time_zone: Europe/Kyiv, start_date: 2026-11-02, handovers: ["08:00", "20:00"], members: [a, b]}
overrides:
  - type: swap
    rotation: l1
    from: 2026-11-17T08:00
    to: 2026-11-18T08:00
    person: a
    with: b
    reason: family event, agreed in #ops-roster
)");
  auto r = TocsinIn(dir.path(), "roster who --roster " + roster);
  EXPECT_NE(
      r.err.find(roster + ":13:13: warning: override[0].reason: \"#ops-roster\" is a YAML comment, "
                          "so the reason reads \"family event, agreed in\"; quote it: reason: "
                          "\"family event, agreed in #ops-roster\""),
      std::string::npos)
      << r.err;
}

TEST(CliTest, CompletionScriptsAndManPageComeFromTheCommandTree) {
  auto bash = RunCommand({TOCSIN_BINARY, "completion", "bash"});
  ASSERT_EQ(bash.exit_code, 0) << bash.err;
  EXPECT_NE(bash.out.find("complete -o default -F _tocsin tocsin"), std::string::npos);
  EXPECT_NE(bash.out.find("'tocsin roster who') words='"), std::string::npos) << bash.out;
  testing::TempDir dir;
  auto script = dir.Write("tocsin.bash", bash.out);
  // The script parses, and completing "tocsin roster w" offers "who".
  auto completed = RunCommand(
      {"/bin/bash", "-c",
       "source '" + script +
           "'; COMP_WORDS=(tocsin roster w); COMP_CWORD=2; _tocsin; echo \"${COMPREPLY[*]}\""});
  EXPECT_EQ(completed.exit_code, 0) << completed.err;
  EXPECT_EQ(completed.out, "who\n");
  auto zsh = RunCommand({TOCSIN_BINARY, "completion", "zsh"});
  EXPECT_EQ(zsh.out.rfind("#compdef tocsin\n", 0), 0u);
  EXPECT_NE(zsh.out.find("'--config:Configuration file"), std::string::npos);
  auto man = RunCommand({TOCSIN_BINARY, "man"});
  EXPECT_EQ(man.exit_code, 0);
  EXPECT_NE(man.out.find(".SS tocsin roster who\n"), std::string::npos) << man.out;
  EXPECT_NE(man.out.find(".SH EXIT STATUS\n"), std::string::npos);
  EXPECT_NE(man.out.find("\\fB\\-c,\\-\\-config\\fR"), std::string::npos);
}

}  // namespace
}  // namespace tocsin::cli

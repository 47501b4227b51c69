// The real binary, run as a new user would run it (issue 13): from the checkout the README
// builds, from an empty directory, against a daemon that is not there.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

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

TEST(CliTest, VersionAsJsonSaysWhatTheTextSays) {
  auto text = RunCommand({TOCSIN_BINARY, "version"});
  auto j = RunCommand({TOCSIN_BINARY, "version", "-o", "json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto v = nlohmann::json::parse(j.out, nullptr, false);
  ASSERT_TRUE(v.is_object()) << j.out;
  EXPECT_EQ(text.out, "tocsin " + v.value("version", "") + " (revision " + v.value("revision", "") +
                          ", built " + v.value("build_date", "") + ")\n");
  // The build day in ISO 8601, not the compiler's "Dec  5 2026".
  EXPECT_EQ(v.value("build_date", "").size(), 10u) << j.out;
}

// `check -o json`: every diagnostic with its place, for CI and editors; the exit code is that
// of the text output.
TEST(CliTest, CheckAsJsonListsEveryErrorWithItsPlace) {
  testing::TempDir dir;
  auto cfg = dir.Write("tocsin.yaml",
                       "server: {listen: \"127.0.0.1:0\", bogus: 1}\n"
                       "log: {level: loud}\n");
  auto r = RunCommand({TOCSIN_BINARY, "check", "-c", cfg, "-o", "json"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["ok"], false);
  EXPECT_GE(j["errors"].get<int>(), 2) << r.out;
  bool bogus = false;
  bool level = false;
  for (const auto& d : j["diagnostics"]) {
    if (d["severity"] != "error") continue;
    EXPECT_EQ(d["file"], cfg);
    std::string m = d["message"];
    if (m.find("bogus") != std::string::npos) {
      bogus = true;
      EXPECT_EQ(d["line"], 1);
      EXPECT_EQ(d["column"], 33);
    }
    if (m.find("loud") != std::string::npos) {
      level = true;
      EXPECT_EQ(d["line"], 2);
    }
  }
  EXPECT_TRUE(bogus && level) << r.out;
  // The shipped configuration is clean.
  auto ok = RunCommand({TOCSIN_BINARY, "check", "-c",
                        std::string(TOCSIN_SOURCE_DIR) + "/config/tocsin.yaml", "-o", "json"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_EQ(nlohmann::json::parse(ok.out, nullptr, false).value("ok", false), true) << ok.out;
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
  // In a real zsh (scripts/bootstrap installs it): the script parses, and with compsys's
  // _describe replaced by a printer, the words after "tocsin roster" offer its subcommands
  // and those after "tocsin report sla" its options.
  auto zsh_script = dir.Write("_tocsin", zsh.out);
  auto zsh_parse = RunCommand({"/usr/bin/zsh", "-n", zsh_script});
  EXPECT_EQ(zsh_parse.exit_code, 0) << zsh_parse.err;
  auto offered = [&](const std::string& words, int current) {
    return RunCommand({"/usr/bin/zsh", "-f", "-c",
                       "_describe() { print -rl -- \"${items[@]%%:*}\"; }; _files() { :; }; "
                       "source '" +
                           zsh_script + "' >/dev/null; words=(" + words +
                           "); CURRENT=" + std::to_string(current) + "; _tocsin"});
  };
  auto roster = offered("tocsin roster w", 3);
  EXPECT_EQ(roster.exit_code, 0) << roster.err;
  EXPECT_EQ(roster.out.rfind("who\nshow\ncheck\nical\n", 0), 0u) << roster.out;
  auto sla = offered("tocsin report sla --mo", 4);
  EXPECT_NE(sla.out.find("\n--month\n"), std::string::npos) << sla.out;
  EXPECT_EQ(sla.out.find("who\n"), std::string::npos) << sla.out;
  auto man = RunCommand({TOCSIN_BINARY, "man"});
  EXPECT_EQ(man.exit_code, 0);
  EXPECT_NE(man.out.find(".SS tocsin roster who\n"), std::string::npos) << man.out;
  EXPECT_NE(man.out.find(".SH EXIT STATUS\n"), std::string::npos);
  EXPECT_NE(man.out.find("\\fB\\-c,\\-\\-config\\fR"), std::string::npos);
}

}  // namespace
}  // namespace tocsin::cli

#include "cli/table.h"

#include <gtest/gtest.h>

namespace tocsin::cli {
namespace {

// `silences list` printed fixed widths, so a long id or matcher pushed the rest of its row out
// of line with the header (issue 13).
TEST(TableTest, ColumnsAreAsWideAsTheirWidestCellSoLongValuesStayAligned) {
  Table t({"ID", "STATE", "COMMENT"});
  t.AddRow({"0123456789abcdef0123456789abcdef0123456789", "active", "deploy"});
  t.AddRow({"7", "pending", "x"});
  EXPECT_EQ(t.ToString(),
            "ID                                          STATE    COMMENT\n"
            "0123456789abcdef0123456789abcdef0123456789  active   deploy\n"
            "7                                           pending  x\n");
}

TEST(TableTest, MultiByteNamesCountAsOneColumnEachAndNoTrailingBlanks) {
  Table t({"NAME", "TZ"});
  t.AddRow({"Олена", "Europe/Kyiv"});
  t.AddRow({"ann", ""});
  EXPECT_EQ(t.ToString(),
            "NAME   TZ\n"
            "Олена  Europe/Kyiv\n"
            "ann\n");
}

// Backtest details and rule test diffs nest tables under a heading line.
TEST(TableTest, IndentedPrefixesEveryLineAndCanDropTheHeader) {
  Table t({"KEY", "VALUE"});
  t.AddRow({"reason", "threshold crossed"});
  t.AddRow({"rule", "x at rules.yaml:3"});
  EXPECT_EQ(t.Indented("  "),
            "  KEY     VALUE\n"
            "  reason  threshold crossed\n"
            "  rule    x at rules.yaml:3\n");
  EXPECT_EQ(t.Indented("> ", false),
            "> reason  threshold crossed\n"
            "> rule    x at rules.yaml:3\n");
}

}  // namespace
}  // namespace tocsin::cli

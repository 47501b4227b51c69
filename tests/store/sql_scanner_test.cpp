// The one lexer behind the PostgreSQL backend's placeholder translation and statement
// splitting. Regression: placeholder translation had a lexer of its own that knew only '' and
// "": a `?` in a comment or a $$ body became a parameter, and an apostrophe in a comment hid
// every real placeholder after it.
#include "sql_scanner.h"

#include <gtest/gtest.h>

namespace tocsin::store::detail {
namespace {

TEST(SqlScannerTest, PlaceholdersInCodeOnly) {
  EXPECT_EQ(TranslatePlaceholders("SELECT ?, ?3, ? FROM t WHERE a = '?' AND \"b?\" = ?1"),
            "SELECT $1, $3, $4 FROM t WHERE a = '?' AND \"b?\" = $1");
  EXPECT_EQ(TranslatePlaceholders("SELECT 1 -- what? it's\nWHERE a = ?"),
            "SELECT 1 -- what? it's\nWHERE a = $1");
  EXPECT_EQ(TranslatePlaceholders("SELECT /* it's /* nested? */ still? */ ?"),
            "SELECT /* it's /* nested? */ still? */ $1");
  EXPECT_EQ(TranslatePlaceholders("CREATE FUNCTION f() AS $$ SELECT '?' || ? $$; SELECT ?"),
            "CREATE FUNCTION f() AS $$ SELECT '?' || ? $$; SELECT $1");
  EXPECT_EQ(TranslatePlaceholders("DO $body$ it's ? $body$ ; SELECT ?"),
            "DO $body$ it's ? $body$ ; SELECT $1");
  EXPECT_EQ(TranslatePlaceholders(R"(SELECT E'it\'s ?', 'x''?', ?)"),
            R"(SELECT E'it\'s ?', 'x''?', $1)");
  // A word ending in e before a quote is no E'' string: the backslash is literal there.
  EXPECT_EQ(TranslatePlaceholders(R"(SELECT note'\', ?)"), R"(SELECT note'\', $1)");
}

TEST(SqlScannerTest, StatementsSplitAtCodeSemicolonsOnly) {
  const std::string_view script =
      "CREATE TABLE t (a TEXT DEFAULT ';'); -- one; it's\n"
      "/* two; */ CREATE FUNCTION f() RETURNS void AS $f$ BEGIN NULL; END $f$ LANGUAGE plpgsql;"
      "INSERT INTO t VALUES (E'\\';');";
  auto parts = SplitStatements(script);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0], "CREATE TABLE t (a TEXT DEFAULT ';');");
  EXPECT_EQ(parts[1].substr(0, 11), "-- one; it'");
  EXPECT_EQ(parts[1].substr(parts[1].size() - 17), "LANGUAGE plpgsql;");
  EXPECT_EQ(parts[2], "INSERT INTO t VALUES (E'\\';');");
}

}  // namespace
}  // namespace tocsin::store::detail

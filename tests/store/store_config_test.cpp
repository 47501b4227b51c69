// store.url: SQLite by default, PostgreSQL when asked, overridable from the environment (which
// `serve --store-url` sets); a password never comes from the URL, and no error repeats one.
#include "tocsin/store/store_config.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "support/temp_dir.h"
#include "tocsin/config/config.h"
#include "tocsin/store/store_url.h"

namespace tocsin::store {
namespace {

class StoreConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("TOCSIN_STORE_URL");
    ::unsetenv("TOCSIN_STORE_PASSWORD");
  }
  void TearDown() override { SetUp(); }

  // Loads `yaml` (with data_dir under the temp dir) and returns the store section and all
  // diagnostics as text.
  std::pair<StoreConfig, std::string> Load(const std::string& yaml) {
    std::string path = dir_.Write("tocsin.yaml", "data_dir: " + dir_.path() + "/data\n" + yaml);
    auto loaded = config::LoadConfig(path, {});
    EXPECT_TRUE(loaded.parsed.has_value()) << loaded.diagnostics.ToString();
    config::Diagnostics diags = loaded.diagnostics;
    StoreConfig sc = LoadStoreConfig(*loaded.parsed, diags);
    return {sc, diags.ToString()};
  }

  tocsin::testing::TempDir dir_;
};

TEST_F(StoreConfigTest, WithoutAUrlTheStoreIsSqliteInTheDataDir) {
  auto [sc, errors] = Load("");
  EXPECT_EQ(errors, "");
  EXPECT_EQ(sc.url.dialect, Dialect::kSqlite);
  EXPECT_EQ(sc.url.sqlite_path, dir_.path() + "/data/tocsin.db");
  EXPECT_EQ(sc.path, sc.url.sqlite_path);
}

TEST_F(StoreConfigTest, ASqliteUrlIsItsFileAndARelativeOneIsInTheDataDir) {
  auto [abs, e1] = Load("store: {url: \"sqlite:///var/lib/x/t.db\"}\n");
  EXPECT_EQ(e1, "");
  EXPECT_EQ(abs.path, "/var/lib/x/t.db");
  auto [rel, e2] = Load("store: {url: \"sqlite://state/t.db\"}\n");
  EXPECT_EQ(e2, "");
  EXPECT_EQ(rel.url.sqlite_path, dir_.path() + "/data/state/t.db");
}

TEST_F(StoreConfigTest, APostgresUrlTakesItsPasswordFromTheFileAndNeverPrintsIt) {
  dir_.Write("pg-password", "s3cret-Pg-pass\n");
  auto [sc, errors] = Load(
      "store:\n  url: postgresql://tocsin@db.internal:5433/tocsin?sslmode=require\n"
      "  password_file: pg-password\n");
  EXPECT_EQ(errors, "");
  EXPECT_EQ(sc.url.dialect, Dialect::kPostgres);
  EXPECT_EQ(sc.url.user, "tocsin");
  EXPECT_EQ(sc.url.host, "db.internal");
  EXPECT_EQ(sc.url.port, "5433");
  EXPECT_EQ(sc.url.dbname, "tocsin");
  EXPECT_EQ(sc.url.password, "s3cret-Pg-pass");
  EXPECT_EQ(sc.path, "");
  EXPECT_EQ(sc.url.ToString(), "postgresql://tocsin@db.internal:5433/tocsin?sslmode=require");
  EXPECT_NE(sc.url.ConnectionString().find("password='s3cret-Pg-pass'"), std::string::npos);
}

// A primary and its replica in one URL, as libpq reads it: the hosts and ports go to libpq as
// lists, target_session_attrs picks the one that takes writes, and the URL prints as written.
TEST_F(StoreConfigTest, SeveralHostsAreOneListForLibpqAndPrintAsWritten) {
  auto url = ParseStoreUrl(
      "postgresql://tocsin@db-a.zone-a:5432,db-b.zone-b:5433,[fd00::7]/tocsin"
      "?target_session_attrs=read-write");
  ASSERT_TRUE(url) << url.error().message();
  EXPECT_EQ(url->host, "db-a.zone-a,db-b.zone-b,fd00::7");
  EXPECT_EQ(url->port, "5432,5433,");
  EXPECT_EQ(url->ToString(),
            "postgresql://tocsin@db-a.zone-a:5432,db-b.zone-b:5433,[fd00::7]/tocsin"
            "?target_session_attrs=read-write");
  const std::string conn = url->ConnectionString();
  EXPECT_NE(conn.find("host='db-a.zone-a,db-b.zone-b,fd00::7'"), std::string::npos) << conn;
  EXPECT_NE(conn.find("port='5432,5433,'"), std::string::npos) << conn;
  EXPECT_NE(conn.find("target_session_attrs='read-write'"), std::string::npos) << conn;
  auto again = ParseStoreUrl(url->ToString());
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *url);

  auto bad_port = ParseStoreUrl("postgresql://db-a:5432,db-b:x/tocsin");
  ASSERT_FALSE(bad_port);
  EXPECT_EQ(bad_port.error().message(), "store.url: the port \"x\" is not a number");
  // %-escapes are decoded; a malformed one is refused with where it was (not what: the value
  // may be private), instead of reaching libpq as written.
  auto escaped = ParseStoreUrl("postgresql://ops%40tocsin@db-a/on%2Dcall?application_name=a%20b");
  ASSERT_TRUE(escaped) << escaped.error().message();
  EXPECT_EQ(escaped->user, "ops@tocsin");
  EXPECT_EQ(escaped->dbname, "on-call");
  EXPECT_EQ(escaped->params.at("application_name"), "a b");
  auto bad_dbname = ParseStoreUrl("postgresql://db-a/tocsin%4");
  ASSERT_FALSE(bad_dbname);
  EXPECT_EQ(bad_dbname.error().message(),
            "store.url: the database name has a malformed %-escape: write % and two hex digits, "
            "e.g. %40 for @");
  auto bad_value = ParseStoreUrl("postgresql://db-a/tocsin?application_name=a%zzb");
  ASSERT_FALSE(bad_value);
  EXPECT_EQ(bad_value.error().message().rfind(
                "store.url: the value of application_name= has a malformed %-escape", 0),
            0u)
      << bad_value.error().message();
  auto trailing = ParseStoreUrl("postgresql://db-a:5432,/tocsin");
  ASSERT_FALSE(trailing);
  EXPECT_EQ(trailing.error().message(), "store.url: a comma after the last host names no host");
  for (const char* empty : {"postgresql://,db-b/tocsin", "postgresql://db-a,,db-b/tocsin",
                            "postgresql://db-a:5432,:5433/tocsin"}) {
    auto refused = ParseStoreUrl(empty);
    ASSERT_FALSE(refused) << empty;
    EXPECT_NE(refused.error().message().find("of the list is empty"), std::string::npos)
        << refused.error().message();
  }
  EXPECT_FALSE(ParseStoreUrl("postgresql://db-a%2Cdb-b/tocsin"));
  auto local = ParseStoreUrl("postgresql:///tocsin");  // one empty host: libpq's default
  ASSERT_TRUE(local) << local.error().message();
  EXPECT_EQ(local->host, "");
  auto junk = ParseStoreUrl("postgresql://[fd00::7]x/tocsin");
  ASSERT_FALSE(junk);
  EXPECT_EQ(junk.error().message(),
            "store.url: unexpected \"x\" after host 1; write host:port, or several as "
            "host1:port1,host2:port2");
}

TEST_F(StoreConfigTest, ThePasswordMayComeFromTheEnvironment) {
  ::setenv("TOCSIN_STORE_PASSWORD", "from-env-pass", 1);
  auto [sc, errors] = Load("store: {url: \"postgresql://tocsin@db/tocsin\"}\n");
  EXPECT_EQ(errors, "");
  EXPECT_EQ(sc.url.password, "from-env-pass");
}

TEST_F(StoreConfigTest, AUrlWithAPasswordIsRefusedSayingWhereItGoesWithoutRepeatingIt) {
  auto [sc, errors] = Load("store:\n  url: postgresql://tocsin:hunter2-XYZ@db:5432/tocsin\n");
  EXPECT_NE(errors.find("tocsin.yaml:3:"), std::string::npos) << errors;
  EXPECT_NE(errors.find("must not carry a password"), std::string::npos) << errors;
  EXPECT_NE(errors.find("store.password_file"), std::string::npos) << errors;
  EXPECT_NE(errors.find("TOCSIN_STORE_PASSWORD"), std::string::npos) << errors;
  EXPECT_EQ(errors.find("hunter2-XYZ"), std::string::npos) << errors;
  auto [sc2, query] = Load("store: {url: \"postgresql://db/tocsin?password=hunter2-XYZ\"}\n");
  EXPECT_NE(query.find("must not carry a password"), std::string::npos) << query;
  EXPECT_EQ(query.find("hunter2-XYZ"), std::string::npos) << query;
}

// Regression: sslpassword= (the client key's passphrase) was kept as a parameter and printed
// with the URL in logs and errors.
TEST_F(StoreConfigTest, AUrlWithAnotherSecretParameterIsRefusedWithoutRepeatingIt) {
  for (const char* key : {"sslpassword", "oauth_client_secret"}) {
    auto url = ParseStoreUrl(std::string("postgresql://tocsin@db/tocsin?sslmode=verify-full&") +
                             key + "=hunter2-XYZ");
    ASSERT_FALSE(url) << key << ": " << url->ToString();
    EXPECT_EQ(url.error().kind(), Error::Kind::kInvalid);
    EXPECT_NE(url.error().message().find(std::string("remove ") + key + "="), std::string::npos)
        << url.error().message();
    EXPECT_EQ(url.error().message().find("hunter2-XYZ"), std::string::npos)
        << url.error().message();
  }
  auto [sc, errors] = Load("store: {url: \"postgresql://db/tocsin?sslpassword=hunter2-XYZ\"}\n");
  EXPECT_NE(errors.find("must not carry a secret"), std::string::npos) << errors;
  EXPECT_EQ(errors.find("hunter2-XYZ"), std::string::npos) << errors;
}

// Regression: a SIGSTOPped active in the middle of a group commit kept its transaction (and
// the FOR SHARE lock of its fence check on the lease row) open forever, blocking failover;
// and a vanished server was noticed only by the kernel's two-hour keepalive.
TEST_F(StoreConfigTest,
       PostgresConnectionsEndIdleTransactionsAndKeepAliveUnlessTheUrlSaysOtherwise) {
  auto url = ParseStoreUrl("postgresql://tocsin@db/tocsin?sslmode=require");
  ASSERT_TRUE(url);
  const std::string conn = url->ConnectionString();
  for (const char* want : {"-c idle_in_transaction_session_timeout=5000", "connect_timeout='10'",
                           "keepalives='1'", "keepalives_idle='10'", "keepalives_interval='5'",
                           "keepalives_count='3'", "tcp_user_timeout='25000'"}) {
    EXPECT_NE(conn.find(want), std::string::npos) << want << " in " << conn;
  }
  EXPECT_EQ(url->ToString(), "postgresql://tocsin@db/tocsin?sslmode=require");
  auto own = ParseStoreUrl(
      "postgresql://db/tocsin?connect_timeout=3&options=-c%20idle_in_transaction_session_timeout%"
      "3D2000");
  ASSERT_TRUE(own);
  const std::string own_conn = own->ConnectionString();
  EXPECT_NE(own_conn.find("connect_timeout='3'"), std::string::npos) << own_conn;
  EXPECT_EQ(own_conn.find("connect_timeout='10'"), std::string::npos) << own_conn;
  // The URL's -c comes last: PostgreSQL applies the last one.
  EXPECT_GT(own_conn.find("idle_in_transaction_session_timeout=2000"),
            own_conn.find("idle_in_transaction_session_timeout=5000"))
      << own_conn;
}

TEST_F(StoreConfigTest, TheEnvironmentOverridesTheFile) {
  ::setenv("TOCSIN_STORE_URL", "postgresql://ops@pg.example:6432/paging", 1);
  auto [sc, errors] = Load("store: {url: \"sqlite:///var/lib/tocsin/tocsin.db\"}\n");
  EXPECT_EQ(errors, "");
  EXPECT_EQ(sc.url.ToString(), "postgresql://ops@pg.example:6432/paging");
  ::setenv("TOCSIN_STORE_URL", "mysql://ops@db/paging", 1);
  auto [bad, env_error] = Load("");
  EXPECT_NE(env_error.find("$TOCSIN_STORE_URL"), std::string::npos) << env_error;
  EXPECT_NE(env_error.find("unknown scheme \"mysql\""), std::string::npos) << env_error;
}

TEST_F(StoreConfigTest, UrlAndPathTogetherAndAnUnknownSchemeAreErrorsWithTheirLine) {
  auto [both, e1] = Load("store:\n  path: x.db\n  url: sqlite:///y.db\n");
  EXPECT_NE(e1.find("tocsin.yaml:4:"), std::string::npos) << e1;
  EXPECT_NE(e1.find("not both"), std::string::npos) << e1;
  auto [scheme, e2] = Load("store:\n  url: mongodb://db/x\n");
  EXPECT_NE(e2.find("tocsin.yaml:3:"), std::string::npos) << e2;
  EXPECT_NE(e2.find("write sqlite:///path/tocsin.db or postgresql://"), std::string::npos) << e2;
  auto [port, e3] = Load("store:\n  url: postgresql://db:fivefour/x\n");
  EXPECT_NE(e3.find("not a number"), std::string::npos) << e3;
}

}  // namespace
}  // namespace tocsin::store

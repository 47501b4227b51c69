#include "support/test_store.h"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <random>

#include <fmt/format.h>

namespace tocsin::testing {

namespace {

std::string FirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

Result<store::StoreUrl> TestPgServer() {
  std::string text;
  std::string password;
  if (const char* env = std::getenv("TOCSIN_TEST_PG_URL"); env != nullptr && *env != '\0') {
    text = env;
    password = store::StorePasswordFromEnvironment();
  } else {
    const std::string dir = TOCSIN_TEST_PG_DIR;
    text = FirstLine(dir + "/url");
    password = FirstLine(dir + "/password");
    if (text.empty()) {
      return Fail(Error::Invalid(fmt::format(
          "no PostgreSQL test server: run the tests through ctest (fixture \"pg\"), or start "
          "one with scripts/pg-cluster start {} (or set TOCSIN_TEST_PG_URL)",
          dir)));
    }
  }
  auto url = store::ParseStoreUrl(text);
  if (!url) return Fail(url.error());
  url->password = password;
  return url;
}

std::unique_ptr<TestStore> TestStore::Create(store::Dialect dialect) {
  std::unique_ptr<TestStore> out(new TestStore());
  if (dialect == store::Dialect::kSqlite) {
    out->url_ = store::StoreUrl::Sqlite(out->dir_.path() + "/tocsin.db");
    return out;
  }
  auto server = TestPgServer();
  if (!server) {
    ADD_FAILURE() << server.error().message();
    return nullptr;
  }
  static std::atomic<int> counter{0};
  std::random_device rd;
  const std::string name =
      fmt::format("tocsin_test_{}_{}_{:x}", getpid(), counter.fetch_add(1), rd() & 0xffffff);
  out->admin_ = *server;
  auto admin = store::Database::Open(out->admin_);
  if (!admin) {
    ADD_FAILURE() << admin.error().message();
    return nullptr;
  }
  if (auto r = (*admin)->Exec("CREATE SCHEMA " + name); !r) {
    ADD_FAILURE() << r.error().message();
    return nullptr;
  }
  out->schema_ = name;
  out->url_ = *server;
  out->url_.params["options"] = "-c search_path=" + name;
  return out;
}

TestStore::~TestStore() {
  if (schema_.empty()) return;
  auto admin = store::Database::Open(admin_);
  if (!admin) return;
  (void)(*admin)->Exec(fmt::format("DROP SCHEMA IF EXISTS {} CASCADE", schema_));
}

std::unique_ptr<store::Database> TestStore::Open() const {
  auto db = store::Database::Open(url_);
  EXPECT_TRUE(db) << db.error().message();
  return db ? std::move(*db) : nullptr;
}

}  // namespace tocsin::testing

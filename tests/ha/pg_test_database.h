#pragma once

// A database of its own for one test on the throwaway PostgreSQL server whose URL CTest's
// fixture puts in TOCSIN_TEST_PG_URL: created empty, dropped at the end, so that test cases
// running side by side never see each other's lease.

#include <cstdlib>
#include <random>
#include <string>

#include <fmt/format.h>
#include <pqxx/pqxx>

namespace tocsin::ha::testing {

class PgTestDatabase {
 public:
  // Empty url() when no server is configured (the test then skips and says why).
  PgTestDatabase() {
    const char* base = std::getenv("TOCSIN_TEST_PG_URL");
    if (base == nullptr || *base == '\0') return;
    base_ = base;
    std::random_device rd;
    name_ = fmt::format("tocsin_ha_test_{:x}", (static_cast<std::uint64_t>(rd()) << 32) | rd());
    pqxx::connection c(base_);
    pqxx::nontransaction n(c);
    n.exec("CREATE DATABASE " + name_);
    url_ = WithDatabase(base_, name_);
  }
  ~PgTestDatabase() {
    if (name_.empty()) return;
    try {
      pqxx::connection c(base_);
      pqxx::nontransaction n(c);
      n.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception&) {
      // The server is going away with the fixture anyway.
    }
  }
  const std::string& url() const { return url_; }

  // Runs one statement on a connection of its own.
  void Exec(const std::string& sql) const {
    pqxx::connection c(url_);
    pqxx::nontransaction n(c);
    n.exec(sql);
  }

 private:
  // postgresql://user@host:port/db?opts -> same with /name.
  static std::string WithDatabase(const std::string& url, const std::string& name) {
    auto scheme = url.find("://");
    auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    auto query = url.find('?');
    std::string head = url.substr(0, std::min(slash, query));
    std::string tail = query == std::string::npos ? "" : url.substr(query);
    return head + "/" + name + tail;
  }

  std::string base_;
  std::string name_;
  std::string url_;
};

}  // namespace tocsin::ha::testing

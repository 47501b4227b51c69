#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <type_traits>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "tocsin/common/clock.h"
#include "tocsin/common/result.h"
#include "tocsin/common/text.h"

namespace tocsin::ha::detail {

// One libpqxx connection of the ha module's own (never the store's: a long store transaction
// must not hold up a lease renewal or a forwarded ack), opened on first use and again after it
// broke; connecting, each statement, and anything sent that the server does not acknowledge
// give up after `timeout`. `url` is a libpq URI or
// key=value string; errors never carry it (it may hold a password). One caller at a time.
class PgSession {
 public:
  PgSession(std::string url, Duration timeout, std::string application_name)
      : url_(std::move(url)), timeout_(timeout), application_name_(std::move(application_name)) {}

  // Runs `fn` on the connection; a broken connection is dropped so the next call opens a new
  // one. Every libpqxx error becomes kTransient.
  template <typename T, typename Fn>
  Result<T> Run(Fn&& fn) {
    try {
      if (!conn_ || !conn_->is_open()) Connect();
      if constexpr (std::is_void_v<T>) {
        fn(*conn_);
        return {};
      } else {
        return fn(*conn_);
      }
    } catch (const pqxx::broken_connection& e) {
      conn_.reset();
      return Fail(Error::Transient(fmt::format("PostgreSQL connection: {}", TrimSpace(e.what()))));
    } catch (const std::exception& e) {
      if (conn_ && !conn_->is_open()) conn_.reset();
      return Fail(Error::Transient(fmt::format("PostgreSQL: {}", TrimSpace(e.what()))));
    }
  }

 private:
  void Connect() {
    conn_.reset();
    auto secs =
        std::max<long long>(1, std::chrono::duration_cast<std::chrono::seconds>(timeout_).count());
    // A request the server never acknowledges (a cut network) fails after `timeout` too, so
    // the next poll runs on a new connection instead of waiting for TCP's retransmissions.
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(timeout_).count();
    std::string url = url_;
    if (url.find("://") != std::string::npos) {
      url += (url.find('?') == std::string::npos ? "?" : "&");
      url += fmt::format("connect_timeout={}&tcp_user_timeout={}", secs, millis);
    } else {
      url += fmt::format(" connect_timeout={} tcp_user_timeout={}", secs, millis);
    }
    conn_ = std::make_unique<pqxx::connection>(url);
    pqxx::nontransaction n(*conn_);
    n.exec(fmt::format("SET statement_timeout = {}", timeout_.count()));
    n.exec(fmt::format("SET lock_timeout = {}", timeout_.count()));
    n.exec(fmt::format("SET application_name = '{}'", application_name_));
  }

  std::string url_;
  Duration timeout_;
  std::string application_name_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace tocsin::ha::detail

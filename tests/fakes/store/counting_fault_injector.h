#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "tocsin/store/database.h"

namespace tocsin::store::testkit {

// Counts every write and commit a Database asks about and fails exactly one: the n-th of the
// chosen kind (1-based), the way LevelDB's tests make the n-th file operation fail. Remembers
// what it failed, so a test can tell which transition the fault hit. Thread-safe.
class CountingFaultInjector final : public FaultInjector {
 public:
  CountingFaultInjector() = default;
  CountingFaultInjector(StoreOp op, int n) : fail_op_(op), fail_n_(n) {}

  std::optional<Error> Before(StoreOp op, std::string_view sql) override {
    std::lock_guard lock(mu_);
    int n = op == StoreOp::kWrite ? ++writes_ : ++commits_;
    if (op == StoreOp::kWrite) uncommitted_.emplace_back(sql);
    if (fail_n_ > 0 && op == fail_op_ && n == fail_n_) {
      fired_ = true;
      failed_sql_ = std::string(sql);
      failed_writes_ = op == StoreOp::kWrite ? std::vector<std::string>{failed_sql_} : uncommitted_;
      uncommitted_.clear();
      return Error::Io(fmt::format("injected fault: {} #{} failed (disk I/O error): {}",
                                   op == StoreOp::kWrite ? "write" : "commit", n,
                                   std::string_view(failed_sql_).substr(0, 60)));
    }
    if (op == StoreOp::kCommit) uncommitted_.clear();
    return std::nullopt;
  }

  int writes() const {
    std::lock_guard lock(mu_);
    return writes_;
  }
  int commits() const {
    std::lock_guard lock(mu_);
    return commits_;
  }
  bool fired() const {
    std::lock_guard lock(mu_);
    return fired_;
  }
  // The statement that failed ("COMMIT" for an explicit commit).
  std::string failed_sql() const {
    std::lock_guard lock(mu_);
    return failed_sql_;
  }
  // The writes the fault kept out of the database: the failed write, or every write of the
  // transaction whose commit failed.
  std::vector<std::string> lost_writes() const {
    std::lock_guard lock(mu_);
    return failed_writes_;
  }

 private:
  mutable std::mutex mu_;
  StoreOp fail_op_ = StoreOp::kWrite;
  int fail_n_ = 0;  // 0: count only
  int writes_ = 0;
  int commits_ = 0;
  bool fired_ = false;
  std::string failed_sql_;
  std::vector<std::string> uncommitted_;
  std::vector<std::string> failed_writes_;
};

}  // namespace tocsin::store::testkit

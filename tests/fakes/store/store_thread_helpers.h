#pragma once

#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <thread>

#include "tocsin/store/database.h"
#include "tocsin/store/store_thread.h"

namespace tocsin::store::testkit {

// Records the thread of every write and commit a connection is asked about, so a test can
// say which thread touched the database without timing anything. Thread-safe.
class ThreadRecordingInjector final : public FaultInjector {
 public:
  std::optional<Error> Before(StoreOp, std::string_view) override {
    std::lock_guard lock(mu_);
    threads_.insert(std::this_thread::get_id());
    ++calls_;
    return std::nullopt;
  }
  std::set<std::thread::id> threads() {
    std::lock_guard lock(mu_);
    return threads_;
  }
  int calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::set<std::thread::id> threads_;
  int calls_ = 0;
};

// Holds the store thread inside a write of its own (which writes nothing) until the returned
// promise is set, so that everything submitted meanwhile queues up as one group. `done` is
// that write's completion.
inline std::promise<void> HoldStoreThread(
    StoreThread& store, StoreThread::Done done = [](Result<void>) {}) {
  std::promise<void> release;
  auto entered = std::make_shared<std::promise<void>>();
  auto entered_f = entered->get_future();
  auto release_f = release.get_future().share();
  store.Submit(
      [entered, release_f](Database&) -> Result<void> {
        entered->set_value();
        release_f.wait();
        return {};
      },
      std::move(done));
  entered_f.wait();
  return release;
}

}  // namespace tocsin::store::testkit

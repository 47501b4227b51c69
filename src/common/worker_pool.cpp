#include "tocsin/common/worker_pool.h"

#include <chrono>
#include <cstdint>
#include <exception>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "tocsin/common/log.h"

namespace tocsin {

struct WorkerPool::Impl {
  Impl(std::size_t threads, std::string n, std::function<void()> f)
      : pool(threads), name(std::move(n)), on_failure(std::move(f)) {}
  boost::asio::thread_pool pool;
  const std::string name;
  const std::function<void()> on_failure;
  bool joined = false;
  log::RepeatLimiter failures;

  void Failed(const char* what) {
    if (on_failure) on_failure();
    auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
                   .count();
    if (auto note = failures.Pass(what, static_cast<std::uint64_t>(now))) {
      spdlog::error("{}: a task failed and was abandoned: {}; the pool goes on{}", name, what,
                    *note);
    }
  }
};

WorkerPool::WorkerPool(std::size_t threads, std::string name, std::function<void()> on_failure)
    : impl_(std::make_unique<Impl>(threads, std::move(name), std::move(on_failure))) {}

WorkerPool::~WorkerPool() { Join(); }

void WorkerPool::Submit(std::function<void()> work) {
  boost::asio::post(impl_->pool, [impl = impl_.get(), work = std::move(work)] {
    try {
      work();
    } catch (const std::exception& e) {
      impl->Failed(e.what());
    } catch (...) {
      impl->Failed("not a std::exception");
    }
  });
}

void WorkerPool::Join() {
  if (impl_->joined) return;
  impl_->joined = true;
  impl_->pool.join();
}

}  // namespace tocsin

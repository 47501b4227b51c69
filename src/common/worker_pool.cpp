#include "tocsin/common/worker_pool.h"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

namespace tocsin {

struct WorkerPool::Impl {
  explicit Impl(std::size_t threads) : pool(threads) {}
  boost::asio::thread_pool pool;
  bool joined = false;
};

WorkerPool::WorkerPool(std::size_t threads) : impl_(std::make_unique<Impl>(threads)) {}

WorkerPool::~WorkerPool() { Join(); }

void WorkerPool::Submit(std::function<void()> work) {
  boost::asio::post(impl_->pool, std::move(work));
}

void WorkerPool::Join() {
  if (impl_->joined) return;
  impl_->joined = true;
  impl_->pool.join();
}

}  // namespace tocsin

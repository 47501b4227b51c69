#include "tocsin/common/asio_scheduler.h"

#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace tocsin {

struct AsioScheduler::Impl {
  explicit Impl(boost::asio::io_context& io_context) : io(io_context) {}
  boost::asio::io_context& io;
  std::unordered_map<TimerId, std::unique_ptr<boost::asio::steady_timer>> timers;
  TimerId next_id = 1;
};

AsioScheduler::AsioScheduler(boost::asio::io_context& io, const Clock& clock)
    : impl_(std::make_unique<Impl>(io)), clock_(clock) {}

AsioScheduler::~AsioScheduler() {
  for (auto& [id, timer] : impl_->timers) timer->cancel();
}

TimerId AsioScheduler::ScheduleAt(TimePoint at, Callback cb) {
  TimerId id = impl_->next_id++;
  auto timer = std::make_unique<boost::asio::steady_timer>(impl_->io);
  auto delay = at - clock_.Now();
  if (delay.count() < 0) delay = Duration(0);
  timer->expires_after(delay);
  timer->async_wait([this, id, cb = std::move(cb)](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled
    // Erase first: the callback may schedule or cancel other timers.
    auto node = impl_->timers.extract(id);
    if (node.empty()) return;
    cb();
  });
  impl_->timers.emplace(id, std::move(timer));
  return id;
}

bool AsioScheduler::Cancel(TimerId id) {
  auto node = impl_->timers.extract(id);
  if (node.empty()) return false;
  node.mapped()->cancel();
  // The handler still holds no reference to the timer object; destroying it here completes
  // the wait with operation_aborted, which the handler ignores.
  return true;
}

void AsioScheduler::Post(Callback cb) { boost::asio::post(impl_->io, std::move(cb)); }

}  // namespace tocsin

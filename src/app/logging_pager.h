#pragma once

#include "tocsin/incident/page.h"

namespace tocsin::app {

// Stand-in Pager until the notify module's durable outbox is wired in: logs each request. It
// delivers nothing, so `tocsin serve` says so loudly at start. Loop thread only.
class LoggingPager final : public incident::Pager {
 public:
  void Send(const incident::PageRequest& request) override;
};

}  // namespace tocsin::app

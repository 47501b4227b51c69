#pragma once

#include "tocsin/dispatch/alert_group.h"

namespace tocsin::dispatch {

// Stand-in consumer of flushed groups until the incident module is wired in: logs each flush
// (receiver, group labels, alert and cause counts). Loop thread only.
class LoggingGroupSink final : public GroupSink {
 public:
  void OnGroupFlush(const AlertGroup& group, TimePoint now) override;
};

}  // namespace tocsin::dispatch

#pragma once

#include "tocsin/dispatch/alert_group.h"

namespace tocsin::app {

// Sends each flushed group where its receiver says: receivers with an escalation policy open
// incidents (whose pages and Slack message carry the group), the others only send notices.
// One place decides, so a paging group is never also posted as a plain notice. Loop thread.
class GroupRouter final : public dispatch::GroupSink {
 public:
  GroupRouter(dispatch::GroupSink& incidents, dispatch::GroupSink& notices)
      : incidents_(incidents), notices_(notices) {}
  void OnGroupFlush(const dispatch::AlertGroup& group, TimePoint now) override;

 private:
  dispatch::GroupSink& incidents_;
  dispatch::GroupSink& notices_;
};

}  // namespace tocsin::app

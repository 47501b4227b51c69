#pragma once

#include <optional>
#include <string>

#include "tocsin/common/result.h"

namespace tocsin::notify {

// Where an incident's Slack message is: the channel id and ts chat.postMessage returned.
struct SlackMessageRef {
  std::string channel;
  std::string ts;
  friend bool operator==(const SlackMessageRef&, const SlackMessageRef&) = default;
};

// Durable map incident id -> Slack message, so chat.update and thread replies find the
// message after a restart. Implemented by the outbox store (same database, module "notify").
// Thread-safety: safe from any thread (the Slack notifier calls it off-loop).
class SlackThreadStore {
 public:
  virtual ~SlackThreadStore() = default;
  virtual std::optional<SlackMessageRef> FindSlackMessage(const std::string& incident_id) = 0;
  virtual Result<void> SaveSlackMessage(const std::string& incident_id,
                                        const SlackMessageRef& ref) = 0;
};

}  // namespace tocsin::notify

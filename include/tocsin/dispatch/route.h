#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tocsin/common/labels.h"
#include "tocsin/dispatch/alert_group.h"
#include "tocsin/dispatch/dispatch_config.h"

namespace tocsin::dispatch {

// The routing tree built from RouteConfig: decides which receiver(s) an alert goes to and how
// it is grouped. Matching is Alertmanager's: depth-first, the deepest matching route wins, and
// siblings after a match are tried only when it has `continue`. Immutable once built, so it
// can be shared by the dispatcher and API handlers on the loop thread.
class Route {
 public:
  // `receivers` must hold every receiver the config names (LoadDispatchConfig checked it).
  static std::unique_ptr<Route> Build(const RouteConfig& config,
                                      const std::vector<Receiver>& receivers);

  // The routes an alert with `labels` goes to, in tree order; never empty for the root.
  std::vector<const Route*> Match(const Labels& labels) const;
  // The group this alert joins under this route.
  Labels GroupLabels(const Labels& labels) const;
  // Hash of (path, GroupLabels(labels)) without building them: alerts of one group hash alike.
  std::uint64_t GroupHash(const Labels& labels) const;
  // Whether GroupLabels(labels) == group_labels, without building them.
  bool InGroup(const Labels& group_labels, const Labels& labels) const;

  // Stable identity of the route: parent path plus this route's matchers, e.g.
  // `{}/{severity="critical"}/{service=~"pay.*"}`; sibling routes with identical matchers get
  // their index appended.
  const std::string& path() const { return path_; }
  const Receiver& receiver() const { return receiver_; }
  const RouteConfig& config() const { return config_; }
  const std::vector<std::unique_ptr<Route>>& children() const { return children_; }

 private:
  // `path`: the node's own path, which its parent made unique among its siblings.
  static std::unique_ptr<Route> BuildNode(const RouteConfig& config,
                                          const std::vector<Receiver>& receivers, std::string path);
  // Whether label `name` is one this route groups by.
  bool GroupsBy(const std::string& name) const;
  // Returns whether this route or a descendant matched.
  bool MatchInto(const Labels& labels, std::vector<const Route*>& out) const;

  RouteConfig config_;
  Receiver receiver_;
  std::string path_;
  bool group_by_all_ = false;
  std::uint64_t path_hash_ = 0;
  std::vector<std::unique_ptr<Route>> children_;
};

}  // namespace tocsin::dispatch

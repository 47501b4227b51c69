#include "tocsin/dispatch/route.h"

#include <algorithm>
#include <set>

namespace tocsin::dispatch {

std::unique_ptr<Route> Route::Build(const RouteConfig& config,
                                    const std::vector<Receiver>& receivers) {
  return BuildNode(config, receivers, "");
}

std::unique_ptr<Route> Route::BuildNode(const RouteConfig& config,
                                        const std::vector<Receiver>& receivers,
                                        const std::string& parent_path) {
  std::unique_ptr<Route> r(new Route());
  r->config_ = config;
  r->config_.routes.clear();
  auto it = std::find_if(receivers.begin(), receivers.end(),
                         [&](const Receiver& rc) { return rc.name == config.receiver; });
  r->receiver_ = it != receivers.end() ? *it : Receiver{config.receiver, "", {}};
  r->path_ = parent_path.empty() ? MatchersToString(config.matchers)
                                 : parent_path + "/" + MatchersToString(config.matchers);
  r->group_by_all_ =
      std::find(config.group_by.begin(), config.group_by.end(), "...") != config.group_by.end();
  std::set<std::string> seen;
  for (std::size_t i = 0; i < config.routes.size(); ++i) {
    auto child = BuildNode(config.routes[i], receivers, r->path_);
    // Two siblings with the same matchers would share groups; keep them apart.
    if (!seen.insert(child->path_).second) child->path_ += "#" + std::to_string(i);
    r->children_.push_back(std::move(child));
  }
  return r;
}

std::vector<const Route*> Route::Match(const Labels& labels) const {
  std::vector<const Route*> out;
  MatchInto(labels, out);
  return out;
}

bool Route::MatchInto(const Labels& labels, std::vector<const Route*>& out) const {
  if (!MatchesAll(config_.matchers, labels)) return false;
  bool child_matched = false;
  for (const auto& child : children_) {
    if (child->MatchInto(labels, out)) {
      child_matched = true;
      if (!child->config_.continue_matching) break;
    }
  }
  if (!child_matched) out.push_back(this);
  return true;
}

Labels Route::GroupLabels(const Labels& labels) const {
  if (group_by_all_) return labels;
  return labels.Only(config_.group_by);
}

}  // namespace tocsin::dispatch

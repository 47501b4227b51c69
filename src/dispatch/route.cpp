#include "tocsin/dispatch/route.h"

#include <algorithm>
#include <set>

namespace tocsin::dispatch {

std::unique_ptr<Route> Route::Build(const RouteConfig& config,
                                    const std::vector<Receiver>& receivers) {
  return BuildNode(config, receivers, MatchersToString(config.matchers));
}

std::unique_ptr<Route> Route::BuildNode(const RouteConfig& config,
                                        const std::vector<Receiver>& receivers, std::string path) {
  std::unique_ptr<Route> r(new Route());
  r->config_ = config;
  r->config_.routes.clear();
  auto it = std::find_if(receivers.begin(), receivers.end(),
                         [&](const Receiver& rc) { return rc.name == config.receiver; });
  r->receiver_ = it != receivers.end() ? *it : Receiver{config.receiver, "", {}};
  r->path_ = std::move(path);
  r->group_by_all_ =
      std::find(config.group_by.begin(), config.group_by.end(), "...") != config.group_by.end();
  r->path_hash_ = Fnv1a64(r->path_);
  std::set<std::string> seen;
  for (std::size_t i = 0; i < config.routes.size(); ++i) {
    std::string child_path = r->path_ + "/" + MatchersToString(config.routes[i].matchers);
    // Two siblings with the same matchers would share groups; keep them apart, and their
    // subtrees with them (the suffix is part of every descendant's path).
    if (!seen.insert(child_path).second) child_path += "#" + std::to_string(i);
    r->children_.push_back(BuildNode(config.routes[i], receivers, std::move(child_path)));
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

bool Route::GroupsBy(const std::string& name) const {
  return group_by_all_ || std::find(config_.group_by.begin(), config_.group_by.end(), name) !=
                              config_.group_by.end();
}

std::uint64_t Route::GroupHash(const Labels& labels) const {
  std::uint64_t h = path_hash_;
  for (const auto& l : labels) {
    if (GroupsBy(l.name)) h = Labels::HashStep(h, l);
  }
  return h;
}

bool Route::InGroup(const Labels& group_labels, const Labels& labels) const {
  // Both are sorted by name, so the grouped labels of `labels` come in group_labels' order.
  auto g = group_labels.begin();
  for (const auto& l : labels) {
    if (!GroupsBy(l.name)) continue;
    if (g == group_labels.end() || g->name != l.name || g->value != l.value) return false;
    ++g;
  }
  return g == group_labels.end();
}

}  // namespace tocsin::dispatch

// GET /api/v2/alerts/groups: the active alerts by (route, group labels), ordered as
// Alertmanager orders them, so that amtool and dashboards written for Alertmanager read the
// same answer from tocsin.
#include <re2/re2.h>

#include <algorithm>
#include <map>

#include "alertmanager_json.h"
#include "tocsin/dispatch/route.h"

namespace tocsin::dispatch::amjson {

namespace {

// Prometheus' LabelSet.Before: fewer labels first, then the first differing label in name
// order (a set that lacks the name sorts first), then by value.
bool LabelsBefore(const Labels& a, const Labels& b) {
  if (a.size() != b.size()) return a.size() < b.size();
  std::vector<std::string_view> names;
  for (const auto& l : a) names.push_back(l.name);
  for (const auto& l : b) names.push_back(l.name);
  std::sort(names.begin(), names.end());
  for (auto name : names) {
    auto va = a.Get(name);
    if (!va) return true;
    auto vb = b.Get(name);
    if (!vb) return false;
    if (*va != *vb) return *va < *vb;
  }
  return false;
}

// Alertmanager's AlertSlice order: by `job`, then `instance` (an alert with the label before
// one without), then LabelsBefore.
bool AlertBefore(const Labels& a, const Labels& b) {
  for (std::string_view key : {"job", "instance"}) {
    auto va = a.Get(key);
    auto vb = b.Get(key);
    if (!va && !vb) continue;
    if (!va) return false;
    if (!vb) return true;
    if (*va != *vb) return *va < *vb;
  }
  return LabelsBefore(a, b);
}

struct Member {
  std::uint64_t fingerprint;
  const StoredAlert* alert;
  Labels labels;
  MuteStatus status;
};

struct Group {
  std::string receiver;
  Labels labels;
  std::vector<const Member*> members;
};

}  // namespace

http::Response AlertGroupsAnswer(const Dispatcher& dispatcher, const http::Request& req,
                                 TimePoint now) {
  auto query = ParseAlertQuery(req);
  if (!query) return JsonError(400, query.error().message());
  auto receiver_re = ReceiverFilter(*query);
  if (!receiver_re) return JsonError(400, receiver_re.error().message());

  // Members live in a map so that the groups' pointers stay valid while it fills.
  std::map<std::uint64_t, Member> members;
  std::map<std::pair<std::string, Labels>, Group> groups;  // by (route path, group labels)
  std::map<std::uint64_t, std::vector<std::string>> receivers;
  dispatcher.ForEachActiveAlert(now, [&](Fingerprint fp, const StoredAlert& a,
                                         const std::vector<std::string>&) {
    Labels labels = a.labels();
    if (!MatchesAll(query->filter, labels)) return;
    MuteStatus status = dispatcher.StatusOf(labels, now);
    if (!PassesStateFilter(*query, status)) return;
    const Member* member = nullptr;
    for (const Route* route : dispatcher.route().Match(labels)) {
      const std::string& receiver = route->receiver().name;
      if (*receiver_re && !RE2::FullMatch(receiver, **receiver_re)) continue;
      if (!member) {
        member = &members.emplace(fp.value(), Member{fp.value(), &a, labels, status}).first->second;
      }
      Labels group_labels = route->GroupLabels(labels);
      auto& g = groups[{route->path(), group_labels}];
      g.receiver = receiver;
      g.labels = std::move(group_labels);
      g.members.push_back(member);
      receivers[fp.value()].push_back(receiver);
    }
  });

  std::vector<Group*> ordered;
  for (auto& [key, g] : groups) ordered.push_back(&g);
  std::sort(ordered.begin(), ordered.end(), [](const Group* x, const Group* y) {
    if (x->labels == y->labels) return x->receiver < y->receiver;
    return LabelsBefore(x->labels, y->labels);
  });
  for (auto& [fp, names] : receivers) std::sort(names.begin(), names.end());

  const TimePoint open_end = OpenEnd(dispatcher, now);
  std::string out = "[";
  for (Group* g : ordered) {
    std::sort(g->members.begin(), g->members.end(),
              [](const Member* x, const Member* y) { return AlertBefore(x->labels, y->labels); });
    if (out.size() > 1) out.push_back(',');
    out += "{\"labels\":{";
    bool first = true;
    for (const auto& l : g->labels) {
      if (!first) out.push_back(',');
      first = false;
      AppendEscaped(out, l.name);
      out.push_back(':');
      AppendEscaped(out, l.value);
    }
    out += "},\"receiver\":{\"name\":";
    AppendEscaped(out, g->receiver);
    out += "},\"alerts\":[";
    for (std::size_t i = 0; i < g->members.size(); ++i) {
      const Member& m = *g->members[i];
      if (i) out.push_back(',');
      AppendGettableAlert(out, m.fingerprint, *m.alert, receivers[m.fingerprint], m.status,
                          open_end);
    }
    out += "]}";
  }
  out.push_back(']');
  return http::Response::Json(200, std::move(out));
}

}  // namespace tocsin::dispatch::amjson

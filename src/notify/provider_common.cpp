#include "notify/provider_common.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "tocsin/common/labels.h"
#include "tocsin/common/text.h"

namespace tocsin::notify {

std::string Iso8601(TimePoint t) {
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", secs);
}

std::string BoundedKey(const std::string& key, std::size_t max) {
  if (key.size() <= max) return key;
  std::string hash = fmt::format("{:016x}", Fnv1a64(key));
  std::size_t keep = max > hash.size() + 1 ? max - hash.size() - 1 : 0;
  keep = Utf8Boundary(key, keep);
  return key.substr(0, keep) + "~" + hash;
}

nlohmann::json OpsAlertTags(incident::Sev sev, const PageText& t) {
  nlohmann::json tags = nlohmann::json::array();
  auto add = [&tags](const std::string& tag) {
    if (tag.empty() || tags.size() >= 20) return;
    tags.push_back(TruncateUtf8(tag, 50));
  };
  add(SevName(sev));
  add(t.alertname);
  for (const char* l : {"service", "psp", "market", "region"}) {
    if (auto it = t.labels.find(l); it != t.labels.end()) add(std::string(l) + ":" + it->second);
  }
  return tags;
}

nlohmann::json OpsAlertDetails(const incident::PageRequest& r, const PageText& t,
                               bool with_action) {
  nlohmann::json details = {{"incident", r.incident_id}, {"step", std::to_string(r.step + 1)}};
  if (!t.where.empty()) details["where"] = t.where;
  if (!t.how_much.empty()) details["how_much"] = t.how_much;
  if (with_action && !t.action.empty()) details["action"] = t.action;
  if (!t.runbook_url.empty()) details["runbook"] = t.runbook_url;
  if (!t.dashboard_url.empty()) details["dashboard"] = t.dashboard_url;
  if (!t.incident_url.empty()) details["tocsin"] = t.incident_url;
  if (r.drill) details["drill"] = "true";
  return details;
}

}  // namespace tocsin::notify

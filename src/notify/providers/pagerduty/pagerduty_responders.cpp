#include "notify/providers/pagerduty/pagerduty_responders.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "notify/retrier.h"
#include "tocsin/common/json.h"

namespace tocsin::notify {

using nlohmann::json;

PagerDutyResponders::PagerDutyResponders(const config::PagerDutyConfig& config,
                                         std::shared_ptr<HttpClient> http,
                                         ResponderRequestStore* store)
    : api_url_(config.api_url),
      token_(config.api_token),
      from_(config.from),
      requester_id_(config.requester_id),
      http_(std::move(http)),
      store_(store) {
  while (!api_url_.empty() && api_url_.back() == '/') api_url_.pop_back();
}

HttpClientRequest PagerDutyResponders::Request(std::string method, std::string path,
                                               std::string body) const {
  HttpClientRequest req;
  req.method = std::move(method);
  req.url = api_url_ + path;
  req.headers = {{"Authorization", "Token token=" + token_},
                 {"Accept", "application/vnd.pagerduty+json;version=2"},
                 {"From", from_}};
  if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
  req.body = std::move(body);
  return req;
}

DeliveryResult PagerDutyResponders::AddPeople(const std::string& dedup_key,
                                              const std::string& request_key,
                                              const std::string& message,
                                              const std::vector<Person>& people, TimePoint at) {
  // Whom an earlier attempt of this step (in this process or before a restart) already added.
  std::set<std::string> earlier;
  if (store_) {
    auto stored = store_->Requested(request_key);
    if (!stored) {
      return DeliveryResult::Retry(
          0, fmt::format("pagerduty REST: cannot read which people were already requested ({}); "
                         "nobody added yet",
                         stored.error().message()));
    }
    earlier = std::move(*stored);
  }
  // The open incident of this dedup key (after a resolve the same key opens a new one).
  auto found = http_->Send(Request("GET", "/incidents?incident_key=" + UrlEncode(dedup_key) +
                                              "&statuses%5B%5D=triggered"
                                              "&statuses%5B%5D=acknowledged"));
  DeliveryResult lookup = ClassifyHttp("pagerduty REST", found);
  if (!lookup.ok()) {
    lookup.detail = "looking up the incident to add people to: " + lookup.detail;
    return lookup;
  }
  std::string incident_id;
  std::set<std::string> assigned;
  try {
    json j = json::parse(found->body);
    for (const auto& inc : j.at("incidents")) {
      if (inc.value("incident_key", "") != dedup_key) continue;
      incident_id = inc.at("id").get<std::string>();
      for (const auto& a : inc.value("assignments", json::array())) {
        assigned.insert(a.at("assignee").value("id", ""));
      }
      break;
    }
  } catch (const json::exception&) {
    return DeliveryResult::Retry(found->status,
                                 "pagerduty REST: the incident list is not the JSON expected");
  }
  if (incident_id.empty()) {
    // PagerDuty opens the incident a moment after it accepts the event.
    return DeliveryResult::Retry(
        found->status,
        fmt::format("pagerduty REST: no open incident for dedup key {} yet; nobody added yet",
                    dedup_key),
        std::chrono::seconds(5));
  }

  std::vector<std::string> paged, already, failed;
  DeliveryResult worst = DeliveryResult::Ok(200);
  for (const auto& p : people) {
    std::string who = fmt::format("{} ({})", p.id, p.user_id);
    std::string memo = request_key + "\n" + p.user_id;
    bool requested = earlier.count(p.user_id) > 0;
    {
      std::lock_guard lock(mu_);
      requested = requested || requested_.count(memo) > 0;
    }
    if (assigned.count(p.user_id)) {
      already.push_back(who + " assigned");
      continue;
    }
    if (requested) {
      already.push_back(who + " requested earlier");
      continue;
    }
    json body = {{"requester_id", requester_id_},
                 {"message", message},
                 {"responder_request_targets",
                  json::array({{{"responder_request_target",
                                 {{"id", p.user_id}, {"type", "user_reference"}}}}})}};
    auto r = http_->Send(Request(
        "POST", "/incidents/" + UrlEncode(incident_id) + "/responder_requests", DumpJson(body)));
    DeliveryResult one = ClassifyHttp("pagerduty REST", r);
    if (one.ok()) {
      {
        std::lock_guard lock(mu_);
        const auto now = std::chrono::steady_clock::now();
        requested_[memo] = now;
        if (requested_.size() >= 2 * requested_after_prune_ + 64) {
          std::erase_if(requested_,
                        [&](const auto& kv) { return kv.second + std::chrono::hours(25) < now; });
          requested_after_prune_ = requested_.size();
        }
      }
      paged.push_back(who);
      if (store_) {
        if (auto saved = store_->SaveRequested(request_key, dedup_key, p.user_id, incident_id, at);
            !saved) {
          // The person is paged; failing the step would page them again. This process still
          // remembers it; only a restart before the step ends could repeat it.
          spdlog::error("pagerduty: responder request for {} accepted but not stored: {}", p.id,
                        saved.error().message());
        }
      }
      continue;
    }
    failed.push_back(fmt::format("{} ({})", who, one.detail));
    // A retry beats a permanent failure: the retry sends the whole step again, and whoever was
    // added by then is skipped.
    if (worst.ok() || one.outcome == DeliveryResult::Outcome::kRetry) worst = one;
  }
  std::string detail = fmt::format("PagerDuty incident {}", incident_id);
  if (!paged.empty())
    detail += fmt::format("; paged by responder request: {}", fmt::join(paged, ", "));
  if (!already.empty()) detail += fmt::format("; already on it: {}", fmt::join(already, ", "));
  if (!failed.empty()) detail += fmt::format("; NOT paged: {}", fmt::join(failed, ", "));
  worst.detail = detail;
  return worst;
}

}  // namespace tocsin::notify

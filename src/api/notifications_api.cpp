#include "tocsin/api/notifications_api.h"

#include <fmt/format.h>

#include "api_response.h"
#include "tocsin/common/duration.h"
#include "tocsin/oncall/schedule.h"

namespace tocsin::notify {

namespace {

using api::ErrorResponse;
using api::JsonResponse;
using nlohmann::json;

json EntryJson(const DeliveryLogEntry& e) {
  json j = {{"id", e.id},
            {"provider", e.provider},
            {"queued_for", e.queued_for},
            {"kind", e.kind},
            {"person", e.person},
            {"incident", e.incident},
            {"state", e.state},
            {"attempts", e.attempts},
            {"status", e.status ? json(*e.status) : json(nullptr)},
            {"answer", e.answer},
            {"queued_at", FormatRfc3339(e.queued_at)},
            {"done_at", e.done_at ? json(FormatRfc3339(*e.done_at)) : json(nullptr)},
            {"latency_ms", nullptr}};
  // A superseded row was never sent: it has no latency to speak of.
  if (e.done_at && (e.state == "sent" || e.state == "failed")) {
    j["latency_ms"] = ToUnixMillis(*e.done_at) - ToUnixMillis(e.queued_at);
  }
  return j;
}

}  // namespace

void RegisterNotificationsApi(http::Router& router, std::function<DeliveryLog*()> log) {
  router.AddSync(
      "GET", "/api/v1/notifications", http::Access::kViewer,
      [log = std::move(log)](const http::Request& r) {
        DeliveryLog* l = log ? log() : nullptr;
        if (l == nullptr) {
          return ErrorResponse(Error::Transient("the delivery log is not open yet"));
        }
        DeliveryLogFilter f;
        f.provider = r.Query("provider").value_or("");
        f.person = r.Query("person").value_or("");
        f.incident = r.Query("incident").value_or("");
        f.state = r.Query("state").value_or("");
        if (!f.state.empty() && f.state != "pending" && f.state != "sent" && f.state != "failed" &&
            f.state != "superseded") {
          return ErrorResponse(Error::Invalid("state: pending, sent, failed or superseded"));
        }
        if (auto since = r.Query("since"); since && !since->empty()) {
          f.since = oncall::ParseLocalTime(*since, "UTC");
          if (!f.since) {
            return ErrorResponse(
                Error::Invalid("since: expected RFC 3339 (2026-11-22T08:00:00Z) or a date"));
          }
        }
        auto before = api::IntQuery(r, "before", 0, 0, 2147483647);
        if (!before) return ErrorResponse(before.error());
        auto limit = api::IntQuery(r, "limit", 50, 1, 500);
        if (!limit) return ErrorResponse(limit.error());
        f.before_id = *before;
        f.limit = *limit;
        auto page = l->List(f);
        if (!page) return ErrorResponse(page.error());
        json entries = json::array();
        for (const auto& e : page->entries) entries.push_back(EntryJson(e));
        return JsonResponse(
            200, json{{"notifications", entries},
                      {"next_before",
                       page->next_before_id == 0 ? json(nullptr) : json(page->next_before_id)}});
      });
}

}  // namespace tocsin::notify

// The Alertmanager API v2 routes and tocsin's GET /api/v1/groups: each handler reads the
// request, asks the dispatcher or the silences, and answers; the JSON lives in
// alertmanager_alerts_json.cpp and alertmanager_silences_json.cpp.
#include "tocsin/api/alertmanager_api.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <nlohmann/json.hpp>

#include "alertmanager_json.h"
#include "tocsin/common/duration.h"
#include "tocsin/common/json.h"
#include "tocsin/common/json_fields.h"

namespace tocsin::dispatch {

using amjson::JsonError;
using json = nlohmann::json;

namespace {

http::Response IngestAnswer(const std::vector<std::string>& errors, std::size_t accepted) {
  if (errors.empty()) return http::Response::Json(200, "");
  // A body that is not a list of alerts held no alert to count ("body must be ...").
  if (accepted == 0 && errors.size() == 1 && errors[0].starts_with("body ")) {
    return JsonError(400, errors[0]);
  }
  std::string msg =
      fmt::format("{} of {} alerts rejected: ", errors.size(), errors.size() + accepted);
  for (std::size_t i = 0; i < errors.size() && i < 20; ++i) msg += (i ? "; " : "") + errors[i];
  if (errors.size() > 20) msg += fmt::format("; and {} more", errors.size() - 20);
  return JsonError(400, msg);
}

// A full queue is back-pressure, not the request's fault: 503 with Retry-After tells the sender
// to come back (Prometheus sends the alerts again with its next re-send), where a 4xx would say
// the batch itself is wrong.
http::Response IntakeAnswer(const IntakeOutcome& out) {
  if (out.failed) return JsonError(500, out.errors.empty() ? "internal error" : out.errors[0]);
  if (!out.refused) return IngestAnswer(out.errors, out.accepted);
  auto seconds = std::max<long long>(
      1, std::chrono::duration_cast<std::chrono::seconds>(out.retry_after).count());
  auto r = JsonError(503, fmt::format("alert intake queue is full ({} batches waiting to be "
                                      "applied); nothing of this batch was taken, send it again "
                                      "in {} s",
                                      out.queue_depth, seconds));
  r.headers["Retry-After"] = std::to_string(seconds);
  return r;
}

http::Response Refused(const ApiBuildInfo::Refusal& r) {
  auto seconds = std::max<long long>(
      1, std::chrono::duration_cast<std::chrono::seconds>(r.retry_after).count());
  auto out = JsonError(
      503,
      fmt::format("{}; nothing of this batch was taken, send it again in {} s", r.why, seconds));
  out.headers["Retry-After"] = std::to_string(seconds);
  return out;
}

// 404 for an unknown silence, 400 for one that breaks the rules, 500 when it was not stored.
int StatusOf(const Error& e) {
  return e.kind() == Error::Kind::kNotFound ? 404 : e.kind() == Error::Kind::kInvalid ? 400 : 500;
}

}  // namespace

void RegisterAlertmanagerApi(http::Router& router, Dispatcher& dispatcher, Silences& silences,
                             const Clock& clock, ApiBuildInfo info, AlertIntake* intake) {
  // Who may call each route, declared with it (docs/api.md): reads need viewer, changes
  // responder, alert intake its own access, which has no per-minute budget.
  constexpr auto kRead = http::Access::kViewer;
  constexpr auto kWrite = http::Access::kResponder;
  constexpr auto kIntake = http::Access::kIntake;
  auto refusal = info.intake_refusal;
  if (intake != nullptr) {
    router.Add(
        "POST", "/api/v2/alerts", kIntake,
        [&dispatcher, &clock, intake, refusal](http::Request& req, http::Respond respond) {
          if (auto r = refusal ? refusal() : std::nullopt) return respond(Refused(*r));
          // The body moves to the intake: a copy of up to a few MiB per batch otherwise.
          intake->Submit(
              std::move(req.body), clock.Now(), dispatcher.config().alertmanager.resolve_timeout,
              [respond = std::move(respond)](IntakeOutcome out) { respond(IntakeAnswer(out)); });
        });
  } else {
    router.AddSync("POST", "/api/v2/alerts", kIntake,
                   [&dispatcher, &clock, refusal](const http::Request& req) {
                     if (auto r = refusal ? refusal() : std::nullopt) return Refused(*r);
                     TimePoint now = clock.Now();
                     std::vector<std::string> errors;
                     auto alerts = ParsePostedAlerts(
                         req.body, now, dispatcher.config().alertmanager.resolve_timeout, errors);
                     std::size_t accepted = alerts.size();
                     if (!alerts.empty()) dispatcher.Ingest(std::move(alerts), now);
                     return IngestAnswer(errors, accepted);
                   });
  }

  router.AddSync("GET", "/api/v2/alerts", kRead, [&dispatcher, &clock](const http::Request& req) {
    TimePoint now = clock.Now();
    auto query = amjson::ParseAlertQuery(req);
    if (!query) return JsonError(400, query.error().message());
    auto receiver_filter = amjson::ReceiverFilter(*query);
    if (!receiver_filter) return JsonError(400, receiver_filter.error().message());
    const RE2* receiver_re = receiver_filter->get();
    // Rows hold pointers into the dispatcher (nothing runs on the loop meanwhile) and sort
    // by the numeric fingerprint, which orders exactly as its fixed-width hex form does.
    struct Row {
      std::uint64_t fingerprint;
      const StoredAlert* alert;
      const std::vector<std::string>* receivers;
    };
    std::vector<Row> rows;
    rows.reserve(dispatcher.alert_count());
    dispatcher.ForEachActiveAlert(
        now, [&](Fingerprint fp, const StoredAlert& a, const std::vector<std::string>& receivers) {
          if (!query->filter.empty() && !MatchesAll(query->filter, a.labels())) return;
          if (receiver_re) {
            bool any = std::any_of(receivers.begin(), receivers.end(), [&](const std::string& r) {
              return RE2::FullMatch(r, *receiver_re);
            });
            if (!any) return;
          }
          rows.push_back({fp.value(), &a, &receivers});
        });
    std::sort(rows.begin(), rows.end(),
              [](const Row& x, const Row& y) { return x.fingerprint < y.fingerprint; });
    std::string out;
    out.reserve(rows.size() * 560 + 2);
    out.push_back('[');
    bool first_row = true;
    const TimePoint open_end = amjson::OpenEnd(dispatcher, now);
    for (const Row& r : rows) {
      MuteStatus st = dispatcher.StatusOf(r.alert->labels(), now);
      if (!amjson::PassesStateFilter(*query, st)) continue;
      if (!first_row) out.push_back(',');
      first_row = false;
      amjson::AppendGettableAlert(out, r.fingerprint, *r.alert, *r.receivers, st, open_end);
    }
    out.push_back(']');
    return http::Response::Json(200, std::move(out));
  });

  router.AddSync("GET", "/api/v2/alerts/groups", kRead,
                 [&dispatcher, &clock](const http::Request& req) {
                   return amjson::AlertGroupsAnswer(dispatcher, req, clock.Now());
                 });

  // Answered once the silence is durable (the write runs on the store thread). A silence stops
  // pages, so who made it is the token's: `createdBy` is kept as the client wrote it (amtool's
  // --author, Grafana's user) with the token's person (or name) after it when they differ, and
  // every change is logged with the token.
  router.Add("POST", "/api/v2/silences", kWrite,
             [&silences, &clock](const http::Request& req, http::Respond respond) {
               TimePoint now = clock.Now();
               auto s = ParseSilenceJson(req.body);
               if (!s) return respond(JsonError(400, s.error().message()));
               s->created_by = amjson::SilenceAuthor(s->created_by, req.actor);
               // createdBy as a JSON string: a newline in it cannot forge a log line.
               std::string what =
                   fmt::format("{} until {}, createdBy {}", dispatch::MatchersToString(s->matchers),
                               FormatRfc3339(s->ends_at), DumpJson(s->created_by));
               silences.Upsert(
                   std::move(*s), now,
                   [respond = std::move(respond), actor = req.actor,
                    what = std::move(what)](Result<std::string> id) {
                     if (!id) {
                       return respond(JsonError(StatusOf(id.error()), id.error().message()));
                     }
                     spdlog::info(
                         "silence {} saved through the API by {}: {}", *id,
                         actor.empty() ? "a loopback caller (no API tokens configured)" : actor,
                         what);
                     respond(http::Response::Json(200, DumpJson(json{{"silenceID", *id}})));
                   });
             });

  router.AddSync("GET", "/api/v2/silences", kRead, [&silences, &clock](const http::Request& req) {
    TimePoint now = clock.Now();
    auto filter = amjson::FilterParams(req);
    if (!filter) return JsonError(400, filter.error().message());
    auto listed = silences.List();
    amjson::SortSilences(listed, now);
    std::string out = "[";
    for (const auto& s : listed) {
      if (!amjson::SilenceMatchesFilter(s, *filter)) continue;
      if (out.size() > 1) out.push_back(',');
      out += amjson::SilenceJsonText(s, now);
    }
    out.push_back(']');
    return http::Response::Json(200, std::move(out));
  });

  router.AddSync("GET", "/api/v2/silence/{id}", kRead,
                 [&silences, &clock](const http::Request& req) {
                   auto s = silences.Get(req.PathParam("id"));
                   if (!s) return JsonError(404, "silence " + req.PathParam("id") + " not found");
                   return http::Response::Json(200, amjson::SilenceJsonText(*s, clock.Now()));
                 });

  router.Add("DELETE", "/api/v2/silence/{id}", kWrite,
             [&silences, &clock](const http::Request& req, http::Respond respond) {
               silences.Expire(
                   req.PathParam("id"), clock.Now(),
                   [respond = std::move(respond), id = req.PathParam("id"),
                    actor = req.actor](Result<void> r) {
                     if (!r) {
                       return respond(JsonError(StatusOf(r.error()), r.error().message()));
                     }
                     spdlog::info(
                         "silence {} expired through the API by {}", id,
                         actor.empty() ? "a loopback caller (no API tokens configured)" : actor);
                     respond(http::Response::Json(200, ""));
                   });
             });

  router.AddSync("GET", "/api/v2/status", kRead, [&dispatcher, &clock, info](const http::Request&) {
    json cluster = info.cluster_json ? info.cluster_json()
                                     : json{{"status", "disabled"}, {"peers", json::array()}};
    json status = {{"cluster", std::move(cluster)},
                   {"versionInfo",
                    {{"version", info.version},
                     {"revision", info.revision},
                     {"branch", "HEAD"},
                     {"buildUser", "tocsin"},
                     {"buildDate", info.build_date},
                     {"goVersion", "none (tocsin is C++)"}}},
                   {"config", {{"original", AlertmanagerConfigYaml(dispatcher.config())}}},
                   {"uptime", FormatRfc3339(info.started_at)}};
    (void)clock;
    return http::Response::Json(200, DumpJson(status));
  });

  router.AddSync("GET", "/api/v2/receivers", kRead, [&dispatcher](const http::Request&) {
    json arr = json::array();
    for (const auto& r : dispatcher.config().receivers) arr.push_back({{"name", r.name}});
    return http::Response::Json(200, DumpJson(arr));
  });

  router.AddSync("GET", "/api/v1/groups", kRead, [&dispatcher](const http::Request&) {
    json arr = json::array();
    for (const auto& g : dispatcher.Groups()) {
      arr.push_back(
          {{"key", g.key},
           {"route", g.route},
           {"receiver", g.receiver},
           {"labels", LabelsToJson(g.labels)},
           {"alerts", g.alerts},
           {"flushed", g.flushed},
           {"keptFromReload", g.kept_from_reload},
           {"recalled", g.recalled},
           {"nextFlush", g.next_flush ? json(FormatRfc3339(*g.next_flush)) : json()},
           {"lastNotified", g.last_notified ? json(FormatRfc3339(*g.last_notified)) : json()}});
    }
    return http::Response::Json(200, DumpJson(arr));
  });
}

}  // namespace tocsin::dispatch

#include "tocsin/api/alertmanager_api.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <simdjson.h>
#include <algorithm>
#include <nlohmann/json.hpp>

#include "tocsin/common/duration.h"
#include "tocsin/common/json.h"
#include "tocsin/common/json_fields.h"
#include "tocsin/dispatch/fast_time.h"

namespace tocsin::dispatch {

namespace {

using json = nlohmann::json;

std::string JsonString(std::string_view s) { return json(std::string(s)).dump(); }

// Hand-written JSON for the alert list: GET /api/v2/alerts must answer with 100,000 alerts in
// well under a second, and building an nlohmann tree for that costs more than the rest.
// Measured 2026-12-04 on the project's 2-core machine (loaded), same run, 100,000 alerts of six
// labels and two annotations, byte-identical 53 MB bodies: this writer 0.56-0.72 s, an
// nlohmann::json tree plus dump() 11.7-14.7 s (about 20x slower). Everything else in this file
// uses nlohmann/json; keep this writer to the list path.
void AppendEscaped(std::string& out, std::string_view s) {
  out.push_back('"');
  std::size_t run = 0;  // start of the pending stretch that needs no escaping
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto u = static_cast<unsigned char>(s[i]);
    if (u >= 0x20 && u != '"' && u != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (u) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += fmt::format("\\u{:04x}", u);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void AppendStringArray(std::string& out, const std::vector<std::string>& v) {
  out.push_back('[');
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out.push_back(',');
    AppendEscaped(out, v[i]);
  }
  out.push_back(']');
}

bool ParseBoolParam(const http::Request& req, const char* name, bool fallback, bool* out,
                    std::string* error) {
  auto v = req.Query(name);
  if (!v) {
    *out = fallback;
    return true;
  }
  if (*v == "true") {
    *out = true;
  } else if (*v == "false") {
    *out = false;
  } else {
    *error = fmt::format("{} must be true or false, got \"{}\"", name, *v);
    return false;
  }
  return true;
}

Result<Matchers> FilterParams(const http::Request& req) {
  Matchers out;
  for (const auto& f : req.QueryAll("filter")) {
    auto ms = ParseMatchers(f);
    if (!ms) return Fail(Error::Invalid("bad filter \"" + f + "\": " + ms.error().message()));
    for (auto& m : *ms) out.push_back(std::move(m));
  }
  return out;
}

http::Response JsonError(int status, std::string_view message) {
  return http::Response::Json(status, JsonString(message));
}

json MatchersJson(const Matchers& ms) {
  json arr = json::array();
  for (const auto& m : ms) {
    arr.push_back({{"name", m.name()},
                   {"value", m.value()},
                   {"isRegex", m.is_regex()},
                   {"isEqual", m.is_equal()}});
  }
  return arr;
}

json SilenceJson(const Silence& s, TimePoint now) {
  return {{"id", s.id},
          {"matchers", MatchersJson(s.matchers)},
          {"startsAt", FormatRfc3339(s.starts_at)},
          {"endsAt", FormatRfc3339(s.ends_at)},
          {"updatedAt", FormatRfc3339(s.updated_at)},
          {"createdBy", s.created_by},
          {"comment", s.comment},
          {"status", {{"state", std::string(SilenceStateName(s.StateAt(now)))}}}};
}

Result<Silence> SilenceFromJson(const json& j) {
  if (!j.is_object()) return Fail(Error::Invalid("a silence must be a JSON object"));
  Silence s;
  try {
    if (j.contains("id") && j["id"].is_string()) s.id = j["id"].get<std::string>();
    if (!j.contains("matchers") || !j["matchers"].is_array()) {
      return Fail(
          Error::Invalid("matchers: a list of {name, value, isRegex, isEqual} is required"));
    }
    std::size_t i = 0;
    for (const auto& m : j["matchers"]) {
      if (!m.is_object() || !m.contains("name") || !m.contains("value")) {
        return Fail(Error::Invalid(fmt::format("matchers[{}]: name and value are required", i)));
      }
      bool is_regex = m.value("isRegex", false);
      bool is_equal = m.value("isEqual", true);
      Matcher::Op op = is_regex ? (is_equal ? Matcher::Op::kRegex : Matcher::Op::kNotRegex)
                                : (is_equal ? Matcher::Op::kEqual : Matcher::Op::kNotEqual);
      auto matcher =
          Matcher::Create(m["name"].get<std::string>(), op, m["value"].get<std::string>());
      if (!matcher) {
        return Fail(Error::Invalid(fmt::format("matchers[{}]: {}", i, matcher.error().message())));
      }
      s.matchers.push_back(std::move(*matcher));
      ++i;
    }
    for (const char* key : {"startsAt", "endsAt"}) {
      if (!j.contains(key) || !j[key].is_string()) {
        return Fail(Error::Invalid(fmt::format("{} is required (RFC 3339 time)", key)));
      }
      auto t = ParseTime(j[key].get<std::string>());
      if (!t) return Fail(Error::Invalid(fmt::format("{}: {}", key, t.error().message())));
      (std::string_view(key) == "startsAt" ? s.starts_at : s.ends_at) = *t;
    }
    if (j.contains("updatedAt") && j["updatedAt"].is_string()) {
      if (auto t = ParseTime(j["updatedAt"].get<std::string>())) s.updated_at = *t;
    }
    s.created_by = j.value("createdBy", "");
    s.comment = j.value("comment", "");
  } catch (const json::exception& e) {
    return Fail(Error::Invalid(std::string("malformed silence: ") + e.what()));
  }
  return s;
}

// Alertmanager lists a silence under a filter when the filter matches the label set its
// equality matchers describe.
bool SilenceMatchesFilter(const Silence& s, const Matchers& filter) {
  if (filter.empty()) return true;
  std::vector<Label> items;
  for (const auto& m : s.matchers) {
    if (m.op() == Matcher::Op::kEqual) items.push_back({m.name(), m.value()});
  }
  Labels l(std::move(items));
  return MatchesAll(filter, l);
}

}  // namespace

std::vector<Alert> ParsePostedAlerts(std::string_view body, TimePoint now, Duration resolve_timeout,
                                     std::vector<std::string>& errors) {
  // simdjson: alert ingest is the hot path (Prometheus posts every alert every minute), and
  // building an nlohmann tree costs several times more than the rest of the pipeline.
  std::vector<Alert> out;
  static thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(body.data(), body.size()).get(doc); err) {
    errors.push_back(std::string("body is not valid JSON: ") + simdjson::error_message(err));
    return out;
  }
  simdjson::dom::array items;
  if (doc.get_array().get(items)) {
    errors.push_back("body must be a JSON array of alerts");
    return out;
  }
  out.reserve(items.size());
  std::size_t index = 0;
  std::vector<Label> labels;
  for (simdjson::dom::element item : items) {
    std::size_t i = index++;
    auto reject = [&](const std::string& why) {
      errors.push_back(fmt::format("alert {}: {}", i, why));
    };
    simdjson::dom::object obj;
    if (item.get_object().get(obj)) {
      reject("must be an object with labels");
      continue;
    }
    simdjson::dom::object label_obj;
    if (obj["labels"].get_object().get(label_obj) || label_obj.size() == 0) {
      reject("labels are required and must not be empty");
      continue;
    }
    labels.clear();
    std::string bad;
    for (auto field : label_obj) {
      std::string_view value;
      if (!IsValidLabelName(field.key)) {
        bad = fmt::format("invalid label name \"{}\"", field.key);
        break;
      }
      if (field.value.get_string().get(value)) {
        bad = fmt::format("label {} must have a string value", field.key);
        break;
      }
      labels.push_back({std::string(field.key), std::string(value)});
    }
    if (!bad.empty()) {
      reject(bad);
      continue;
    }
    Alert a;
    a.labels = Labels(labels);
    if (a.labels.empty()) {
      reject("every label value is empty");
      continue;
    }
    simdjson::dom::object ann;
    if (!obj["annotations"].get_object().get(ann)) {
      for (auto field : ann) {
        std::string_view value;
        if (!field.value.get_string().get(value)) {
          a.annotations.emplace(std::string(field.key), std::string(value));
        }
      }
    }
    bool ok = true;
    for (const char* key : {"startsAt", "endsAt"}) {
      simdjson::dom::element e;
      if (obj[key].get(e) || e.is_null()) continue;
      std::string_view text;
      if (e.get_string().get(text)) text = {};
      // Go's zero time, which some clients send for "unset".
      if (text.substr(0, 19) == "0001-01-01T00:00:00") continue;
      auto t = ParseRfc3339Fast(text);
      if (!t) {
        if (auto slow = ParseTime(text)) t = *slow;
      }
      if (!t) {
        reject(fmt::format("{} \"{}\" is not an RFC 3339 time", key, text));
        ok = false;
        break;
      }
      (std::string_view(key) == "startsAt" ? a.starts_at : a.ends_at) = *t;
    }
    if (!ok) continue;
    if (a.starts_at == TimePoint{}) a.starts_at = a.ends_at != TimePoint{} ? a.ends_at : now;
    if (a.ends_at == TimePoint{}) a.ends_at = now + resolve_timeout;
    if (a.ends_at < a.starts_at) {
      reject("endsAt is before startsAt");
      continue;
    }
    std::string_view generator;
    if (!obj["generatorURL"].get_string().get(generator)) a.generator_url = generator;
    a.updated_at = now;
    a.state = a.ends_at <= now ? AlertState::kResolved : AlertState::kFiring;
    if (auto sev = ParseSeverity(a.labels.GetOr("severity"))) a.severity = *sev;
    auto kind = a.labels.GetOr("kind");
    a.kind = kind == "cause"     ? AlertKind::kCause
             : kind == "symptom" ? AlertKind::kSymptom
                                 : AlertKind::kUnspecified;
    out.push_back(std::move(a));
  }
  return out;
}

Result<Silence> ParseSilenceJson(std::string_view body) {
  try {
    auto doc = ParseJson(body);
    if (!doc) return Fail(Error::Invalid("body is not valid JSON: " + doc.error().message()));
    return SilenceFromJson(*doc);
  } catch (const json::exception& e) {
    return Fail(Error::Invalid(std::string("body is not valid JSON: ") + e.what()));
  }
}

std::string SilenceToJson(const Silence& s, TimePoint now) { return SilenceJson(s, now).dump(); }

Result<std::vector<Silence>> ParseSilenceListJson(std::string_view body) {
  std::vector<Silence> out;
  try {
    auto parsed = ParseJson(body);
    if (!parsed) return Fail(Error::Invalid("body is not valid JSON: " + parsed.error().message()));
    json doc = std::move(*parsed);
    if (!doc.is_array()) return Fail(Error::Invalid("expected a JSON array of silences"));
    for (const auto& item : doc) {
      auto s = SilenceFromJson(item);
      if (!s) return Fail(s.error());
      out.push_back(std::move(*s));
    }
  } catch (const json::exception& e) {
    return Fail(Error::Invalid(std::string("answer is not valid JSON: ") + e.what()));
  }
  return out;
}

namespace {

http::Response IngestAnswer(const std::vector<std::string>& errors, std::size_t accepted) {
  if (errors.empty()) return http::Response::Json(200, "");
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

}  // namespace

void RegisterAlertmanagerApi(http::Router& router, Dispatcher& dispatcher, Silences& silences,
                             const Clock& clock, ApiBuildInfo info, AlertIntake* intake) {
  // Who may call each route, declared with it (docs/api.md): reads need viewer, changes
  // responder, alert intake its own access, which has no per-minute budget.
  constexpr auto kRead = http::Access::kViewer;
  constexpr auto kWrite = http::Access::kResponder;
  constexpr auto kIntake = http::Access::kIntake;
  if (intake != nullptr) {
    router.Add(
        "POST", "/api/v2/alerts", kIntake,
        [&dispatcher, &clock, intake](const http::Request& req, http::Respond respond) {
          intake->Submit(
              req.body, clock.Now(), dispatcher.config().alertmanager.resolve_timeout,
              [respond = std::move(respond)](IntakeOutcome out) { respond(IntakeAnswer(out)); });
        });
  } else {
    router.AddSync("POST", "/api/v2/alerts", kIntake,
                   [&dispatcher, &clock](const http::Request& req) {
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
    bool active = true, silenced = true, inhibited = true, unprocessed = true;
    std::string err;
    if (!ParseBoolParam(req, "active", true, &active, &err) ||
        !ParseBoolParam(req, "silenced", true, &silenced, &err) ||
        !ParseBoolParam(req, "inhibited", true, &inhibited, &err) ||
        !ParseBoolParam(req, "unprocessed", true, &unprocessed, &err)) {
      return JsonError(400, err);
    }
    auto filter = FilterParams(req);
    if (!filter) return JsonError(400, filter.error().message());
    std::unique_ptr<RE2> receiver_re;
    if (auto rx = req.Query("receiver")) {
      RE2::Options opts;
      opts.set_log_errors(false);
      receiver_re = std::make_unique<RE2>("^(?:" + *rx + ")$", opts);
      if (!receiver_re->ok()) {
        return JsonError(400, "bad receiver regex: " + receiver_re->error());
      }
    }
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
          if (!filter->empty() && !MatchesAll(*filter, a.labels())) return;
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
    for (const Row& r : rows) {
      MuteStatus st = dispatcher.StatusOf(r.alert->labels(), now);
      bool is_silenced = !st.silenced_by.empty() || !st.muted_by.empty();
      bool is_inhibited = !st.inhibited_by.empty();
      if (!st.suppressed() && !active) continue;
      if (is_silenced && !silenced) continue;
      if (is_inhibited && !inhibited) continue;
      if (!first_row) out.push_back(',');
      first_row = false;
      out += "{\"labels\":{";
      bool first = true;
      auto pair = [&](std::string_view k, std::string_view v) {
        if (!first) out.push_back(',');
        first = false;
        AppendEscaped(out, k);
        out.push_back(':');
        AppendEscaped(out, v);
      };
      r.alert->ForEachLabel(pair);
      out += "},\"annotations\":{";
      first = true;
      r.alert->ForEachAnnotation(pair);
      out += "},\"startsAt\":\"";
      AppendRfc3339(out, r.alert->starts_at());
      out += "\",\"endsAt\":\"";
      AppendRfc3339(out, r.alert->ends_at());
      out += "\",\"updatedAt\":\"";
      AppendRfc3339(out, r.alert->updated_at());
      out += "\",\"generatorURL\":";
      AppendEscaped(out, r.alert->generator_url());
      out += ",\"fingerprint\":\"" + Fingerprint(r.fingerprint).ToString() + "\",\"receivers\":[";
      for (std::size_t k = 0; k < r.receivers->size(); ++k) {
        if (k) out.push_back(',');
        out += "{\"name\":";
        AppendEscaped(out, (*r.receivers)[k]);
        out.push_back('}');
      }
      out += "],\"status\":{\"state\":";
      out += st.suppressed() ? "\"suppressed\"" : "\"active\"";
      out += ",\"silencedBy\":";
      AppendStringArray(out, st.silenced_by);
      out += ",\"inhibitedBy\":";
      AppendStringArray(out, st.inhibited_by);
      out += ",\"mutedBy\":";
      AppendStringArray(out, st.muted_by);
      out += "}}";
    }
    out.push_back(']');
    (void)unprocessed;  // alerts are routed as they arrive: none is ever unprocessed
    return http::Response::Json(200, std::move(out));
  });

  router.AddSync("POST", "/api/v2/silences", kWrite, [&silences, &clock](const http::Request& req) {
    TimePoint now = clock.Now();
    auto s = ParseSilenceJson(req.body);
    if (!s) return JsonError(400, s.error().message());
    auto id = silences.Upsert(std::move(*s), now);
    if (!id) {
      int status = id.error().kind() == Error::Kind::kNotFound  ? 404
                   : id.error().kind() == Error::Kind::kInvalid ? 400
                                                                : 500;
      return JsonError(status, id.error().message());
    }
    return http::Response::Json(200, json{{"silenceID", *id}}.dump());
  });

  router.AddSync("GET", "/api/v2/silences", kRead, [&silences, &clock](const http::Request& req) {
    TimePoint now = clock.Now();
    auto filter = FilterParams(req);
    if (!filter) return JsonError(400, filter.error().message());
    json arr = json::array();
    for (const auto& s : silences.List()) {
      if (SilenceMatchesFilter(s, *filter)) arr.push_back(SilenceJson(s, now));
    }
    return http::Response::Json(200, arr.dump());
  });

  router.AddSync("GET", "/api/v2/silence/{id}", kRead,
                 [&silences, &clock](const http::Request& req) {
                   auto s = silences.Get(req.PathParam("id"));
                   if (!s) return JsonError(404, "silence " + req.PathParam("id") + " not found");
                   return http::Response::Json(200, SilenceJson(*s, clock.Now()).dump());
                 });

  router.AddSync("DELETE", "/api/v2/silence/{id}", kWrite,
                 [&silences, &clock](const http::Request& req) {
                   auto r = silences.Expire(req.PathParam("id"), clock.Now());
                   if (!r) {
                     int status = r.error().kind() == Error::Kind::kNotFound  ? 404
                                  : r.error().kind() == Error::Kind::kInvalid ? 400
                                                                              : 500;
                     return JsonError(status, r.error().message());
                   }
                   return http::Response::Json(200, "");
                 });

  router.AddSync("GET", "/api/v2/status", kRead, [&dispatcher, &clock, info](const http::Request&) {
    json status = {{"cluster", {{"status", "disabled"}, {"peers", json::array()}}},
                   {"versionInfo",
                    {{"version", info.version},
                     {"revision", info.revision},
                     {"branch", "HEAD"},
                     {"buildUser", "tocsin"},
                     {"buildDate", info.build_date},
                     {"goVersion", "none (tocsin is C++)"}}},
                   {"config", {{"original", dispatcher.config().original}}},
                   {"uptime", FormatRfc3339(info.started_at)}};
    (void)clock;
    return http::Response::Json(200, status.dump());
  });

  router.AddSync("GET", "/api/v2/receivers", kRead, [&dispatcher](const http::Request&) {
    json arr = json::array();
    for (const auto& r : dispatcher.config().receivers) arr.push_back({{"name", r.name}});
    return http::Response::Json(200, arr.dump());
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
           {"nextFlush", g.next_flush ? json(FormatRfc3339(*g.next_flush)) : json()},
           {"lastNotified", g.last_notified ? json(FormatRfc3339(*g.last_notified)) : json()}});
    }
    return http::Response::Json(200, arr.dump());
  });
}

}  // namespace tocsin::dispatch

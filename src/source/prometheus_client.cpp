#include "tocsin/source/prometheus_client.h"

#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tocsin/common/duration.h"
#include "tocsin/common/json_fields.h"

namespace tocsin::source {

namespace {

using nlohmann::json;

std::string FormatUnixSeconds(TimePoint t) {
  auto ms = ToUnixMillis(t);
  return fmt::format("{}.{:03}", ms / 1000, ms % 1000);
}

// Prometheus timestamps are float seconds; keep millisecond precision as TimePoint does.
TimePoint FromSeconds(double s) {
  return FromUnixMillis(static_cast<std::int64_t>(std::llround(s * 1000.0)));
}

// [t, "v"] -> (t, v); false when malformed.
bool ParsePoint(const json& p, TimePoint& t, double& v) {
  if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_string()) return false;
  auto value = ParseSampleValue(p[1].get_ref<const std::string&>());
  if (!value) return false;
  t = FromSeconds(p[0].get<double>());
  v = *value;
  return true;
}

Error EnvelopeError(long status, const std::string& type, const std::string& message) {
  std::string text = fmt::format("prometheus {} (HTTP {}): {}", type.empty() ? "error" : type,
                                 status, message.empty() ? "no message" : message);
  if (type == "bad_data" || type == "execution") return Error::Invalid(text);
  if (type == "not_found") return Error::NotFound(text);
  if (type == "timeout" || type == "canceled" || type == "unavailable" || type == "internal") {
    return Error::Transient(text);
  }
  if (status == 401 || status == 403) return Error::Unauthorized(text);
  if (status == 404) return Error::NotFound(text);
  if (status == 400 || status == 422) return Error::Invalid(text);
  if (status == 429 || status >= 500) return Error::Transient(text);
  return Error::Permanent(text);
}

Result<QueryResult> ParseData(const json& data) {
  QueryResult out;
  const auto& type = data.at("resultType").get_ref<const std::string&>();
  const json& result = data.at("result");
  auto bad = [&](std::string_view what) {
    return Fail(Error::Permanent(
        fmt::format("prometheus answered a malformed {} result ({})", type, what)));
  };
  if (type == "vector") {
    out.type = ResultType::kVector;
    if (!result.is_array()) return bad("result is not a list");
    out.vector.reserve(result.size());
    for (const auto& s : result) {
      Sample sample;
      if (!s.is_object() || !s.contains("value") ||
          !ParsePoint(s["value"], sample.t, sample.value)) {
        return bad("sample without [time, \"value\"]");
      }
      if (s.contains("metric")) sample.metric = LabelsFromJson(s["metric"]);
      out.vector.push_back(std::move(sample));
    }
  } else if (type == "scalar") {
    out.type = ResultType::kScalar;
    Sample sample;
    if (!ParsePoint(result, sample.t, sample.value)) return bad("not [time, \"value\"]");
    out.vector.push_back(std::move(sample));
  } else if (type == "matrix") {
    out.type = ResultType::kMatrix;
    if (!result.is_array()) return bad("result is not a list");
    out.matrix.reserve(result.size());
    for (const auto& s : result) {
      if (!s.is_object() || !s.contains("values") || !s["values"].is_array()) {
        return bad("series without values");
      }
      Series series;
      if (s.contains("metric")) series.metric = LabelsFromJson(s["metric"]);
      series.points.reserve(s["values"].size());
      for (const auto& p : s["values"]) {
        TimePoint t;
        double v = 0;
        if (!ParsePoint(p, t, v)) return bad("point without [time, \"value\"]");
        series.points.emplace_back(t, v);
      }
      out.matrix.push_back(std::move(series));
    }
  } else if (type == "string") {
    out.type = ResultType::kString;
    if (!result.is_array() || result.size() != 2 || !result[1].is_string()) {
      return bad("not [time, \"text\"]");
    }
    out.string_value = result[1].get<std::string>();
  } else {
    return Fail(Error::Permanent("prometheus answered an unknown resultType \"" + type + "\""));
  }
  return out;
}

}  // namespace

std::optional<double> ParseSampleValue(std::string_view text) {
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "+Inf" || text == "Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  double v = 0;
  const char* begin = text.data();
  if (!text.empty() && text.front() == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || begin == ptr) return std::nullopt;
  return v;
}

Result<QueryResult> ParsePrometheusResponse(long status, std::string_view body) {
  json doc;
  try {
    doc = json::parse(body);
  } catch (const json::exception&) {
    // Not the Prometheus API (a proxy error page, a wrong URL): say so without the body,
    // which may be large or echo credentials.
    if (status >= 500 || status == 429) {
      return Fail(
          Error::Transient(fmt::format("prometheus: HTTP {} with a non-JSON body", status)));
    }
    if (status == 401 || status == 403) {
      return Fail(Error::Unauthorized(fmt::format(
          "prometheus: HTTP {}: check the source's bearer_token or basic_auth", status)));
    }
    return Fail(Error::Permanent(fmt::format(
        "prometheus: HTTP {} with a non-JSON body (is the source url the Prometheus server?)",
        status)));
  }
  try {
    if (!doc.is_object())
      return Fail(Error::Permanent("prometheus answered JSON that is not an object"));
    std::string st = doc.value("status", "");
    if (st == "error" || status < 200 || status >= 300) {
      return Fail(EnvelopeError(status, doc.value("errorType", ""), doc.value("error", "")));
    }
    if (st != "success" || !doc.contains("data")) {
      return Fail(Error::Permanent("prometheus answered without status \"success\" and data"));
    }
    auto out = ParseData(doc["data"]);
    if (out && doc.contains("warnings") && doc["warnings"].is_array()) {
      for (const auto& w : doc["warnings"]) {
        if (w.is_string()) out->warnings.push_back(w.get<std::string>());
      }
    }
    return out;
  } catch (const json::exception& e) {
    return Fail(Error::Permanent(std::string("prometheus answered malformed data: ") + e.what()));
  }
}

PrometheusClient::PrometheusClient(config::SourceConfig config, std::shared_ptr<HttpClient> http)
    : config_(std::move(config)), http_(std::move(http)) {
  while (!config_.url.empty() && config_.url.back() == '/') config_.url.pop_back();
}

Result<QueryResult> PrometheusClient::Post(
    std::string_view path, const std::vector<std::pair<std::string, std::string>>& form) {
  HttpClientRequest req;
  req.method = "POST";
  req.url = config_.url + std::string(path);
  req.timeout = config_.timeout;
  req.body = FormEncode(form);
  req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  req.headers.emplace_back("Accept", "application/json");
  for (const auto& h : config_.headers) req.headers.push_back(h);
  if (!config_.bearer_token.empty()) {
    req.headers.emplace_back("Authorization", "Bearer " + config_.bearer_token);
  }
  if (config_.basic_auth) {
    req.basic_user = config_.basic_auth->username;
    req.basic_password = config_.basic_auth->password;
  }
  req.tls_ca_file = config_.tls_ca_file;
  req.tls_insecure_skip_verify = config_.tls_insecure_skip_verify;
  auto resp = http_->Send(req);
  if (!resp) {
    return Fail(Error(resp.error().kind(),
                      "source " + config_.name + " unreachable: " + resp.error().message()));
  }
  auto parsed = ParsePrometheusResponse(resp->status, resp->body);
  if (!parsed) {
    return Fail(
        Error(parsed.error().kind(), "source " + config_.name + ": " + parsed.error().message()));
  }
  return parsed;
}

Result<QueryResult> PrometheusClient::Query(const std::string& expr, TimePoint at) {
  // Prometheus' own evaluation timeout is kept just under ours, so a slow query comes back as
  // a typed `timeout` error rather than a dropped connection.
  auto server_timeout =
      std::max<Duration>(config_.timeout - std::chrono::milliseconds(500), std::chrono::seconds(1));
  return Post("/api/v1/query", {{"query", expr},
                                {"time", FormatUnixSeconds(at)},
                                {"timeout", FormatDuration(server_timeout)}});
}

Result<QueryResult> PrometheusClient::QueryRange(const std::string& expr, TimePoint start,
                                                 TimePoint end, Duration step) {
  auto server_timeout =
      std::max<Duration>(config_.timeout - std::chrono::milliseconds(500), std::chrono::seconds(1));
  return Post("/api/v1/query_range", {{"query", expr},
                                      {"start", FormatUnixSeconds(start)},
                                      {"end", FormatUnixSeconds(end)},
                                      {"step", FormatDuration(step)},
                                      {"timeout", FormatDuration(server_timeout)}});
}

}  // namespace tocsin::source

#include "notify/page_json.h"

#include <nlohmann/json.hpp>

#include "tocsin/common/json_fields.h"

namespace tocsin::notify {

using incident::PageRequest;
using nlohmann::json;

namespace {

json OptionalNumber(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

std::optional<double> ReadOptional(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->get<double>();
}

json AlertToJson(const Alert& a) {
  json links = json::array();
  for (const auto& l : a.links) links.push_back({{"href", l.href}, {"text", l.text}});
  return {{"labels", LabelsToJson(a.labels)},
          {"annotations", a.annotations},
          {"state", static_cast<int>(a.state)},
          {"starts_at", ToUnixMillis(a.starts_at)},
          {"ends_at", ToUnixMillis(a.ends_at)},
          {"updated_at", ToUnixMillis(a.updated_at)},
          {"generator_url", a.generator_url},
          {"rule", a.rule},
          {"kind", static_cast<int>(a.kind)},
          {"severity", static_cast<int>(a.severity)},
          {"value", OptionalNumber(a.value)},
          {"threshold", OptionalNumber(a.threshold)},
          {"burn_rate", OptionalNumber(a.burn_rate)},
          {"budget_consumed", OptionalNumber(a.budget_consumed)},
          {"links", links}};
}

Alert AlertFromJson(const json& j) {
  Alert a;
  std::vector<Label> labels;
  for (const auto& [k, v] : j.at("labels").items()) labels.push_back({k, v.get<std::string>()});
  a.labels = Labels(std::move(labels));
  a.annotations = j.at("annotations").get<std::map<std::string, std::string>>();
  a.state = static_cast<AlertState>(j.at("state").get<int>());
  a.starts_at = FromUnixMillis(j.at("starts_at").get<std::int64_t>());
  a.ends_at = FromUnixMillis(j.at("ends_at").get<std::int64_t>());
  a.updated_at = FromUnixMillis(j.at("updated_at").get<std::int64_t>());
  a.generator_url = j.at("generator_url").get<std::string>();
  a.rule = j.at("rule").get<std::string>();
  a.kind = static_cast<AlertKind>(j.at("kind").get<int>());
  a.severity = static_cast<Severity>(j.at("severity").get<int>());
  a.value = ReadOptional(j, "value");
  a.threshold = ReadOptional(j, "threshold");
  a.burn_rate = ReadOptional(j, "burn_rate");
  a.budget_consumed = ReadOptional(j, "budget_consumed");
  for (const auto& l : j.at("links")) {
    a.links.push_back({l.at("href").get<std::string>(), l.at("text").get<std::string>()});
  }
  return a;
}

json PersonToJson(const oncall::Person& p) {
  return {{"id", p.id},
          {"name", p.name},
          {"time_zone", p.time_zone},
          {"slack_user_id", p.slack_user_id},
          {"pagerduty_user_id", p.pagerduty_user_id},
          {"opsgenie_username", p.opsgenie_username},
          {"email", p.email},
          {"phone", p.phone}};
}

oncall::Person PersonFromJson(const json& j) {
  oncall::Person p;
  p.id = j.at("id").get<std::string>();
  p.name = j.at("name").get<std::string>();
  p.time_zone = j.at("time_zone").get<std::string>();
  p.slack_user_id = j.at("slack_user_id").get<std::string>();
  p.pagerduty_user_id = j.at("pagerduty_user_id").get<std::string>();
  p.opsgenie_username = j.at("opsgenie_username").get<std::string>();
  p.email = j.at("email").get<std::string>();
  p.phone = j.at("phone").get<std::string>();
  return p;
}

}  // namespace

std::string ToPageJson(const PageRequest& r) {
  json targets = json::array();
  for (const auto& t : r.targets) {
    json channels = json::array();
    for (auto c : t.channels) channels.push_back(static_cast<int>(c));
    targets.push_back(
        {{"person", PersonToJson(t.person)}, {"role", t.role}, {"channels", channels}});
  }
  json alerts = json::array();
  for (const auto& a : r.alerts) alerts.push_back(AlertToJson(a));
  json causes = json::array();
  for (const auto& a : r.causes) causes.push_back(AlertToJson(a));
  json j = {{"v", 1},
            {"incident_id", r.incident_id},
            {"dedup_key", r.dedup_key},
            {"idempotency_key", r.idempotency_key},
            {"action", static_cast<int>(r.action)},
            {"step", r.step},
            {"sev", static_cast<int>(r.sev)},
            {"title", r.title},
            {"state", r.state},
            {"targets", targets},
            {"alerts", alerts},
            {"causes", causes},
            {"text", r.text},
            {"actor", r.actor},
            {"opened_at", ToUnixMillis(r.opened_at)},
            {"at", ToUnixMillis(r.at)}};
  // Replace invalid UTF-8 rather than throw: a label with a stray byte must not lose a page.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<PageRequest> FromPageJson(const std::string& text) {
  try {
    json j = json::parse(text);
    PageRequest r;
    r.incident_id = j.at("incident_id").get<std::string>();
    r.dedup_key = j.at("dedup_key").get<std::string>();
    r.idempotency_key = j.at("idempotency_key").get<std::string>();
    r.action = static_cast<incident::PageAction>(j.at("action").get<int>());
    r.step = j.at("step").get<int>();
    r.sev = static_cast<incident::Sev>(j.at("sev").get<int>());
    r.title = j.at("title").get<std::string>();
    r.state = j.at("state").get<std::string>();
    for (const auto& t : j.at("targets")) {
      incident::PageTarget target;
      target.person = PersonFromJson(t.at("person"));
      target.role = t.at("role").get<std::string>();
      for (const auto& c : t.at("channels")) {
        target.channels.push_back(static_cast<incident::Channel>(c.get<int>()));
      }
      r.targets.push_back(std::move(target));
    }
    for (const auto& a : j.at("alerts")) r.alerts.push_back(AlertFromJson(a));
    for (const auto& a : j.at("causes")) r.causes.push_back(AlertFromJson(a));
    r.text = j.at("text").get<std::string>();
    r.actor = j.at("actor").get<std::string>();
    r.opened_at = FromUnixMillis(j.at("opened_at").get<std::int64_t>());
    r.at = FromUnixMillis(j.at("at").get<std::int64_t>());
    return r;
  } catch (const json::exception& e) {
    return Fail(Error::Invalid(std::string("stored page request is not readable: ") + e.what()));
  }
}

}  // namespace tocsin::notify

// `tocsin rules import --from sloth`: Sloth's `prometheus/v1` service level files (one service,
// its SLOs with an events or raw SLI, page and ticket alerts) into a tocsin rule group.
#include <fmt/format.h>

#include <functional>
#include <set>

#include "rules/import_common.h"
#include "tocsin/config/yaml_reader.h"

namespace tocsin::rules {

using import_detail::SloSpec;
using import_detail::TierSpec;
using import_detail::Unmapped;

namespace {

// Sloth's fixed multiwindow multi-burn-rate tiers on its default 30-day period: two page
// tiers (critical) and two ticket tiers (warning).
std::vector<TierSpec> SlothTiers(bool page, bool ticket) {
  return {{"page_fast", "14.4", "1h", "5m", "critical", page},
          {"page_slow", "6", "6h", "30m", "critical", page},
          {"ticket_fast", "3", "1d", "2h", "warning", ticket},
          {"ticket", "1", "3d", "6h", "warning", ticket}};
}

void ReadStringMap(Unmapped& u, const YAML::Node& map, const std::string& field,
                   const std::function<void(const YAML::Node&, const std::string&,
                                            const std::string&, const std::string&)>& each) {
  if (!map) return;
  if (!map.IsMap()) {
    u.Note(map, field, "expected a mapping of names to strings");
    return;
  }
  for (const auto& kv : map) {
    std::string name = kv.first.Scalar();
    each(kv.second, field + "." + name, name, import_detail::ScalarText(kv.second));
  }
}

// page_alert / ticket_alert: only `disable` has a place in tocsin (tiers carry no labels or
// annotations of their own).
bool ReadAlert(Unmapped& u, const YAML::Node& alert, const std::string& field, SloSpec& slo) {
  bool disabled = false;
  if (!alert) return true;
  if (!alert.IsMap()) {
    u.Note(alert, field, "expected a mapping", &slo);
    return true;
  }
  for (const auto& kv : alert) {
    std::string key = kv.first.Scalar();
    if (key == "disable") {
      disabled = kv.second.IsScalar() && kv.second.Scalar() == "true";
    } else if (key == "labels" || key == "annotations") {
      ReadStringMap(u, kv.second, field + "." + key,
                    [&](const YAML::Node& at, const std::string& f, const std::string& name,
                        const std::string&) {
                      std::string why =
                          name == "severity"
                              ? "tocsin sets severity itself (critical on page tiers, warning on "
                                "ticket tiers); route on severity and tier"
                              : "tocsin tiers carry no " + key +
                                    " of their own; route on the tier label (page_fast, "
                                    "page_slow, ticket_fast, ticket) instead";
                      u.Note(at, f, why, &slo);
                    });
    } else {
      u.Note(kv.second, field + "." + key, "not a Sloth alert field tocsin knows", &slo);
    }
  }
  return !disabled;
}

std::optional<SloSpec> ReadSlo(Unmapped& u, const YAML::Node& node, std::size_t index,
                               const std::string& service, const YAML::Node& service_labels,
                               std::set<std::string>& names) {
  const std::string field = fmt::format("slos[{}]", index);
  if (!node.IsMap()) {
    u.Note(node, field, "expected a mapping; SLO skipped");
    return std::nullopt;
  }
  SloSpec slo;
  std::string sloth_name = import_detail::ScalarText(node["name"]);
  slo.service = service;
  slo.origin = fmt::format("{}:{} (Sloth SLO \"{}\" of service \"{}\")", u.file(),
                           u.Where(node).line, sloth_name, service);
  ReadStringMap(
      u, service_labels, "labels",
      [&](const YAML::Node& at, const std::string& f, const std::string& name,
          const std::string& value) { import_detail::AddLabel(u, at, f, name, value, slo); });
  bool page = true, ticket = true, usable = true;
  std::string alert_name;
  for (const auto& kv : node) {
    std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    if (key == "name") {
      continue;
    } else if (key == "objective") {
      slo.objective = import_detail::ScalarText(v);
    } else if (key == "description") {
      slo.description = import_detail::ScalarText(v);
    } else if (key == "labels") {
      ReadStringMap(
          u, v, field + ".labels",
          [&](const YAML::Node& at, const std::string& f, const std::string& name,
              const std::string& value) { import_detail::AddLabel(u, at, f, name, value, slo); });
    } else if (key == "sli") {
      if (YAML::Node events = v["events"]; events) {
        std::string error = import_detail::ScalarText(events["error_query"]);
        std::string total = import_detail::ScalarText(events["total_query"]);
        if (!import_detail::HasWindowTemplate(error) || !import_detail::HasWindowTemplate(total)) {
          u.Note(events, field + ".sli.events",
                 "error_query and total_query must both use {{.window}}; SLO skipped", &slo);
          usable = false;
        }
        slo.error_query = import_detail::TocsinWindowTemplate(error);
        slo.total_query = import_detail::TocsinWindowTemplate(total);
      } else if (YAML::Node raw = v["raw"]; raw) {
        std::string q = import_detail::ScalarText(raw["error_ratio_query"]);
        if (!import_detail::HasWindowTemplate(q)) {
          u.Note(raw, field + ".sli.raw.error_ratio_query", "must use {{.window}}; SLO skipped",
                 &slo);
          usable = false;
        }
        // tocsin divides error by total; a ratio already computed is divided by 1 of the same
        // labels, so the error ratio is the query's own value (and NaN stays NaN).
        q = import_detail::TocsinWindowTemplate(q);
        slo.error_query = q;
        slo.total_query = "(" + q + ") * 0 + 1";
      } else {
        u.Note(v, field + ".sli",
               "only the events and raw SLIs can be mapped (a plugin SLI runs Sloth code); SLO "
               "skipped",
               &slo);
        usable = false;
      }
    } else if (key == "alerting") {
      for (const auto& a : v) {
        std::string akey = a.first.Scalar();
        const std::string afield = field + ".alerting." + akey;
        if (akey == "name") {
          alert_name = import_detail::ScalarText(a.second);
        } else if (akey == "labels") {
          ReadStringMap(u, a.second, afield,
                        [&](const YAML::Node& at, const std::string& f, const std::string& name,
                            const std::string& value) {
                          import_detail::AddLabel(u, at, f, name, value, slo);
                        });
        } else if (akey == "annotations") {
          ReadStringMap(u, a.second, afield,
                        [&](const YAML::Node& at, const std::string& f, const std::string& name,
                            const std::string& value) {
                          import_detail::SetAnnotation(u, at, f, name, value, slo);
                        });
        } else if (akey == "page_alert") {
          page = ReadAlert(u, a.second, afield, slo);
        } else if (akey == "ticket_alert") {
          ticket = ReadAlert(u, a.second, afield, slo);
        } else {
          u.Note(a.second, afield, "not a Sloth alerting field tocsin knows", &slo);
        }
      }
    } else {
      u.Note(v, field + "." + key, "not a Sloth SLO field tocsin can map", &slo);
    }
  }
  // Sloth's alerts are named alerting.name: keeping it keeps routes and silences on alertname.
  slo.name = import_detail::SafeName(alert_name.empty() ? service + "_" + sloth_name : alert_name);
  if (!names.insert(slo.name).second) {
    std::string unique = import_detail::SafeName(service + "_" + sloth_name);
    u.Note(node["alerting"]["name"] ? node["alerting"]["name"] : node, field + ".alerting.name",
           "\"" + slo.name +
               "\" is already the name of another SLO and tocsin names must be "
               "unique: named \"" +
               unique + "\"",
           &slo);
    slo.name = unique;
    names.insert(unique);
  }
  double objective = 0;
  try {
    objective = std::stod(slo.objective);
  } catch (const std::exception&) {
    objective = -1;
  }
  if (!(objective > 0 && objective < 100)) {
    u.Note(node["objective"] ? node["objective"] : node, field + ".objective",
           "tocsin needs an objective strictly between 0 and 100 (got \"" + slo.objective +
               "\"); SLO skipped",
           &slo);
    usable = false;
  }
  slo.tiers = SlothTiers(page, ticket);
  if (!usable) {
    u.KeepSkipped(slo);
    return std::nullopt;
  }
  return slo;
}

}  // namespace

std::optional<ImportedRules> ImportSloth(const std::string& file, const RuleImportOptions& options,
                                         config::Diagnostics& diags) {
  // A value of the wrong shape (a scalar where a mapping belongs) stops the conversion with
  // its position; yaml-cpp says it by throwing.
  try {
    auto doc = config::LoadYamlFile(file, diags);
    if (!doc) return std::nullopt;
    const YAML::Node& root = doc->root;
    if (!root.IsMap() || import_detail::ScalarText(root["version"]) != "prometheus/v1") {
      diags.Error(config::PositionOf(file, root),
                  "not a Sloth service level file: expected `version: \"prometheus/v1\"` (the "
                  "Kubernetes PrometheusServiceLevel resource: convert its spec to that form)");
      return std::nullopt;
    }
    Unmapped u(file, diags);
    std::string service = import_detail::ScalarText(root["service"]);
    if (service.empty()) {
      diags.Error(config::PositionOf(file, root), "service is required in a Sloth file");
      return std::nullopt;
    }
    std::vector<SloSpec> slos;
    std::set<std::string> names;
    std::size_t skipped = 0;
    for (const auto& kv : root) {
      std::string key = kv.first.Scalar();
      if (key == "version" || key == "service" || key == "labels" || key == "slos") continue;
      u.Note(kv.second, key, "not a Sloth field tocsin can map");
    }
    if (YAML::Node list = root["slos"]; list && list.IsSequence()) {
      std::size_t i = 0;
      for (const auto& n : list) {
        if (auto slo = ReadSlo(u, n, i++, service, root["labels"], names)) {
          slos.push_back(std::move(*slo));
        } else {
          ++skipped;
        }
      }
    }
    return import_detail::WriteImported("sloth", file,
                                        options.group.empty() ? service : options.group, slos,
                                        skipped, u.file_comments(), options);
  } catch (const YAML::Exception& e) {
    return import_detail::WrongShape(diags, file, e, "Sloth prometheus/v1");
  }
}

}  // namespace tocsin::rules

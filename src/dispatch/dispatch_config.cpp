#include "tocsin/dispatch/dispatch_config.h"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>

#include <set>
#include <sstream>

#include "tocsin/common/duration.h"
#include "tocsin/config/yaml_reader.h"

namespace tocsin::dispatch {

namespace {

using config::Diagnostics;
using config::MapReader;

// Where the i-th item of a list is: a single string stands for a list of one (StringList reads
// it so), and indexing a scalar would throw instead of pointing at it.
YAML::Node ItemAt(const YAML::Node& list, std::size_t i) {
  return list.IsSequence() ? list[i] : list;
}

void ReadMatchers(MapReader& r, std::string_view key, Matchers& out) {
  std::vector<std::string> texts;
  if (!r.StringList(key, texts)) return;
  YAML::Node list = r.Node(key);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    auto m = Matcher::Parse(texts[i]);
    if (!m) {
      r.diags().Error(config::PositionOf(r.file(), ItemAt(list, i)),
                      fmt::format("{}.{}[{}]: {}", r.what(), key, i, m.error().message()));
      continue;
    }
    out.push_back(std::move(*m));
  }
}

void ReadLabelNames(MapReader& r, std::string_view key, std::vector<std::string>& out) {
  if (!r.StringList(key, out)) return;
  YAML::Node list = r.Node(key);
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == "..." && key == "group_by") continue;
    if (!IsValidLabelName(out[i])) {
      r.diags().Error(
          config::PositionOf(r.file(), ItemAt(list, i)),
          fmt::format("{}.{}[{}]: \"{}\" is not a valid label name", r.what(), key, i, out[i]));
    }
  }
}

struct RouteRef {
  std::string receiver;
  config::Position position;
};

void ReadRoute(MapReader& r, const RouteConfig* parent, RouteConfig& out,
               std::vector<RouteRef>& refs) {
  out.position = r.Here();
  if (parent) {
    out.receiver = parent->receiver;
    out.group_by = parent->group_by;
    out.group_wait = parent->group_wait;
    out.group_interval = parent->group_interval;
    out.repeat_interval = parent->repeat_interval;
  }
  if (r.String("receiver", out.receiver, parent == nullptr)) {
    refs.push_back({out.receiver, r.Where("receiver")});
  }
  ReadMatchers(r, "matchers", out.matchers);
  if (parent == nullptr && !out.matchers.empty()) {
    r.Error("matchers", "the root route matches every alert and cannot have matchers");
  }
  ReadLabelNames(r, "group_by", out.group_by);
  r.DurationValue("group_wait", out.group_wait);
  r.DurationValue("group_interval", out.group_interval);
  r.DurationValue("repeat_interval", out.repeat_interval);
  if (out.group_interval <= Duration(0)) r.Error("group_interval", "must be greater than 0");
  if (out.repeat_interval <= Duration(0)) r.Error("repeat_interval", "must be greater than 0");
  r.Bool("continue", out.continue_matching);
  if (parent == nullptr && out.continue_matching) {
    r.Error("continue", "the root route cannot have continue");
  }
  config::ForEachMap(r, "routes", r.what() + ".routes", [&](MapReader& child, std::size_t) {
    RouteConfig c;
    ReadRoute(child, &out, c, refs);
    out.routes.push_back(std::move(c));
  });
}

void ReadNotices(MapReader& r, std::string_view type, std::string_view field,
                 std::vector<Receiver::Notice>& out) {
  config::ForEachMap(r, type, r.what() + "." + std::string(type), [&](MapReader& n, std::size_t) {
    Receiver::Notice notice{std::string(type), {}};
    if (field == "url") {
      n.Url(field, notice.target, true);
    } else {
      n.String(field, notice.target, true);
      if (field == "to" && !notice.target.empty() && notice.target.find('@') == std::string::npos) {
        n.Error(field, "\"" + notice.target + "\" is not an e-mail address");
      }
    }
    out.push_back(std::move(notice));
  });
}

std::optional<int> ParseWeekday(std::string s) {
  static const std::vector<std::string> kDays = {"sunday",   "monday", "tuesday", "wednesday",
                                                 "thursday", "friday", "saturday"};
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::size_t i = 0; i < kDays.size(); ++i) {
    if (s == kDays[i] || s == kDays[i].substr(0, 3)) return static_cast<int>(i);
  }
  return std::nullopt;
}

// RFC 3339, or "YYYY-MM-DD HH:MM" local time in `zone`.
std::optional<TimePoint> ParseWindowTime(const std::string& s, const date::time_zone* zone) {
  if (auto t = ParseTime(s); t && s.find('T') != std::string::npos) return *t;
  if (!zone) return std::nullopt;
  std::istringstream in(s);
  date::local_time<std::chrono::minutes> local;
  in >> date::parse("%Y-%m-%d %H:%M", local);
  // All of it: "02:00:00+02:00" or "02:00 PM" read as 02:00 in `zone` moved the window.
  if (in.fail() || in.peek() != std::char_traits<char>::eof()) return std::nullopt;
  try {
    auto sys = zone->to_sys(local, date::choose::earliest);
    return std::chrono::time_point_cast<Duration>(sys);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void ReadWindow(MapReader& r, MaintenanceWindowConfig& w) {
  r.String("name", w.name, true);
  const date::time_zone* zone = nullptr;
  if (r.String("time_zone", w.time_zone)) {
    try {
      zone = date::locate_zone(w.time_zone);
    } catch (const std::exception&) {
      r.Error("time_zone", "unknown time zone \"" + w.time_zone +
                               "\"; use an IANA name such as Europe/Kyiv or UTC");
    }
  } else {
    zone = date::locate_zone("UTC");
  }
  ReadMatchers(r, "matchers", w.matchers);
  r.Bool("sla_excluded", w.sla_excluded);
  bool one_off = r.Has("start") || r.Has("end");
  bool weekly = r.Has("weekly");
  if (one_off && weekly) {
    r.Error("weekly", "a window is either one-off (start/end) or weekly, not both");
    for (const char* key : {"start", "end", "weekly"}) r.Node(key);  // reported once, above
    return;
  }
  if (!one_off && !weekly) {
    r.diags().Error(r.Here(), r.what() + ": set start and end (one-off) or weekly (recurring)");
    return;
  }
  if (one_off) {
    for (const char* key : {"start", "end"}) {
      std::string text;
      if (!r.String(key, text, true)) continue;
      auto t = ParseWindowTime(text, zone);
      if (!t) {
        r.Error(key, "\"" + text +
                         "\" is not a time; write \"2026-12-01 02:00\" (in time_zone) or RFC 3339");
        continue;
      }
      (std::string_view(key) == "start" ? w.start : w.end) = *t;
    }
    if (w.start && w.end && *w.end <= *w.start) r.Error("end", "must be after start");
    return;
  }
  MapReader wk(r.file(), r.Node("weekly"), r.diags(), r.what() + ".weekly");
  if (!wk.ok()) return;
  std::vector<std::string> days;
  if (wk.StringList("days", days, true)) {
    for (const auto& d : days) {
      auto day = ParseWeekday(d);
      if (!day) {
        wk.Error("days", "\"" + d + "\" is not a day of the week (monday ... sunday)");
        continue;
      }
      w.days.push_back(*day);
    }
    if (days.empty()) wk.Error("days", "name at least one day");
  }
  int parsed = 0;
  for (const char* key : {"start", "end"}) {
    std::string text;
    if (!wk.String(key, text, true)) continue;
    auto minute = ParseClock(text, /*allow_end_of_day=*/std::string_view(key) == "end");
    if (!minute) {
      wk.Error(key, "\"" + text + "\" is not a time of day; write HH:MM, e.g. \"02:00\"");
      continue;
    }
    (std::string_view(key) == "start" ? w.start_minute : w.end_minute) = *minute;
    ++parsed;
  }
  if (parsed == 2 && w.start_minute == w.end_minute) {
    wk.Error("end", "must differ from start");
  }
}

std::string EmitYaml(const YAML::Node& n) {
  YAML::Emitter e;
  e << n;
  return e.c_str();
}

}  // namespace

std::optional<DispatchConfig> LoadDispatchConfig(const config::Config& cfg,
                                                 config::Diagnostics& diags) {
  Diagnostics local;
  DispatchConfig out;
  const std::string& file = cfg.file;
  auto section = [&](const char* name) -> YAML::Node {
    // An absent section must read as "not there"; a default YAML::Node is a defined null.
    auto it = cfg.sections.find(name);
    if (it == cfg.sections.end() || !it->second.IsDefined() || it->second.IsNull()) {
      return YAML::Node(YAML::NodeType::Undefined);
    }
    return it->second;
  };

  std::vector<RouteRef> refs;
  if (YAML::Node route = section("route"); route) {
    MapReader r(file, route, local, "route");
    if (r.ok()) ReadRoute(r, nullptr, out.route, refs);
  } else {
    out.route.receiver = "default";
  }

  std::set<std::string> receiver_names;
  if (YAML::Node receivers = section("receivers"); receivers) {
    if (!receivers.IsSequence()) {
      local.Error(config::PositionOf(file, receivers), "receivers: expected a list of receivers");
    } else {
      std::size_t i = 0;
      for (const auto& item : receivers) {
        MapReader r(file, item, local, fmt::format("receivers[{}]", i++));
        if (!r.ok()) continue;
        Receiver rc;
        r.String("name", rc.name, true);
        if (!rc.name.empty() && !receiver_names.insert(rc.name).second) {
          r.Error("name", "receiver \"" + rc.name + "\" is defined twice");
        }
        if (r.String("escalation_policy", rc.escalation_policy)) {
          std::vector<std::string> policies;
          auto it = cfg.sections.find("escalation_policies");
          // Only the keys matter here; the incident module validates the definitions.
          if (it != cfg.sections.end() && it->second.IsMap()) {
            for (const auto& kv : it->second) policies.push_back(kv.first.Scalar());
          }
          // Without the section the incident module provides the built-in ladder as "default".
          if (it == cfg.sections.end()) policies.push_back("default");
          if (std::find(policies.begin(), policies.end(), rc.escalation_policy) == policies.end()) {
            std::string hint = config::Suggest(rc.escalation_policy, policies);
            r.Error("escalation_policy",
                    "escalation policy \"" + rc.escalation_policy +
                        "\" is not defined in escalation_policies" +
                        (hint.empty() ? "" : "; did you mean \"" + hint + "\"?"));
          }
        }
        ReadNotices(r, "slack", "channel", rc.notices);
        ReadNotices(r, "email", "to", rc.notices);
        ReadNotices(r, "webhook", "url", rc.notices);
        out.receivers.push_back(std::move(rc));
      }
    }
  }
  if (!section("route") && !receiver_names.count("default")) {
    out.receivers.push_back(Receiver{"default", "", {}});
    receiver_names.insert("default");
  }
  std::vector<std::string> names(receiver_names.begin(), receiver_names.end());
  for (const auto& ref : refs) {
    if (receiver_names.count(ref.receiver)) continue;
    std::string hint = config::Suggest(ref.receiver, names);
    local.Error(ref.position, "route names receiver \"" + ref.receiver +
                                  "\", which is not defined in receivers" +
                                  (hint.empty() ? "" : "; did you mean \"" + hint + "\"?"));
  }

  if (YAML::Node rules = section("inhibit_rules"); rules) {
    if (!rules.IsSequence()) {
      local.Error(config::PositionOf(file, rules), "inhibit_rules: expected a list of rules");
    } else {
      std::size_t i = 0;
      for (const auto& item : rules) {
        MapReader r(file, item, local, fmt::format("inhibit_rules[{}]", i++));
        if (!r.ok()) continue;
        InhibitRule rule;
        bool has_source = r.Has("source_matchers"), has_target = r.Has("target_matchers");
        ReadMatchers(r, "source_matchers", rule.source_matchers);
        ReadMatchers(r, "target_matchers", rule.target_matchers);
        ReadLabelNames(r, "equal", rule.equal);
        if (!has_source) {
          r.diags().Error(r.Here(),
                          r.what() + ": source_matchers is required (which alerts inhibit)");
        }
        if (!has_target) {
          r.diags().Error(r.Here(),
                          r.what() + ": target_matchers is required (which alerts are inhibited)");
        }
        out.inhibit_rules.push_back(std::move(rule));
      }
    }
  }

  if (YAML::Node windows = section("maintenance_windows"); windows) {
    if (!windows.IsSequence()) {
      local.Error(config::PositionOf(file, windows),
                  "maintenance_windows: expected a list of windows");
    } else {
      std::size_t i = 0;
      std::set<std::string> window_names;
      for (const auto& item : windows) {
        MapReader r(file, item, local, fmt::format("maintenance_windows[{}]", i++));
        if (!r.ok()) continue;
        MaintenanceWindowConfig w;
        ReadWindow(r, w);
        if (!w.name.empty() && !window_names.insert(w.name).second) {
          r.Error("name", "maintenance window \"" + w.name + "\" is defined twice");
        }
        out.maintenance_windows.push_back(std::move(w));
      }
    }
  }

  if (YAML::Node am = section("alertmanager"); am) {
    MapReader r(file, am, local, "alertmanager");
    if (r.ok()) {
      r.DurationValue("resolve_timeout", out.alertmanager.resolve_timeout);
      if (out.alertmanager.resolve_timeout <= Duration(0)) {
        r.Error("resolve_timeout", "must be greater than 0");
      }
      long long queue = static_cast<long long>(out.alertmanager.intake_queue_batches);
      if (r.Int("intake_queue_batches", queue, false, 1, 1000000)) {
        out.alertmanager.intake_queue_batches = static_cast<std::size_t>(queue);
      }
    }
  }

  for (const char* name :
       {"route", "receivers", "inhibit_rules", "maintenance_windows", "alertmanager"}) {
    if (YAML::Node n = section(name); n) {
      out.original += std::string(name) + ":\n";
      std::istringstream lines(EmitYaml(n));
      for (std::string l; std::getline(lines, l);) out.original += "  " + l + "\n";
    }
  }

  bool failed = local.has_errors();
  diags.Append(local);
  if (failed) return std::nullopt;
  return out;
}

}  // namespace tocsin::dispatch

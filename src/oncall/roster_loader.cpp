#include "tocsin/oncall/roster_loader.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "tocsin/common/duration.h"
#include "tocsin/config/yaml_reader.h"
#include "tocsin/oncall/schedule.h"

namespace tocsin::oncall {

namespace {

using config::Diagnostics;
using config::MapReader;
using config::PositionOf;
using config::Suggest;

class Loader {
 public:
  Loader(const config::Document& doc, Diagnostics& diags)
      : file_(doc.file), diags_(diags), doc_(&doc) {}

  std::optional<Roster> Load(const YAML::Node& root) {
    Roster roster;
    roster.file = file_;
    MapReader top(file_, root, diags_, "roster");
    if (!top.ok()) {
      diags_.Error(PositionOf(file_, root),
                   "the roster must be a mapping with people, teams, "
                   "rotations, overrides and shadows");
      return std::nullopt;
    }
    ForEachNamed(top, "people", true, [&](const std::string& id, MapReader& r) {
      Person p;
      p.id = id;
      auto pos = r.Here();
      roster.person_sources[id] = {pos.line, pos.column};
      r.String("name", p.name, true);
      if (r.String("time_zone", p.time_zone, true)) CheckZone(r, "time_zone", p.time_zone);
      r.String("slack_user_id", p.slack_user_id);
      r.String("pagerduty_user_id", p.pagerduty_user_id);
      r.String("opsgenie_username", p.opsgenie_username);
      r.String("jsm_username", p.jsm_username);
      r.String("email", p.email);
      r.String("phone", p.phone);
      roster.people[id] = p;
    });
    people_ = &roster.people;
    if (Duration d{}; top.DurationValue("max_shift", d)) roster.max_shift = d;
    ForEachNamed(top, "teams", false, [&](const std::string& name, MapReader& r) {
      Team t;
      t.name = name;
      Members(r, "members", t.members);
      roster.teams.push_back(t);
    });
    for (const auto& t : roster.teams) team_names_.push_back(t.name);
    {
      auto pos = top.Where("rotations");
      roster.rotations_source = {pos.line, pos.column};
    }
    ForEachNamed(top, "rotations", true, [&](const std::string& name, MapReader& r) {
      roster.rotations.push_back(LoadRotation(name, r));
      auto pos = r.Here();
      roster.rotations.back().source = {pos.line, pos.column};
    });
    for (const auto& r : roster.rotations) rotation_names_.push_back(r.name);
    config::ForEachMap(top, "overrides", "override", [&](MapReader& r, std::size_t) {
      Override o;
      std::string kind = "cover";
      r.Enum("type", kind, {"cover", "swap"});
      o.kind = kind == "swap" ? Override::Kind::kSwap : Override::Kind::kCover;
      const Rotation* rot = nullptr;
      if (r.String("rotation", o.rotation, true)) {
        rot = FindRotation(roster, o.rotation);
        if (rot == nullptr) Unknown(r, "rotation", "rotation", o.rotation, rotation_names_);
      }
      std::string zone = rot && !rot->handovers.empty() ? rot->handovers[0].time_zone : "UTC";
      TimeValue(r, "from", zone, o.from);
      TimeValue(r, "to", zone, o.to);
      if (o.to <= o.from && r.Has("to")) r.Error("to", "`to` must be after `from`");
      if (r.String("person", o.person, true)) CheckPerson(r, "person", o.person);
      if (r.String("replaces", o.replaces)) CheckPerson(r, "replaces", o.replaces);
      bool has_with = r.String("with", o.with);
      if (has_with) CheckPerson(r, "with", o.with);
      if (o.kind == Override::Kind::kSwap && !has_with) {
        r.Error("type", "a swap needs `with`: the person trading shifts with `person`");
      }
      if (o.kind == Override::Kind::kCover && has_with) {
        r.Error("with", "`with` is for swaps; a cover uses `replaces`");
      }
      if (r.String("reason", o.reason) && doc_ != nullptr) {
        if (auto cut = config::CommentAfterPlainScalar(*doc_, r.Node("reason")); !cut.empty()) {
          r.Warning("reason", fmt::format("\"{}\" is a YAML comment, so the reason reads \"{}\"; "
                                          "quote it: reason: \"{} {}\"",
                                          cut, o.reason, o.reason, cut));
        }
      }
      roster.overrides.push_back(o);
    });
    config::ForEachMap(top, "shadows", "shadow", [&](MapReader& r, std::size_t) {
      Shadow s;
      if (r.String("newcomer", s.newcomer, true)) CheckPerson(r, "newcomer", s.newcomer);
      if (r.String("buddy", s.buddy, true)) CheckPerson(r, "buddy", s.buddy);
      const auto* buddy = roster.FindPerson(s.buddy);
      std::string zone = buddy ? buddy->time_zone : "UTC";
      TimeValue(r, "from", zone, s.from);
      TimeValue(r, "to", zone, s.to);
      if (s.to <= s.from && r.Has("to")) r.Error("to", "`to` must be after `from`");
      if (!s.newcomer.empty() && s.newcomer == s.buddy) {
        r.Error("buddy", "a newcomer cannot shadow themselves");
      }
      roster.shadows.push_back(s);
    });
    top.Finish();
    if (diags_.has_errors()) return std::nullopt;
    return roster;
  }

 private:
  static const Rotation* FindRotation(const Roster& roster, const std::string& name) {
    return roster.FindRotation(name);
  }

  void ForEachNamed(MapReader& parent, std::string_view key, bool required,
                    const std::function<void(const std::string&, MapReader&)>& fn) {
    YAML::Node n = parent.Node(key);
    if (!n.IsDefined() || n.IsNull()) {
      if (required) parent.Error(key, fmt::format("`{}` is required", key));
      return;
    }
    if (!n.IsMap()) {
      parent.Error(key, fmt::format("`{}` must be a mapping from name to its settings", key));
      return;
    }
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string name = it->first.as<std::string>("");
      MapReader r(file_, it->second, diags_, fmt::format("{} \"{}\"", key, name));
      if (!r.ok()) {
        diags_.Error(PositionOf(file_, it->second),
                     fmt::format("{} \"{}\" must be a mapping", key, name));
        continue;
      }
      fn(name, r);
      r.Finish();
    }
  }

  void CheckZone(MapReader& r, std::string_view key, const std::string& zone) {
    if (!IsValidTimeZone(zone)) {
      r.Error(key, fmt::format("unknown time zone \"{}\": use an IANA name such as "
                               "Europe/Kyiv or America/New_York",
                               zone));
    }
  }

  void Unknown(MapReader& r, std::string_view key, std::string_view what, const std::string& name,
               const std::vector<std::string>& known) {
    std::string hint = Suggest(name, known);
    r.Error(key, fmt::format("unknown {} \"{}\"{}", what, name,
                             hint.empty() ? std::string(" (it must be defined in the roster)")
                                          : "; did you mean \"" + hint + "\"?"));
  }

  std::vector<std::string> PeopleIds() const {
    std::vector<std::string> ids;
    for (const auto& [id, p] : *people_) ids.push_back(id);
    return ids;
  }

  void CheckPerson(MapReader& r, std::string_view key, const std::string& id) {
    if (people_->count(id) == 0) Unknown(r, key, "person", id, PeopleIds());
  }

  // Checks each person of a list at the position of its own item.
  void CheckPeopleNode(const YAML::Node& list, MapReader& r, std::string_view key) {
    if (!list.IsSequence()) return;
    for (const auto& item : list) {
      std::string id = item.as<std::string>("");
      if (people_->count(id) == 0) {
        std::string hint = Suggest(id, PeopleIds());
        diags_.Error(PositionOf(file_, item),
                     fmt::format("{}: unknown person \"{}\" in `{}`{}", r.what(), id, key,
                                 hint.empty() ? std::string(" (add them under `people`)")
                                              : "; did you mean \"" + hint + "\"?"));
      }
    }
  }

  bool TimeValue(MapReader& r, std::string_view key, const std::string& zone, TimePoint& out) {
    std::string text;
    if (!r.String(key, text, true)) return false;
    // An unknown zone is reported where it is written; reading the time in UTC meanwhile still
    // checks its shape without a second, invented error here.
    auto t = ParseLocalTime(text, IsValidTimeZone(zone) ? zone : "UTC");
    if (!t) {
      r.Error(key, fmt::format("invalid time \"{}\": use 2026-11-28, 2026-11-28T08:00 (local "
                               "time in {}) or RFC 3339",
                               text, zone));
      return false;
    }
    out = *t;
    return true;
  }

  bool Members(MapReader& r, std::string_view key, std::vector<std::string>& out) {
    YAML::Node n = r.Node(key);
    if (!n.IsDefined() || n.IsNull()) {
      diags_.Error(r.Here(),
                   fmt::format("{}: `{}` is required: the people taking turns", r.what(), key));
      return false;
    }
    if (!n.IsSequence() || n.size() == 0) {
      r.Error(key, "expected a non-empty list of person ids");
      return false;
    }
    for (const auto& item : n) out.push_back(item.as<std::string>(""));
    CheckPeopleNode(n, r, key);
    return true;
  }

  Rotation LoadRotation(const std::string& name, MapReader& r) {
    Rotation rot;
    rot.name = name;
    r.String("role", rot.role, true);
    if (r.String("team", rot.team) &&
        std::find(team_names_.begin(), team_names_.end(), rot.team) == team_names_.end()) {
      Unknown(r, "team", "team", rot.team, team_names_);
    }
    std::string turn = "shift";
    r.Enum("turn", turn, {"shift", "day", "week"});
    rot.turn = turn == "day" ? Turn::kDay : turn == "week" ? Turn::kWeek : Turn::kShift;
    r.DurationValue("warm_handover", rot.warm_handover);
    if (Duration d{}; r.DurationValue("max_shift", d)) rot.max_shift = d;
    std::string start;
    if (r.String("start_date", start, true)) {
      if (!ParseLocalTime(start, "UTC") || start.size() != 10) {
        r.Error("start_date", fmt::format("invalid date \"{}\": expected YYYY-MM-DD", start));
      } else {
        rot.start_date = start;
      }
    }
    bool fts = r.Has("follow_the_sun");
    if (fts) {
      for (const char* k : {"time_zone", "handovers", "members"}) {
        if (r.Has(k)) {
          r.Error(k, fmt::format("`{}` is set per region in a follow_the_sun rotation", k));
        }
      }
      std::size_t group = 0;
      config::ForEachMap(r, "follow_the_sun", "region", [&](MapReader& reg, std::size_t) {
        HandoverPoint p;
        reg.String("region", p.region, true);
        if (reg.String("time_zone", p.time_zone, true)) CheckZone(reg, "time_zone", p.time_zone);
        std::string at;
        if (reg.String("handover", at, true)) {
          auto m = ParseClock(at);
          if (!m) reg.Error("handover", fmt::format("invalid time \"{}\": expected HH:MM", at));
          p.minutes_of_day = m.value_or(0);
        }
        std::vector<std::string> members;
        Members(reg, "members", members);
        p.group = group++;
        rot.member_groups.push_back(members);
        rot.handovers.push_back(p);
        reg.Finish();
      });
      if (rot.handovers.size() < 2) {
        r.Error("follow_the_sun", "a follow_the_sun rotation needs at least two regions");
      }
    } else {
      std::string zone;
      if (r.String("time_zone", zone, true)) CheckZone(r, "time_zone", zone);
      std::vector<std::string> times;
      if (!r.StringList("handovers", times, true)) times.clear();
      std::vector<int> minutes;
      for (const auto& t : times) {
        auto m = ParseClock(t);
        if (!m) {
          r.Error("handovers", fmt::format("invalid handover time \"{}\": expected HH:MM", t));
        } else {
          minutes.push_back(*m);
        }
      }
      std::sort(minutes.begin(), minutes.end());
      if (minutes.size() >= 2) {
        // On-call shifts are 8, 10 or 12 hours long; say so when a shift is longer
        // than that, or than the rotation's own max_shift.
        const auto limit = std::chrono::duration_cast<std::chrono::minutes>(
            rot.max_shift.value_or(std::chrono::hours(12)));
        for (std::size_t i = 0; i < minutes.size(); ++i) {
          int next = i + 1 < minutes.size() ? minutes[i + 1] : minutes[0] + 24 * 60;
          if (next - minutes[i] > limit.count()) {
            r.Warning("handovers", fmt::format("a shift of {}h is longer than {}",
                                               (next - minutes[i]) / 60, FormatDuration(limit)));
          }
        }
      }
      std::vector<std::string> members;
      Members(r, "members", members);
      rot.member_groups.push_back(members);
      for (int m : minutes) rot.handovers.push_back({"", zone, m, 0});
    }
    return rot;
  }

  std::string file_;
  Diagnostics& diags_;
  const config::Document* doc_ = nullptr;
  const std::map<std::string, Person>* people_ = nullptr;
  std::vector<std::string> team_names_;
  std::vector<std::string> rotation_names_;
};

}  // namespace

std::optional<Roster> LoadRoster(const std::string& path, Diagnostics& diags) {
  auto doc = config::LoadYamlFile(path, diags);
  if (!doc) return std::nullopt;
  return Loader(*doc, diags).Load(doc->root);
}

std::optional<Roster> LoadRosterString(const std::string& file_label, const std::string& text,
                                       Diagnostics& diags) {
  auto doc = config::LoadYamlString(file_label, text, diags);
  if (!doc) return std::nullopt;
  return Loader(*doc, diags).Load(doc->root);
}

}  // namespace tocsin::oncall

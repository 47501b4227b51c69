#include "tocsin/oncall/roster.h"

#include "tocsin/oncall/override_store.h"

#include <algorithm>
#include <set>

namespace tocsin::oncall {

std::string_view OverrideKindName(Override::Kind kind) {
  return kind == Override::Kind::kSwap ? "swap" : "cover";
}

const Person* Roster::FindPerson(std::string_view id) const {
  auto it = people.find(std::string(id));
  return it == people.end() ? nullptr : &it->second;
}

const Rotation* Roster::FindRotation(std::string_view name) const {
  for (const auto& r : rotations) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

const Team* Roster::FindTeam(std::string_view name) const {
  for (const auto& t : teams) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::vector<std::string> Roster::Roles() const {
  std::set<std::string> roles;
  for (const auto& r : rotations) roles.insert(r.role);
  return {roles.begin(), roles.end()};
}

}  // namespace tocsin::oncall

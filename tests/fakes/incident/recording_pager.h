#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "tocsin/incident/page.h"

namespace tocsin::testing {

// A Pager that remembers every request, in order, for assertions.
class RecordingPager final : public incident::Pager {
 public:
  void Send(const incident::PageRequest& request) override { sent.push_back(request); }

  std::vector<incident::PageRequest> Triggers() const {
    std::vector<incident::PageRequest> out;
    for (const auto& r : sent) {
      if (r.action == incident::PageAction::kTrigger) out.push_back(r);
    }
    return out;
  }
  // Person ids reached by trigger pages, in order.
  std::vector<std::string> PagedPeople() const {
    std::vector<std::string> out;
    for (const auto& r : Triggers()) {
      for (const auto& t : r.targets) out.push_back(t.person.id);
    }
    return out;
  }
  bool Paged(const std::string& person) const {
    auto people = PagedPeople();
    return std::find(people.begin(), people.end(), person) != people.end();
  }
  std::vector<incident::PageRequest> OfAction(incident::PageAction a) const {
    std::vector<incident::PageRequest> out;
    for (const auto& r : sent) {
      if (r.action == a) out.push_back(r);
    }
    return out;
  }

  std::vector<incident::PageRequest> sent;
};

}  // namespace tocsin::testing

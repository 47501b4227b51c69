#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "tocsin/incident/page.h"

namespace tocsin::testing {

// A Pager that remembers every request it accepted, in order, for assertions. Its receipt
// says each target was queued through the first channel of the step; it answers before Send
// returns, as the outbox over a store without a writer thread does. `fail_sends` makes Send
// fail as the outbox does when its database refuses the write: nothing is recorded.
class RecordingPager final : public incident::Pager {
 public:
  void Send(const incident::PageRequest& request, SendDone done) override {
    if (fail_sends) {
      ++failed_sends;
      return done(Fail(Error::Io("injected outbox write failure")));
    }
    sent.push_back(request);
    incident::PageReceipt receipt;
    for (const auto& t : request.targets) {
      if (t.channels.empty()) continue;
      receipt.queued.push_back({t.channels.front(), "page", "", {t.person.id}});
    }
    done(std::move(receipt));
  }

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
  bool fail_sends = false;
  int failed_sends = 0;
};

}  // namespace tocsin::testing

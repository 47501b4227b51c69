#pragma once

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tocsin/dispatch/silence.h"
#include "tocsin/dispatch/silences.h"

namespace tocsin::fakes {

// In-memory SilenceStore for unit tests. `fail_puts` injects a storage failure (nothing is
// written); `hold` keeps writes in flight, as a store thread does before the commit, until
// Release() makes them durable in order.
class MemorySilenceStore final : public dispatch::SilenceStore {
 public:
  void Write(std::vector<dispatch::Silence> silences, Done done) override {
    if (fail_puts) return done(Fail(Error::Io("injected store failure")));
    if (hold) {
      held_.emplace_back(std::move(silences), std::move(done));
      if (on_held) on_held();
      return;
    }
    for (auto& s : silences) rows[s.id] = std::move(s);
    done({});
  }
  Result<std::vector<dispatch::Silence>> LoadAll() override {
    std::vector<dispatch::Silence> out;
    for (const auto& [id, s] : rows) out.push_back(s);
    return out;
  }
  // Commits the held writes, in the order they were made.
  void Release() {
    auto held = std::move(held_);
    held_.clear();
    for (auto& [silences, done] : held) {
      for (auto& s : silences) rows[s.id] = std::move(s);
      done({});
    }
  }
  std::size_t in_flight() const { return held_.size(); }

  std::map<std::string, dispatch::Silence> rows;
  bool fail_puts = false;
  bool hold = false;
  std::function<void()> on_held;  // called (on the loop) when a write is held

 private:
  std::deque<std::pair<std::vector<dispatch::Silence>, Done>> held_;
};

// Silences::Upsert and Expire on a store that completes at once (not held): the outcome, and a
// test failure if the completion did not run before the call returned.
inline Result<std::string> UpsertNow(dispatch::Silences& silences, dispatch::Silence s,
                                     TimePoint now) {
  std::optional<Result<std::string>> out;
  silences.Upsert(std::move(s), now, [&out](Result<std::string> r) { out = std::move(r); });
  if (!out) {
    ADD_FAILURE() << "Upsert did not complete";
    return Fail(Error::Io("Upsert did not complete"));
  }
  return std::move(*out);
}
inline Result<void> ExpireNow(dispatch::Silences& silences, const std::string& id, TimePoint now) {
  std::optional<Result<void>> out;
  silences.Expire(id, now, [&out](Result<void> r) { out = std::move(r); });
  if (!out) {
    ADD_FAILURE() << "Expire did not complete";
    return Fail(Error::Io("Expire did not complete"));
  }
  return std::move(*out);
}

}  // namespace tocsin::fakes

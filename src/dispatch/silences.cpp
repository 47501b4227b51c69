#include "tocsin/dispatch/silences.h"

#include <fmt/format.h>

#include <random>

namespace tocsin::dispatch {

std::string NewUuid() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xffff,
                     hi & 0xffff, lo >> 48, lo & 0xffffffffffffULL);
}

bool CanUpdateInPlace(const Silence& old, const Silence& updated, TimePoint now) {
  if (old.matchers != updated.matchers) return false;
  switch (old.StateAt(now)) {
    case SilenceState::kActive: {
      // Alertmanager compares the starts at whole seconds (what its API round-trips).
      using std::chrono::seconds;
      auto secs = [](TimePoint t) {
        return std::chrono::floor<seconds>(t.time_since_epoch()).count();
      };
      return secs(old.starts_at) == secs(updated.starts_at) && updated.ends_at >= now;
    }
    case SilenceState::kPending:
      return updated.starts_at >= now;
    case SilenceState::kExpired:
      return false;
  }
  return false;
}

Result<void> Silences::Load() {
  auto all = store_.LoadAll();
  if (!all) return Fail(all.error());
  Replace(std::move(*all));
  return {};
}

void Silences::Replace(std::vector<Silence> all) {
  by_id_.clear();
  for (auto& s : all) by_id_[s.id] = std::move(s);
}

namespace {

Silence ExpiredAt(Silence s, TimePoint now) {
  s.ends_at = now;
  if (s.starts_at > now) s.starts_at = now;
  s.updated_at = now;
  return s;
}

}  // namespace

void Silences::Upsert(Silence silence, TimePoint now, Done<std::string> done) {
  // Alertmanager lets an update set a start in the past; a new silence starting in the past
  // starts now.
  if (silence.starts_at < now && silence.id.empty()) silence.starts_at = now;
  if (auto v = silence.Validate(now); !v) return done(Fail(v.error()));
  if (forwarder_) {
    // Whether the id exists is the active's to say: this list may lag behind it.
    SilenceChange change;
    change.kind = SilenceChange::Kind::kUpsert;
    change.silence = std::move(silence);
    change.new_id = NewUuid();
    return forwarder_(std::move(change), std::move(done));
  }
  Apply(std::move(silence), now, {}, std::move(done));
}

void Silences::ApplyForwarded(SilenceChange change, TimePoint now, Done<std::string> done) {
  if (forwarder_) {
    return done(
        Fail(Error::Transient("this instance is a standby: it forwards silences, it "
                              "does not apply them")));
  }
  if (change.kind == SilenceChange::Kind::kExpire) {
    return Expire(change.id, now, [id = change.id, done = std::move(done)](Result<void> r) {
      if (!r) return done(Fail(r.error()));
      done(id);
    });
  }
  if (!change.new_id.empty() && by_id_.contains(change.new_id)) return done(change.new_id);
  Silence& silence = change.silence;
  if (silence.starts_at < now && silence.id.empty()) silence.starts_at = now;
  if (auto v = silence.Validate(now); !v) return done(Fail(v.error()));
  Apply(std::move(silence), now, std::move(change.new_id), std::move(done));
}

void Silences::Apply(Silence silence, TimePoint now, std::string new_id, Done<std::string> done) {
  silence.updated_at = now;
  std::vector<Silence> changed;
  if (!silence.id.empty()) {
    auto it = by_id_.find(silence.id);
    if (it == by_id_.end()) {
      return done(Fail(Error::NotFound("silence " + silence.id + " not found")));
    }
    const Silence& old = it->second;
    if (!CanUpdateInPlace(old, silence, now)) {
      // Rewriting history would hide what was muted when; expire the old one instead.
      if (old.StateAt(now) != SilenceState::kExpired) changed.push_back(ExpiredAt(old, now));
      silence.id.clear();
      if (silence.starts_at < now) silence.starts_at = now;
    }
  }
  if (silence.id.empty()) silence.id = new_id.empty() ? NewUuid() : std::move(new_id);
  std::string id = silence.id;
  changed.push_back(std::move(silence));
  Store(std::move(changed), [id, done = std::move(done)](Result<void> stored) {
    if (!stored) return done(Fail(stored.error()));
    done(id);
  });
}

void Silences::Expire(const std::string& id, TimePoint now, Done<void> done) {
  if (forwarder_) {
    SilenceChange change;
    change.kind = SilenceChange::Kind::kExpire;
    change.id = id;
    return forwarder_(std::move(change), [done = std::move(done)](Result<std::string> r) {
      if (!r) return done(Fail(r.error()));
      done({});
    });
  }
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return done(Fail(Error::NotFound("silence " + id + " not found")));
  // Expiring twice is no error (Alertmanager answers 200): the silence is expired either way,
  // and its recorded end stays the moment it was first expired.
  if (it->second.StateAt(now) == SilenceState::kExpired) return done({});
  Store({ExpiredAt(it->second, now)}, std::move(done));
}

void Silences::Store(std::vector<Silence> changed, Done<void> done) {
  std::weak_ptr<bool> alive = alive_;
  auto copy = changed;
  store_.Write(std::move(copy), [this, alive, changed = std::move(changed),
                                 done = std::move(done)](Result<void> stored) mutable {
    if (auto a = alive.lock(); !a || !*a) return;
    if (stored) {
      for (auto& s : changed) by_id_[s.id] = std::move(s);
    }
    done(std::move(stored));
  });
}

std::optional<Silence> Silences::Get(const std::string& id) const {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

std::vector<Silence> Silences::List() const {
  std::vector<Silence> out;
  out.reserve(by_id_.size());
  for (const auto& [id, s] : by_id_) out.push_back(s);
  return out;
}

std::vector<std::string> Silences::MutedBy(const Labels& labels, TimePoint now) const {
  std::vector<std::string> out;
  for (const auto& [id, s] : by_id_) {
    if (s.ActiveAt(now) && MatchesAll(s.matchers, labels)) out.push_back(id);
  }
  return out;
}

}  // namespace tocsin::dispatch

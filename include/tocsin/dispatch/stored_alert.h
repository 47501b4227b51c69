#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tocsin/common/clock.h"
#include "tocsin/common/labels.h"
#include "tocsin/rules/alert.h"

namespace tocsin::dispatch {

// An Alert as the dispatcher keeps it between flushes: labels, annotations and the generator
// URL packed into one string, times and enums inline, and the fields only rule alerts use
// (rule, value, threshold, burn rate, budget, links) behind a shared pointer that pushed
// alerts leave empty. About a third of an Alert's memory, which matters with 100,000 active
// alerts; Expand() gives the Alert back unchanged. Plain value.
class StoredAlert {
 public:
  StoredAlert() = default;
  explicit StoredAlert(const Alert& alert);

  Alert Expand() const;
  Labels labels() const;
  template <typename Fn>
  void ForEachLabel(Fn&& fn) const {
    Walk(0, n_labels_, fn);
  }
  template <typename Fn>
  void ForEachAnnotation(Fn&& fn) const {
    Walk(n_labels_, n_annotations_, fn);
  }
  std::string_view generator_url() const;

  TimePoint starts_at() const { return starts_at_; }
  TimePoint ends_at() const { return ends_at_; }
  TimePoint updated_at() const { return updated_at_; }
  // Alert::ResolvedAt for the stored value.
  bool ResolvedAt(TimePoint now) const {
    return state_ == AlertState::kResolved || (ends_at_ != TimePoint{} && ends_at_ <= now);
  }

 private:
  // Calls fn(name, value) for `count` pairs starting at pair index `first`.
  template <typename Fn>
  void Walk(std::size_t first, std::size_t count, Fn&& fn) const {
    std::size_t pos = SkipPairs(first);
    for (std::size_t i = 0; i < count; ++i) {
      std::string_view k = Read(pos), v = Read(pos);
      fn(k, v);
    }
  }
  std::size_t SkipPairs(std::size_t pairs) const;
  std::string_view Read(std::size_t& pos) const;

  std::string blob_;  // length-prefixed: label pairs, annotation pairs, generator URL
  std::uint32_t n_labels_ = 0;
  std::uint32_t n_annotations_ = 0;
  TimePoint starts_at_{};
  TimePoint ends_at_{};
  TimePoint updated_at_{};
  AlertState state_ = AlertState::kFiring;
  AlertKind kind_ = AlertKind::kUnspecified;
  Severity severity_ = Severity::kWarning;
  std::shared_ptr<const Alert> rich_;  // rule-engine fields; labels/annotations/URL empty
};

}  // namespace tocsin::dispatch

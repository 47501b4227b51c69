#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "tocsin/dispatch/dispatch_config.h"
#include "tocsin/dispatch/muter.h"
#include "tocsin/rules/alert.h"

namespace tocsin::dispatch {

// Mutes target alerts while a matching source alert fires (Alertmanager's inhibit rules), plus
// the built-in symptom/cause rule that needs no configuration: a firing alert labelled
// kind="cause" is muted while a kind="symptom" alert fires with the same `service` and
// `region`, and CausesFor() names it so that it rides in the symptom's page instead.
//
// Works from an index of the firing alerts built by Rebuild(); the owner rebuilds it when the
// alert set changes (or when an indexed alert's endsAt passes). Loop thread only.
class Inhibitor final : public Muter {
 public:
  explicit Inhibitor(std::vector<InhibitRule> rules) : rules_(std::move(rules)) {}

  // `firing` are the alerts firing at `now`.
  void Rebuild(const std::vector<const Alert*>& firing, TimePoint now);
  // The same, one alert at a time, so the owner need not hold every alert expanded at once:
  // Reset, then Add each firing alert (`cause` is the whole alert when IsCause(labels)).
  void Reset();
  void Add(const Labels& labels, TimePoint ends_at, const Alert* cause);
  // Whether the index is stale at `now` (an indexed alert has stopped firing since).
  bool StaleAt(TimePoint now) const { return now >= valid_until_; }

  // Fingerprints (16 hex digits) of the alerts that inhibit `labels`.
  std::vector<std::string> MutedBy(const Labels& labels, TimePoint now) const override;
  // Firing cause alerts that share service and region with the symptom `labels`, ordered by
  // their labels.
  std::vector<const Alert*> CausesFor(const Labels& symptom) const;

  static bool IsCause(const Labels& l) { return l.GetOr("kind") == "cause"; }
  static bool IsSymptom(const Labels& l) { return l.GetOr("kind") == "symptom"; }

 private:
  struct Source {
    Fingerprint fingerprint;
    bool matches_target = false;
  };
  std::vector<InhibitRule> rules_;
  // Per rule: fingerprint of the source's `equal` labels -> sources.
  std::vector<std::unordered_map<Fingerprint, std::vector<Source>>> sources_;
  // service/region key -> firing symptoms and causes.
  std::unordered_map<Fingerprint, std::vector<Fingerprint>> symptoms_;
  std::unordered_map<Fingerprint, std::vector<Alert>> causes_;  // few: copies are cheap
  TimePoint valid_until_{};
};

}  // namespace tocsin::dispatch

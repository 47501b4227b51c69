#include "tocsin/dispatch/inhibitor.h"

#include <algorithm>
#include <optional>

namespace tocsin::dispatch {

namespace {

const std::vector<std::string> kSymptomCauseEqual = {"service", "region"};

Fingerprint ScopeKey(const Labels& l) { return l.Only(kSymptomCauseEqual).fingerprint(); }

}  // namespace

void Inhibitor::Rebuild(const std::vector<const Alert*>& firing, TimePoint now) {
  Reset();
  for (const Alert* a : firing) {
    if (!a->ResolvedAt(now)) Add(a->labels, a->ends_at, a);
  }
}

void Inhibitor::Reset() {
  sources_.assign(rules_.size(), {});
  symptoms_.clear();
  causes_.clear();
  valid_until_ = TimePoint::max();
}

void Inhibitor::Add(const Labels& labels, TimePoint ends_at, const Alert* cause) {
  if (ends_at != TimePoint{}) valid_until_ = std::min(valid_until_, ends_at);
  std::optional<Fingerprint> fp;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const auto& rule = rules_[i];
    if (!MatchesAll(rule.source_matchers, labels)) continue;
    if (!fp) fp = labels.fingerprint();
    sources_[i][labels.Only(rule.equal).fingerprint()].push_back(
        {*fp, MatchesAll(rule.target_matchers, labels)});
  }
  if (IsSymptom(labels)) symptoms_[ScopeKey(labels)].push_back(labels.fingerprint());
  if (IsCause(labels) && cause != nullptr) causes_[ScopeKey(labels)].push_back(*cause);
}

std::vector<std::string> Inhibitor::MutedBy(const Labels& labels, TimePoint) const {
  std::vector<std::string> out;
  std::optional<Fingerprint> self;  // computed only when a source is found
  for (std::size_t i = 0; i < rules_.size() && i < sources_.size(); ++i) {
    const auto& rule = rules_[i];
    if (!MatchesAll(rule.target_matchers, labels)) continue;
    auto it = sources_[i].find(labels.Only(rule.equal).fingerprint());
    if (it == sources_[i].end()) continue;
    // An alert matching both sides cannot be inhibited by another two-sided alert, or two
    // such alerts would silence each other (Alertmanager's rule).
    bool two_sided = MatchesAll(rule.source_matchers, labels);
    for (const auto& src : it->second) {
      if (!self) self = labels.fingerprint();
      if (src.fingerprint == *self || (two_sided && src.matches_target)) continue;
      out.push_back(src.fingerprint.ToString());
    }
  }
  if (IsCause(labels)) {
    auto it = symptoms_.find(ScopeKey(labels));
    if (it != symptoms_.end()) {
      for (const auto& fp : it->second) out.push_back(fp.ToString());
    }
  }
  if (out.size() < 2) return out;
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<const Alert*> Inhibitor::CausesFor(const Labels& symptom) const {
  if (!IsSymptom(symptom)) return {};
  auto it = causes_.find(ScopeKey(symptom));
  if (it == causes_.end()) return {};
  std::vector<const Alert*> out;
  for (const auto& a : it->second) out.push_back(&a);
  // Collected in the order of the dispatcher's hash table: sorted, a page lists its causes
  // the same way each time.
  std::sort(out.begin(), out.end(),
            [](const Alert* x, const Alert* y) { return x->labels < y->labels; });
  return out;
}

}  // namespace tocsin::dispatch

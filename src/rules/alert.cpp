#include "tocsin/rules/alert.h"

namespace tocsin {

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kCritical:
      return "critical";
    case Severity::kError:
      return "error";
    case Severity::kWarning:
      return "warning";
    case Severity::kInfo:
      return "info";
  }
  return "warning";
}

std::optional<Severity> ParseSeverity(std::string_view s) {
  for (auto v : {Severity::kCritical, Severity::kError, Severity::kWarning, Severity::kInfo}) {
    if (SeverityName(v) == s) return v;
  }
  // Common synonyms seen in Prometheus rule files.
  if (s == "page") return Severity::kCritical;
  if (s == "ticket" || s == "warn") return Severity::kWarning;
  return std::nullopt;
}

std::string_view AlertKindName(AlertKind k) {
  switch (k) {
    case AlertKind::kSymptom:
      return "symptom";
    case AlertKind::kCause:
      return "cause";
    case AlertKind::kUnspecified:
      break;
  }
  return "";
}

std::string_view AlertStateName(AlertState s) {
  switch (s) {
    case AlertState::kInactive:
      return "inactive";
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
    case AlertState::kResolved:
      return "resolved";
  }
  return "inactive";
}

std::string Alert::Annotation(std::string_view name) const {
  auto it = annotations.find(std::string(name));
  return it == annotations.end() ? std::string() : it->second;
}

bool Alert::ResolvedAt(TimePoint now) const {
  if (state == AlertState::kResolved) return true;
  return ends_at != TimePoint{} && ends_at <= now;
}

}  // namespace tocsin

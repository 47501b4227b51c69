#include "tocsin/dispatch/silence.h"

namespace tocsin::dispatch {

std::string_view SilenceStateName(SilenceState s) {
  switch (s) {
    case SilenceState::kPending:
      return "pending";
    case SilenceState::kActive:
      return "active";
    case SilenceState::kExpired:
      return "expired";
  }
  return "expired";
}

SilenceState Silence::StateAt(TimePoint now) const {
  if (ends_at <= now) return SilenceState::kExpired;
  if (starts_at > now) return SilenceState::kPending;
  return SilenceState::kActive;
}

Result<void> Silence::Validate(TimePoint now) const {
  if (matchers.empty()) return Fail(Error::Invalid("a silence needs at least one matcher"));
  bool selective = false;
  for (const auto& m : matchers) {
    if (!m.Matches(std::string_view())) selective = true;
  }
  if (!selective) {
    return Fail(Error::Invalid(
        "at least one matcher must not match the empty string, or the silence would mute every "
        "alert"));
  }
  if (starts_at >= ends_at) return Fail(Error::Invalid("endsAt must be after startsAt"));
  if (ends_at <= now) return Fail(Error::Invalid("endsAt is in the past"));
  if (created_by.empty()) return Fail(Error::Invalid("createdBy is required"));
  return {};
}

}  // namespace tocsin::dispatch

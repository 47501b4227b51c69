#pragma once

#include <optional>
#include <string>

#include "tocsin/config/diagnostics.h"
#include "tocsin/oncall/roster.h"

namespace tocsin::oncall {

// Reads and validates a roster file (strict keys, file:line:col diagnostics, every person and
// team reference checked with a "did you mean"). Returns a roster only when there are no
// errors.
std::optional<Roster> LoadRoster(const std::string& path, config::Diagnostics& diags);
std::optional<Roster> LoadRosterString(const std::string& file_label, const std::string& text,
                                       config::Diagnostics& diags);

}  // namespace tocsin::oncall

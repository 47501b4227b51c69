#pragma once

#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/dispatch/silences.h"

namespace tocsin::dispatch {

// The Slack slash command's `silence` verb: "DURATION MATCHER... [-- comment]", e.g.
// `2h service=payments-api psp=PSP-A -- PSP-A maintenance`. Creates the silence for `actor`
// and returns the line Slack shows (the new id, or what to fix). Loop thread only.
std::string RunSilenceCommand(Silences& silences, const std::vector<std::string>& words,
                              const std::string& actor, TimePoint now);

}  // namespace tocsin::dispatch

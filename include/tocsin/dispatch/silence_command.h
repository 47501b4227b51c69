#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tocsin/common/clock.h"
#include "tocsin/dispatch/silences.h"

namespace tocsin::dispatch {

// The Slack slash command's `silence` verb: "DURATION MATCHER... [-- comment]", e.g.
// `2h service=payments-api psp=PSP-A -- PSP-A maintenance`. Creates the silence for `actor`
// and gives `reply` the line Slack shows: the new id once the silence is durable, or what to
// fix. Loop thread only.
void RunSilenceCommand(Silences& silences, const std::vector<std::string>& words,
                       const std::string& actor, TimePoint now,
                       std::function<void(std::string)> reply);

}  // namespace tocsin::dispatch

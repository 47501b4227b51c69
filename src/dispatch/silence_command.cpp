#include "tocsin/dispatch/silence_command.h"

#include <fmt/format.h>

#include "tocsin/common/duration.h"

namespace tocsin::dispatch {

void RunSilenceCommand(Silences& silences, const std::vector<std::string>& words,
                       const std::string& actor, TimePoint now,
                       std::function<void(std::string)> reply) {
  static constexpr const char* kUsage =
      "Usage: silence DURATION MATCHER... [-- comment], e.g. `silence 2h service=payments-api "
      "psp=PSP-A -- PSP-A maintenance`";
  if (words.size() < 2) return reply(kUsage);
  auto duration = ParseDuration(words[0]);
  if (!duration || duration->count() <= 0) {
    return reply("The first word must be how long, e.g. 30m or 2h. " + std::string(kUsage));
  }
  Silence s;
  std::size_t i = 1;
  for (; i < words.size() && words[i] != "--"; ++i) {
    auto m = Matcher::Parse(words[i]);
    if (!m) return reply("Matcher \"" + words[i] + "\": " + m.error().message());
    s.matchers.push_back(std::move(*m));
  }
  std::string comment;
  for (++i; i < words.size(); ++i) comment += (comment.empty() ? "" : " ") + words[i];
  s.starts_at = now;
  s.ends_at = now + *duration;
  s.created_by = actor;
  s.comment = comment.empty() ? "silenced from Slack" : comment;
  silences.Upsert(
      std::move(s), now,
      [duration = *duration, actor, reply = std::move(reply)](Result<std::string> id) {
        if (!id) return reply("Silence not created: " + id.error().message());
        reply(fmt::format("Silence {} created for {} by {}. `tocsin silence expire {}` ends it.",
                          *id, FormatDuration(duration), actor, *id));
      });
}

}  // namespace tocsin::dispatch

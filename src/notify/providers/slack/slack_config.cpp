#include "notify/providers/provider_checks.h"

namespace tocsin::notify {

void CheckSlackConfig(const config::SlackConfig& c, const WhereFn& where,
                      config::Diagnostics& diags) {
  if (!c.bot_token.empty() && c.channel.empty()) {
    diags.Error(where("channel"),
                "providers.slack.channel: required with bot_token: the incident channel where "
                "pages are posted and updated (e.g. \"#incidents\" or a channel id)");
  }
  if (!c.bot_token.empty() && c.bot_token.rfind("xoxb-", 0) != 0) {
    diags.Warning(where("bot_token"),
                  "providers.slack.bot_token does not look like a bot token (xoxb-...)");
  }
}

}  // namespace tocsin::notify

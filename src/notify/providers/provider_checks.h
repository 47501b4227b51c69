#pragma once

#include <functional>
#include <string>

#include "tocsin/config/config.h"
#include "tocsin/config/diagnostics.h"

namespace tocsin::notify {

// Where a key of `providers.<name>` is in the config file (the section when the key is
// absent, line 0 when the file cannot be re-read).
using WhereFn = std::function<config::Position(const std::string& key)>;

void CheckPagerDutyConfig(const config::PagerDutyConfig& c, const WhereFn& where,
                          config::Diagnostics& diags);
void CheckOpsgenieConfig(const config::OpsgenieConfig& c, const WhereFn& where,
                         config::Diagnostics& diags);
void CheckSlackConfig(const config::SlackConfig& c, const WhereFn& where,
                      config::Diagnostics& diags);
void CheckEmailConfig(const config::EmailConfig& c, const WhereFn& where,
                      config::Diagnostics& diags);
void CheckJsmConfig(const config::JsmConfig& c, const WhereFn& where, config::Diagnostics& diags);
void CheckTeamsConfig(const config::TeamsConfig& c, const WhereFn& where,
                      config::Diagnostics& diags);
void CheckWebhookConfig(const config::WebhookConfig& c, const WhereFn& where,
                        config::Diagnostics& diags);

void CheckTwilioConfig(const config::TwilioConfig& c, const WhereFn& where,
                       config::Diagnostics& diags);

}  // namespace tocsin::notify

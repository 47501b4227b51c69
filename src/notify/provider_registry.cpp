#include "notify/provider_registry.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace tocsin::notify {

// Each defined in its provider's folder (providers/<name>/<name>_provider.cpp).
ProviderSpec PagerDutyProvider();
ProviderSpec OpsgenieProvider();
ProviderSpec SlackProvider();
ProviderSpec EmailProvider();
ProviderSpec WebhookProvider();
ProviderSpec TwilioProvider();
ProviderSpec JsmProvider();
ProviderSpec TeamsProvider();

const std::vector<ProviderSpec>& Providers() {
  // Registration: one line per provider (and its declaration above). The order is the order
  // a trigger's deliveries are planned and metrics are listed in.
  static const std::vector<ProviderSpec> all = {
      PagerDutyProvider(), OpsgenieProvider(), SlackProvider(), EmailProvider(),
      WebhookProvider(),   TwilioProvider(),   JsmProvider(),   TeamsProvider(),
  };
  return all;
}

const ProviderSpec* FindProvider(incident::Channel channel) {
  for (const auto& p : Providers()) {
    if (p.channel == channel) return &p;
  }
  return nullptr;
}

std::vector<std::string> ProviderNames() {
  std::vector<std::string> out;
  for (const auto& p : Providers()) out.emplace_back(p.channel.name());
  return out;
}

Result<incident::Channel> ParseProviderName(std::string_view name) {
  for (const auto& p : Providers()) {
    if (p.channel.name() == name) return p.channel;
  }
  return Fail(Error::Invalid(
      fmt::format("unknown provider \"{}\" (known: {})", name, fmt::join(ProviderNames(), ", "))));
}

std::string ProviderTitle(incident::Channel channel) {
  const auto* p = FindProvider(channel);
  return p ? std::string(p->title) : std::string(channel.name());
}

}  // namespace tocsin::notify

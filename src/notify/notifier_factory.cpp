#include "notify/notifier_factory.h"

namespace tocsin::notify {

NotifierSet BuildNotifiers(const config::ProvidersConfig& p, const NotifierDeps& deps) {
  NotifierSet set;
  for (const auto& provider : Providers()) {
    if (!provider.configured(p)) continue;
    if (auto n = provider.build(p, deps)) set.notifiers[provider.channel] = std::move(n);
  }
  return set;
}

std::vector<incident::Channel> ConfiguredChannels(const config::ProvidersConfig& p) {
  std::vector<incident::Channel> out;
  for (const auto& provider : Providers()) {
    if (provider.configured(p)) out.push_back(provider.channel);
  }
  return out;
}

}  // namespace tocsin::notify

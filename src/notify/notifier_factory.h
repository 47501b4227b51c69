#pragma once

#include "notify/outbox.h"
#include "notify/provider_registry.h"
#include "tocsin/config/config.h"

namespace tocsin::notify {

// One notifier per provider configured in `providers:`, built by the provider registry
// (called at start and on every reload).
NotifierSet BuildNotifiers(const config::ProvidersConfig& providers, const NotifierDeps& deps);

// The channels whose provider is configured (a notifier is built for each), in registry order.
std::vector<incident::Channel> ConfiguredChannels(const config::ProvidersConfig& providers);

}  // namespace tocsin::notify

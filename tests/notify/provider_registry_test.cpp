// The provider registry is the one list of providers: names, config, notifiers, capabilities.
#include <gtest/gtest.h>

#include <set>

#include "notify/notifier_factory.h"
#include "notify/provider_registry.h"
#include "tocsin/incident/page_json.h"

namespace tocsin::notify {
namespace {

using incident::Channel;

TEST(ProviderRegistry, EveryProviderRoundTripsItsName) {
  ASSERT_FALSE(Providers().empty());
  for (const auto& p : Providers()) {
    std::string name(p.channel.name());
    SCOPED_TRACE(name);
    auto parsed = ParseProviderName(name);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(*parsed, p.channel);
    EXPECT_EQ(FindProvider(*parsed), &p);
    EXPECT_EQ(Channel::Named(name), p.channel);
    // And through the stored form of a queued page.
    incident::PageRequest r;
    r.incident_id = "INC-1";
    r.idempotency_key = "INC-1/trigger";
    r.targets = {{{}, "l1", {p.channel}}};
    auto back = incident::PageRequestFromText(incident::PageRequestToText(r));
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->targets[0].channels, std::vector<Channel>{p.channel});
  }
}

TEST(ProviderRegistry, NamesAreUniqueAndEverySpecIsComplete) {
  auto names = ProviderNames();
  std::set<std::string> unique(names.begin(), names.end());
  EXPECT_EQ(unique.size(), names.size());
  for (const auto& p : Providers()) {
    SCOPED_TRACE(std::string(p.channel.name()));
    EXPECT_FALSE(p.title.empty());
    EXPECT_TRUE(p.configured && p.check && p.build);
    EXPECT_TRUE(p.identity_field.empty() || p.identity != nullptr);
  }
}

TEST(ProviderRegistry, AnUnknownNameIsAnErrorThatNamesTheKnownOnes) {
  auto r = ParseProviderName("carrier-pigeon");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), Error::Kind::kInvalid);
  const std::string& msg = r.error().message();
  EXPECT_NE(msg.find("\"carrier-pigeon\""), std::string::npos) << msg;
  for (const auto& name : ProviderNames()) {
    EXPECT_NE(msg.find(name), std::string::npos) << name << " missing from: " << msg;
  }
}

TEST(ProviderRegistry, OnlyConfiguredProvidersGetANotifierInRegistryOrder) {
  config::ProvidersConfig p;
  p.webhook = config::WebhookConfig{"http://127.0.0.1:9/hook", ""};
  p.pagerduty = config::PagerDutyConfig{};
  EXPECT_EQ(ConfiguredChannels(p), (std::vector<Channel>{Channel::kPagerDuty, Channel::kWebhook}));
  auto set = BuildNotifiers(p, {*PageRenderer::Create({}), nullptr, nullptr, nullptr});
  ASSERT_EQ(set.notifiers.size(), 2u);
  for (const auto& [c, n] : set.notifiers) EXPECT_EQ(n->channel(), c);
  EXPECT_TRUE(set.WithHeartbeat().empty());
}

TEST(ProviderRegistry, HeartbeatIsACapabilityOfTheNotifierNotADowncast) {
  config::ProvidersConfig p;
  p.opsgenie = config::OpsgenieConfig{"http://127.0.0.1:9", "key", "", ""};
  auto without = BuildNotifiers(p, {*PageRenderer::Create({}), nullptr, nullptr, nullptr});
  EXPECT_TRUE(without.WithHeartbeat().empty());
  p.opsgenie->heartbeat_name = "tocsin-prod";
  auto with = BuildNotifiers(p, {*PageRenderer::Create({}), nullptr, nullptr, nullptr});
  ASSERT_EQ(with.WithHeartbeat().size(), 1u);
  EXPECT_EQ(with.WithHeartbeat()[0]->channel(), Channel::kOpsgenie);
}

}  // namespace
}  // namespace tocsin::notify

#include "tocsin/ha/ha_config.h"

#include <gtest/gtest.h>

#include "tocsin/config/config.h"

namespace tocsin::ha {
namespace {

HaConfig Load(const std::string& yaml, config::Diagnostics& diags) {
  auto loaded = config::LoadConfigString("tocsin.yaml", yaml);
  EXPECT_TRUE(loaded.parsed.has_value()) << loaded.diagnostics.ToString();
  return LoadHaConfig(*loaded.parsed, diags);
}

TEST(HaConfig, DefaultsWithoutTheSection) {
  config::Diagnostics diags;
  auto c = Load("server:\n  listen: 127.0.0.1:9095\n", diags);
  EXPECT_FALSE(diags.has_errors()) << diags.ToString();
  EXPECT_EQ(c.lease, std::chrono::seconds(10));
  EXPECT_EQ(c.cluster_name, "tocsin");
  EXPECT_EQ(c.instance, "");
  EXPECT_EQ(c.advertise_address, "127.0.0.1:9095");
  EXPECT_EQ(c.forward_timeout, std::chrono::seconds(5));
  EXPECT_EQ(SafetyMargin(c.lease), std::chrono::seconds(2));
  EXPECT_EQ(SafetyMargin(std::chrono::seconds(3)), std::chrono::seconds(1));
}

TEST(HaConfig, ReadsEveryKey) {
  config::Diagnostics diags;
  auto c = Load(
      "ha:\n  instance: zone-a\n  cluster_name: payments\n  lease: 6s\n"
      "  advertise_address: 10.0.0.1:9095\n  forward_timeout: 2s\n",
      diags);
  EXPECT_FALSE(diags.has_errors()) << diags.ToString();
  EXPECT_EQ(c.instance, "zone-a");
  EXPECT_EQ(c.cluster_name, "payments");
  EXPECT_EQ(c.lease, std::chrono::seconds(6));
  EXPECT_EQ(c.advertise_address, "10.0.0.1:9095");
  EXPECT_EQ(c.forward_timeout, std::chrono::seconds(2));
}

TEST(HaConfig, LeaseOutOfRangeAndUnknownKeysAreErrorsWithTheirLine) {
  config::Diagnostics diags;
  Load("ha:\n  lease: 1s\n  leese: 5s\n", diags);
  auto text = diags.ToString();
  EXPECT_NE(text.find("tocsin.yaml:2"), std::string::npos) << text;
  EXPECT_NE(text.find("ha.lease must be between 3 s and 5 min"), std::string::npos) << text;
  EXPECT_NE(text.find("leese"), std::string::npos) << text;
}

TEST(HaConfig, ForwardTimeoutOutOfRangeIsAnErrorWithItsLineAndTheDefaultStays) {
  config::Diagnostics diags;
  auto c = Load("ha:\n  lease: 5s\n  forward_timeout: 2m\n", diags);
  auto text = diags.ToString();
  EXPECT_NE(text.find("tocsin.yaml:3"), std::string::npos) << text;
  EXPECT_NE(text.find("ha.forward_timeout must be between 1 s and 60 s"), std::string::npos)
      << text;
  EXPECT_EQ(c.forward_timeout, std::chrono::seconds(5));
}

}  // namespace
}  // namespace tocsin::ha

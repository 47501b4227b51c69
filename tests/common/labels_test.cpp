#include "tocsin/common/labels.h"

#include <gtest/gtest.h>

namespace tocsin {
namespace {

// Vectors computed independently (FNV-1a 64 over sorted name, 0xff, value, 0xff); the empty
// set is the FNV offset basis, as in Prometheus's model package.
TEST(FingerprintTest, MatchesReferenceVectors) {
  EXPECT_EQ(Labels().fingerprint().ToString(), "cbf29ce484222325");
  EXPECT_EQ((Labels{{"a", "b"}}).fingerprint().ToString(), "d2b371819297f98a");
  EXPECT_EQ((Labels{{"alertname", "DepositSuccessLow"}, {"psp", "PSP-A"}, {"market", "DE"}})
                .fingerprint()
                .ToString(),
            "dde8120fb6e0c090");
}

TEST(FingerprintTest, IndependentOfInsertionOrder) {
  Labels a{{"service", "payments"}, {"psp", "PSP-A"}, {"market", "DE"}};
  Labels b{{"market", "DE"}, {"service", "payments"}, {"psp", "PSP-A"}};
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.fingerprint(), b.fingerprint());
  EXPECT_NE(a.fingerprint(), a.With("market", "UK").fingerprint());
}

TEST(FingerprintTest, NameValueBoundaryMatters) {
  // Without the separator byte these two would collide.
  EXPECT_NE((Labels{{"ab", "c"}}).fingerprint(), (Labels{{"a", "bc"}}).fingerprint());
}

TEST(FingerprintTest, PrintsSixteenHexDigitsAndParsesBack) {
  Fingerprint f(0x1a);
  EXPECT_EQ(f.ToString(), "000000000000001a");
  auto parsed = Fingerprint::Parse("000000000000001a");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, f);
  EXPECT_FALSE(Fingerprint::Parse("xyz"));
  EXPECT_FALSE(Fingerprint::Parse("00000000000000001"));
}

TEST(LabelsTest, SortedUniqueAndEmptyValuesDropped) {
  Labels l{{"b", "2"}, {"a", "1"}, {"c", ""}, {"b", "3"}};
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l.items()[0].name, "a");
  EXPECT_EQ(l.items()[1].name, "b");
  EXPECT_EQ(l.GetOr("b"), "3");  // the last duplicate wins
  EXPECT_FALSE(l.Has("c"));
}

TEST(LabelsTest, WithWithoutOnlyMerge) {
  Labels l{{"alertname", "X"}, {"region", "eu"}};
  EXPECT_EQ(l.With("psp", "A").ToString(), R"({alertname="X", psp="A", region="eu"})");
  EXPECT_EQ(l.Without("region").ToString(), R"({alertname="X"})");
  EXPECT_EQ(l.Only({"region", "nope"}).ToString(), R"({region="eu"})");
  EXPECT_EQ(l.Merge(Labels{{"region", "us"}}).GetOr("region"), "us");
  EXPECT_EQ(l.With("region", "").Has("region"), false);
}

TEST(LabelsTest, ToStringEscapes) {
  EXPECT_EQ((Labels{{"a", "x\"y\\z\n"}}).ToString(), R"({a="x\"y\\z\n"})");
}

}  // namespace
}  // namespace tocsin

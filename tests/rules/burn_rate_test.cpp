// Burn rates compare exactly: a burn of exactly the factor is not above it, whatever the
// objective, and one step of 0.001 above it is. The ratios below are written as decimals, as
// rule tests and Prometheus' JSON give them: 0.006 at 99.9 % is a burn of exactly 6.
#include "tocsin/rules/burn_rate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <string>

#include "evaluator_fixture.h"

namespace tocsin::rules {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

struct ExactCase {
  double objective;
  double factor;
  double at;     // error ratio whose burn is exactly `factor`
  double above;  // burn factor + 0.001
  double below;  // burn factor - 0.001
};

// error ratio = burn x (100 - objective) / 100, written out by hand.
const ExactCase kCases[] = {
    {99.9, 6, 0.006, 0.006001, 0.005999},    {99.9, 14.4, 0.0144, 0.014401, 0.014399},
    {99.85, 6, 0.009, 0.0090015, 0.0089985}, {99.85, 14.4, 0.0216, 0.0216015, 0.0215985},
    {99.8, 6, 0.012, 0.012002, 0.011998},    {99.8, 14.4, 0.0288, 0.028802, 0.028798},
};

TEST(BurnRateTest, ABurnOfExactlyTheFactorIsEqualAtEveryObjective) {
  for (const auto& c : kCases) {
    SCOPED_TRACE(::testing::Message() << "objective " << c.objective << " factor " << c.factor);
    EXPECT_TRUE(CompareBurnRate(c.at, c.objective, c.factor) == 0);
    EXPECT_TRUE(CompareBurnRate(c.above, c.objective, c.factor) > 0);
    EXPECT_TRUE(CompareBurnRate(c.below, c.objective, c.factor) < 0);
  }
}

TEST(BurnRateTest, FloatingPointBudgetsWouldHaveMisjudgedTheTie) {
  // The old computation, error_ratio / (1 - objective / 100), for the record: above 6 at 99.9
  // and below it at 99.85, for burns of exactly 6. If doubles ever get this right the exact
  // comparison is no longer needed; until then this documents why it is.
  EXPECT_GT(0.006 / (1 - 99.9 / 100), 6.0);
  EXPECT_LT(0.009 / (1 - 99.85 / 100), 6.0);
}

TEST(BurnRateTest, FarFromTheFactorAndSpecialValues) {
  EXPECT_TRUE(CompareBurnRate(0.05, 99.85, 14.4) > 0);
  EXPECT_TRUE(CompareBurnRate(0.0001, 99.85, 14.4) < 0);
  EXPECT_TRUE(CompareBurnRate(0, 99.9, 1) < 0);
  EXPECT_TRUE(CompareBurnRate(std::numeric_limits<double>::infinity(), 99.9, 14.4) > 0);
  auto nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(CompareBurnRate(nan, 99.9, 14.4) == std::partial_ordering::unordered);
  // Many nines and long decimals: still exact. 99.99999 leaves a budget of 1e-7.
  EXPECT_TRUE(CompareBurnRate(0.00000144, 99.99999, 14.4) == 0);
  EXPECT_TRUE(CompareBurnRate(0.0000014400001, 99.99999, 14.4) > 0);
  EXPECT_TRUE(CompareBurnRate(1e-300, 99.9, 14.4) < 0);
  // The budget notices' lines: exactly half of the budget spent is at the 50 % line.
  EXPECT_TRUE(CompareBurnRate(0.0005, 99.9, 0.5) == 0);
  EXPECT_TRUE(CompareBurnRate(0.0012, 99.85, 0.8) == 0);
  EXPECT_NEAR(BurnRate(0.0216, 99.85), 14.4, 1e-9);
}

// The evaluator pages only strictly above the factor, on both windows.
// The objective as written in the rule file.
class ExactTierTest : public EvaluatorTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(ExactTierTest, TiersDoNotFireAtExactlyTheFactorAndFireOneStepAbove) {
  const double objective = std::stod(GetParam());
  auto rules = Load(R"(
groups:
  - name: a
    interval: 30s
    slos:
      - name: login
        service: login
        domain: auth
        objective: )" +
                    std::string(GetParam()) + R"(
        sli: {error: "e[{{window}}]", total: "t[{{window}}]"}
        burn_rate_alerts:
          ticket: {enabled: false}
        runbook: login.md
)");
  ASSERT_EQ(rules->groups[0].slos[0].objective, objective);
  auto e = Make();
  e->SetRules(rules);
  auto set = [&](double fast, double slow) {
    source_->SetValues(Q(*rules, minutes(5)), {{Labels{}, fast}});
    source_->SetValues(Q(*rules, hours(1)), {{Labels{}, fast}});
    source_->SetValues(Q(*rules, minutes(30)), {{Labels{}, slow}});
    source_->SetValues(Q(*rules, hours(6)), {{Labels{}, slow}});
  };
  const ExactCase* slow = nullptr;
  const ExactCase* fast = nullptr;
  for (const auto& c : kCases) {
    if (c.objective != objective) continue;
    (c.factor == 6 ? slow : fast) = &c;
  }
  ASSERT_TRUE(slow && fast);
  auto tiers = [&] {
    std::set<std::string> out;
    for (const auto& a : Firing(*e, "login")) out.insert(std::string(a.labels.GetOr("tier")));
    return out;
  };
  e->Start();
  set(fast->at, slow->at);
  scheduler_.RunPending();
  EXPECT_EQ(tiers(), std::set<std::string>{});
  set(fast->above, slow->at);
  Advance(std::chrono::seconds(30));
  EXPECT_EQ(tiers(), std::set<std::string>{"page_fast"});
  set(fast->at, slow->above);
  Advance(std::chrono::seconds(30));
  EXPECT_EQ(tiers(), std::set<std::string>{"page_slow"});
}

INSTANTIATE_TEST_SUITE_P(Objectives, ExactTierTest, ::testing::Values("99.9", "99.85", "99.8"));

TEST_F(EvaluatorTest, BudgetNoticeFiresAtExactlyHalfTheBudgetNotAHairUnder) {
  auto rules = Load(R"(
groups:
  - name: a
    slos:
      - {name: login, service: login, domain: auth, objective: 99.9, by: [psp], sli: {error: "e[{{window}}]", total: "t[{{window}}]"}, runbook: r.md}
)");
  auto e = Make();
  e->SetRules(rules);
  auto q30d = Q(*rules, hours(24 * 30));
  source_->SetValues(q30d, {{Labels{{"psp", "A"}}, 0.0005}, {Labels{{"psp", "B"}}, 0.000499}});
  e->Start();
  scheduler_.RunPending();
  auto notices = Firing(*e, "tocsin_error_budget_burned");
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].labels.GetOr("budget_burned"), "50");
}

}  // namespace
}  // namespace tocsin::rules

// Every statistic against the values scipy 1.10 computes on the same data
// (fixtures/make_fixtures.py wrote fixtures/stats.json).
#include <gtest/gtest.h>

#include <algorithm>

#include "monitor/monitor.h"
#include "monitor/test_data.h"

namespace mlforge::monitor {
namespace {

using testing::Generate;
using testing::LoadFixture;
using testing::Near;
using testing::Numbers;

class StatsFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { fixture_ = new json::Value(LoadFixture("stats.json")); }
  static void TearDownTestSuite() { delete fixture_; }
  const std::vector<json::Value>& Cases(std::string_view key) {
    const json::Value* v = fixture_->Find(key);
    EXPECT_NE(v, nullptr) << key;
    static const std::vector<json::Value> kEmpty;
    return v ? v->items() : kEmpty;
  }
  static json::Value* fixture_;
};
json::Value* StatsFixture::fixture_ = nullptr;

TEST_F(StatsFixture, KsTwoSampleMatchesScipy) {
  const auto& cases = Cases("ks");
  ASSERT_GE(cases.size(), 10u);
  for (const json::Value& c : cases) {
    std::vector<double> a, b;
    if (c.Find("a")) {
      a = Numbers(*c.Find("a"));
      b = Numbers(*c.Find("b"));
    } else {
      a = Generate(*c.Find("gen_a"));
      b = Generate(*c.Find("gen_b"));
    }
    SortDoubles(a);
    SortDoubles(b);
    SCOPED_TRACE("n1=" + std::to_string(a.size()) + " n2=" + std::to_string(b.size()));
    KsResult r = KsTwoSampleSorted(a, b);
    EXPECT_TRUE(Near(r.statistic, c.Find("statistic")->as_double(), 1e-12));
    EXPECT_TRUE(Near(r.p_value, c.Find("p_value")->as_double(), 1e-9, 1e-300))
        << r.p_value << " vs scipy " << c.Find("p_value")->as_double();
    EXPECT_EQ(r.location, c.Find("location")->as_double());
    EXPECT_EQ(r.sign, c.Find("sign")->as_int64());
    EXPECT_EQ(r.exact, std::max(a.size(), b.size()) <= 10000);
    if (const json::Value* w = c.Find("wasserstein")) {
      EXPECT_TRUE(Near(WassersteinSorted(a, b), w->as_double(), 1e-9)) << WassersteinSorted(a, b);
    }
  }
}

TEST_F(StatsFixture, ExactTwoSampleDistributionMatchesScipy) {
  for (const json::Value& c : Cases("ks_exact")) {
    bool exact = false;
    double p = KsTwoSamplePValue(c.Find("d")->as_double(), static_cast<uint64_t>(c.Find("n1")->as_int64()),
                                 static_cast<uint64_t>(c.Find("n2")->as_int64()), &exact);
    EXPECT_TRUE(exact);
    EXPECT_TRUE(Near(p, c.Find("p_value")->as_double(), 1e-10, 1e-300))
        << c.Find("n1")->as_int64() << "," << c.Find("n2")->as_int64() << ": " << p << " vs "
        << c.Find("p_value")->as_double();
  }
}

TEST_F(StatsFixture, KolmogorovDistributionMatchesScipyKstwo) {
  const auto& cases = Cases("kstwo_sf");
  ASSERT_GE(cases.size(), 100u);
  for (const json::Value& c : cases) {
    int64_t n = c.Find("n")->as_int64();
    double d = c.Find("d")->as_double();
    double want = c.Find("sf")->as_double();
    EXPECT_TRUE(Near(KolmogorovSf(n, d), want, 1e-9, 1e-15)) << "n=" << n << " d=" << d << ": "
                                                             << KolmogorovSf(n, d) << " vs " << want;
  }
}

TEST_F(StatsFixture, SmirnovMatchesScipy) {
  for (const json::Value& c : Cases("smirnov")) {
    int64_t n = c.Find("n")->as_int64();
    double d = c.Find("d")->as_double();
    double want = c.Find("sf")->as_double();
    EXPECT_TRUE(Near(SmirnovSf(n, d), want, 1e-9, 1e-300)) << "n=" << n << " d=" << d << ": " << SmirnovSf(n, d)
                                                           << " vs " << want;
  }
}

TEST_F(StatsFixture, ChiSquareTestsMatchScipy) {
  for (const json::Value& c : Cases("chi2_contingency")) {
    ChiSquareResult r = ChiSquareHomogeneity(Numbers(*c.Find("a")), Numbers(*c.Find("b")));
    EXPECT_TRUE(Near(r.statistic, c.Find("statistic")->as_double(), 1e-10));
    EXPECT_TRUE(Near(r.p_value, c.Find("p_value")->as_double(), 1e-9, 1e-300))
        << r.p_value << " vs " << c.Find("p_value")->as_double();
    EXPECT_EQ(r.dof, c.Find("dof")->as_int64());
    EXPECT_TRUE(Near(r.cramers_v, c.Find("cramers_v")->as_double(), 1e-10));
  }
  for (const json::Value& c : Cases("chisquare")) {
    ChiSquareResult r = ChiSquareGoodnessOfFit(Numbers(*c.Find("observed")), Numbers(*c.Find("expected")));
    EXPECT_TRUE(Near(r.statistic, c.Find("statistic")->as_double(), 1e-10));
    EXPECT_TRUE(Near(r.p_value, c.Find("p_value")->as_double(), 1e-9, 1e-300));
  }
  for (const json::Value& c : Cases("chi2_sf")) {
    double x = c.Find("x")->as_double(), dof = c.Find("dof")->as_double();
    EXPECT_TRUE(Near(ChiSquareSf(x, dof), c.Find("sf")->as_double(), 1e-9, 1e-300))
        << "x=" << x << " dof=" << dof << ": " << ChiSquareSf(x, dof) << " vs " << c.Find("sf")->as_double();
  }
}

TEST_F(StatsFixture, DistancesMatchScipyAndNumpy) {
  for (const json::Value& c : Cases("distances")) {
    std::vector<double> a = Numbers(*c.Find("a")), b = Numbers(*c.Find("b"));
    EXPECT_TRUE(Near(Psi(a, b), c.Find("psi")->as_double(), 1e-10));
    EXPECT_TRUE(Near(JensenShannonDistance(a, b, 2), c.Find("jensen_shannon")->as_double(), 1e-10, 1e-12));
    EXPECT_TRUE(Near(HellingerDistance(a, b), c.Find("hellinger")->as_double(), 1e-10, 1e-7));
  }
}

TEST_F(StatsFixture, ZTestMatchesNormalTail) {
  for (const json::Value& c : Cases("z")) {
    double h = 0;
    double p = ZTestProportions(c.Find("hits_a")->as_double(), c.Find("n_a")->as_double(),
                                c.Find("hits_b")->as_double(), c.Find("n_b")->as_double(), &h);
    EXPECT_TRUE(Near(p, c.Find("p_value")->as_double(), 1e-10, 1e-300));
    EXPECT_TRUE(Near(h, c.Find("cohens_h")->as_double(), 1e-12));
  }
}

TEST_F(StatsFixture, CorrectionsMatchStatsmodelsFormulas) {
  for (const json::Value& c : Cases("corrections")) {
    std::vector<double> p = Numbers(*c.Find("p"));
    std::vector<double> bh = AdjustPValues(p, Correction::kBenjaminiHochberg);
    std::vector<double> bonf = AdjustPValues(p, Correction::kBonferroni);
    std::vector<double> want_bh = Numbers(*c.Find("bh")), want_bonf = Numbers(*c.Find("bonferroni"));
    for (size_t i = 0; i < p.size(); ++i) {
      EXPECT_TRUE(Near(bh[i], want_bh[i], 1e-12)) << i;
      EXPECT_TRUE(Near(bonf[i], want_bonf[i], 1e-12)) << i;
    }
  }
  // NaN is "not tested": it keeps its place and does not count in m.
  std::vector<double> p = {0.01, kNaN, 0.02};
  std::vector<double> adj = AdjustPValues(p, Correction::kBonferroni);
  EXPECT_DOUBLE_EQ(adj[0], 0.02);
  EXPECT_TRUE(std::isnan(adj[1]));
  EXPECT_DOUBLE_EQ(adj[2], 0.04);
}

TEST_F(StatsFixture, QuantilesMatchNumpyLinear) {
  for (const json::Value& c : Cases("quantiles")) {
    std::vector<double> a = Generate(*c.Find("gen"));
    SortDoubles(a);
    std::vector<double> q = Numbers(*c.Find("q")), want = Numbers(*c.Find("values"));
    for (size_t i = 0; i < q.size(); ++i) EXPECT_TRUE(Near(QuantileSorted(a, q[i]), want[i], 1e-14)) << q[i];
  }
}

TEST(SortDoubles, SortsLikeStdSortIncludingNegativesZerosAndInfinities) {
  testing::SplitMix rng(7);
  std::vector<double> v;
  for (int i = 0; i < 100000; ++i) v.push_back((rng.Uniform() - 0.5) * std::pow(10.0, rng.Uniform() * 40 - 20));
  v.insert(v.end(), {0.0, -0.0, INFINITY, -INFINITY, 1e-310, -1e-310});
  std::vector<double> want = v;
  std::sort(want.begin(), want.end());
  SortDoubles(v);
  ASSERT_EQ(v.size(), want.size());
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], want[i]) << i;
}

TEST(StatsEdges, EmptyAndDegenerateInputs) {
  std::vector<double> empty, one = {1.0};
  EXPECT_TRUE(std::isnan(KsTwoSampleSorted(empty, one).statistic));
  EXPECT_TRUE(std::isnan(WassersteinSorted(empty, one)));
  EXPECT_TRUE(std::isnan(Psi(empty, empty)));
  // One category on both sides: nothing to test, p = 1.
  std::vector<double> a = {10}, b = {20};
  ChiSquareResult r = ChiSquareHomogeneity(a, b);
  EXPECT_EQ(r.dof, 0);
  EXPECT_EQ(r.p_value, 1.0);
  EXPECT_EQ(ZTestProportions(0, 10, 0, 20), 1.0);
  EXPECT_FALSE(ParseCorrection("holm").has_value());
  EXPECT_FALSE(ParseDriftMethod("magic").has_value());
}

}  // namespace
}  // namespace mlforge::monitor

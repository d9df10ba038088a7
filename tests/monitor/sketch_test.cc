// The KLL sketch keeps its own stated rank-error bound, whatever the order of
// the input (sorted, reversed, random) and through merges; FrequentItems
// keeps Misra-Gries' guarantee.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "monitor/monitor.h"
#include "monitor/test_data.h"

namespace mlforge::monitor {
namespace {

enum class Order { kSorted, kReversed, kRandom };

std::vector<double> Values(size_t n, Order order, uint64_t seed) {
  std::vector<double> v(n);
  testing::SplitMix rng(seed);
  for (double& x : v) x = rng.Normal();
  if (order == Order::kSorted) std::sort(v.begin(), v.end());
  if (order == Order::kReversed) std::sort(v.rbegin(), v.rend());
  return v;
}

// Largest |estimated - true| normalized rank over every retained value and a
// grid of true quantiles (the points where the step CDFs can differ most).
double MaxRankError(const QuantileSketch& s, std::vector<double> truth) {
  std::sort(truth.begin(), truth.end());
  double n = static_cast<double>(truth.size());
  std::vector<double> queries;
  for (const auto& [v, w] : s.WeightedValues()) queries.push_back(v);
  for (int i = 0; i <= 200; ++i) queries.push_back(QuantileSorted(truth, i / 200.0));
  double worst = 0;
  for (double x : queries) {
    double rank = static_cast<double>(std::upper_bound(truth.begin(), truth.end(), x) - truth.begin()) / n;
    worst = std::max(worst, std::abs(s.Rank(x) - rank));
  }
  return worst;
}

class SketchOrderTest : public ::testing::TestWithParam<Order> {};

TEST_P(SketchOrderTest, RankErrorWithinStatedBound) {
  for (uint64_t seed : {1, 2, 3}) {
    std::vector<double> v = Values(300000, GetParam(), seed);
    QuantileSketch s(200, seed);
    for (double x : v) s.Add(x);
    ASSERT_EQ(s.count(), v.size());
    EXPECT_EQ(s.min(), *std::min_element(v.begin(), v.end()));
    EXPECT_EQ(s.max(), *std::max_element(v.begin(), v.end()));
    // Union bound over every query we make: delta spread across them.
    double queries = static_cast<double>(s.retained() + 201);
    double bound = s.RankErrorBound(1e-3 / queries);
    double err = MaxRankError(s, v);
    EXPECT_LE(err, bound) << "seed " << seed;
    EXPECT_LE(err, s.RankErrorHardBound());
    // The bound says something: k = 200 stays within 2.5% at 99%.
    EXPECT_LT(s.RankErrorBound(0.01), 0.025);
    std::printf("order %d seed %d: max error %.4f, bound(99%%) %.4f, bound(union) %.4f, hard %.4f\n",
                static_cast<int>(GetParam()), static_cast<int>(seed), err, s.RankErrorBound(0.01), bound,
                s.RankErrorHardBound());
    EXPECT_LT(s.retained(), 3u * 200 + 64);
  }
}

INSTANTIATE_TEST_SUITE_P(Orders, SketchOrderTest,
                         ::testing::Values(Order::kSorted, Order::kReversed, Order::kRandom));

TEST(QuantileSketch, QuantilesHaveTheirTrueRankWithinTheBound) {
  std::vector<double> v = Values(200000, Order::kRandom, 11);
  QuantileSketch s(200, 11);
  for (double x : v) s.Add(x);
  std::vector<double> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  double bound = s.RankErrorBound(1e-3 / 99);
  for (int i = 1; i < 100; ++i) {
    double q = i / 100.0;
    double y = s.Quantile(q);
    double lo = static_cast<double>(std::lower_bound(sorted.begin(), sorted.end(), y) - sorted.begin()) / sorted.size();
    double hi = static_cast<double>(std::upper_bound(sorted.begin(), sorted.end(), y) - sorted.begin()) / sorted.size();
    EXPECT_GE(q, lo - bound - 1.0 / sorted.size()) << q;
    EXPECT_LE(q, hi + bound + 1.0 / sorted.size()) << q;
  }
  EXPECT_EQ(s.Quantile(0), sorted.front());
  EXPECT_EQ(s.Quantile(1), sorted.back());
}

TEST(QuantileSketch, SmallStreamsAreExact) {
  QuantileSketch s(200);
  for (int i = 100; i > 0; --i) s.Add(i);
  EXPECT_EQ(s.RankErrorHardBound(), 0);
  EXPECT_EQ(s.RankErrorBound(), 0);
  EXPECT_DOUBLE_EQ(s.Rank(50), 0.5);
  EXPECT_DOUBLE_EQ(s.RankLess(50), 0.49);
  EXPECT_EQ(s.Quantile(0.5), 50);
  QuantileSketch empty;
  EXPECT_TRUE(std::isnan(empty.Quantile(0.5)));
  EXPECT_TRUE(std::isnan(empty.Rank(1)));
}

TEST(QuantileSketch, MergedWindowsKeepTheBound) {
  // Ten windows of a stream that drifts upward (adversarial for merging).
  std::vector<double> all;
  QuantileSketch merged(200, 100);
  for (int w = 0; w < 10; ++w) {
    std::vector<double> v = Values(50000, w % 2 ? Order::kSorted : Order::kRandom, 200 + w);
    for (double& x : v) x += w;
    QuantileSketch part(200, 300 + w);
    for (double x : v) part.Add(x);
    ASSERT_TRUE(merged.Merge(part).ok());
    all.insert(all.end(), v.begin(), v.end());
  }
  EXPECT_EQ(merged.count(), all.size());
  EXPECT_EQ(merged.min(), *std::min_element(all.begin(), all.end()));
  EXPECT_EQ(merged.max(), *std::max_element(all.begin(), all.end()));
  double bound = merged.RankErrorBound(1e-3 / static_cast<double>(merged.retained() + 201));
  EXPECT_LE(MaxRankError(merged, all), bound);
  EXPECT_LT(merged.retained(), 3u * 200 + 64);

  QuantileSketch other_k(100);
  other_k.Add(1);
  EXPECT_FALSE(merged.Merge(other_k).ok());
}

TEST(QuantileSketch, JsonRoundTripKeepsStateAndBound) {
  QuantileSketch s(64, 5);
  std::vector<double> v = Values(20000, Order::kRandom, 5);
  for (double x : v) s.Add(x);
  json::Writer w;
  s.ToJson(w);
  auto parsed = json::Parse(w.str());
  ASSERT_TRUE(parsed.has_value());
  auto back = QuantileSketch::FromJson(*parsed);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(back->count(), s.count());
  EXPECT_EQ(back->RankErrorBound(), s.RankErrorBound());
  for (double q : {0.01, 0.3, 0.5, 0.99}) EXPECT_EQ(back->Quantile(q), s.Quantile(q));
  // It keeps working: same coins, same future.
  for (int i = 0; i < 5000; ++i) {
    s.Add(i * 0.001);
    back->Add(i * 0.001);
  }
  EXPECT_EQ(back->Quantile(0.5), s.Quantile(0.5));

  // Tampered state is refused, not trusted.
  std::string bad = w.str();
  bad.replace(bad.find("\"count\":20000"), 13, "\"count\":20001");
  EXPECT_FALSE(QuantileSketch::FromJson(*json::Parse(bad)).has_value());
  EXPECT_FALSE(QuantileSketch::FromJson(*json::Parse("{\"k\":3}")).has_value());
}

TEST(QuantileSketch, RetainsAFewHundredValuesWhateverTheStreamLength) {
  // The retained size bounds memory and merge work (speed is measured in bench/drift).
  QuantileSketch s;
  for (int i = 0; i < 1000000; ++i) s.Add(i);
  EXPECT_LT(s.retained(), 700u);
}

TEST(FrequentItems, ExactUntilCapacityThenBoundedUndercount) {
  FrequentItems f(10);
  for (int i = 0; i < 10; ++i) f.Add("item" + std::to_string(i), static_cast<uint64_t>(i + 1));
  EXPECT_TRUE(f.exact());
  EXPECT_EQ(f.Count("item9"), 10u);
  EXPECT_EQ(f.total(), 55u);

  // Zipf-like stream over 1000 items.
  FrequentItems g(50);
  std::vector<uint64_t> truth(1000, 0);
  testing::SplitMix rng(3);
  for (int i = 0; i < 200000; ++i) {
    size_t item = static_cast<size_t>(std::pow(1000.0, rng.Uniform())) - 1;
    ++truth[item];
    g.Add("k" + std::to_string(item));
  }
  EXPECT_FALSE(g.exact());
  EXPECT_LE(g.max_error(), g.total() / 51);
  for (size_t i = 0; i < truth.size(); ++i) {
    uint64_t est = g.Count("k" + std::to_string(i));
    EXPECT_LE(est, truth[i]);
    EXPECT_GE(est + g.max_error(), truth[i]) << i;
  }
  EXPECT_EQ(g.Items().front().first, "k0");
}

TEST(FrequentItems, MergeAddsCountsAndErrors) {
  FrequentItems a(5), b(5);
  a.Add("x", 10);
  a.Add("y", 3);
  b.Add("x", 5);
  b.Add("z", 7);
  a.Merge(b);
  EXPECT_TRUE(a.exact());
  EXPECT_EQ(a.Count("x"), 15u);
  EXPECT_EQ(a.Count("z"), 7u);
  EXPECT_EQ(a.total(), 25u);
  json::Writer w;
  a.ToJson(w);
  auto back = FrequentItems::FromJson(*json::Parse(w.str()));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->Items(), a.Items());
}

}  // namespace
}  // namespace mlforge::monitor

// The fast paths under the drift report against plain references: the
// bucketed sort against std::sort, and the branch-free KS/Wasserstein walk
// against the one-run-at-a-time walk it replaced (same numbers to the bit).
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <vector>

#include "monitor/monitor.h"
#include "monitor/test_data.h"

namespace mlforge::monitor {
namespace {

uint64_t Bits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof(u));
  return u;
}

void ExpectSortsLikeStdSort(std::vector<double> v, const char* what) {
  std::vector<double> want = v;
  std::sort(want.begin(), want.end());
  SortDoubles(v);
  ASSERT_EQ(v.size(), want.size()) << what;
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], want[i]) << what << " at " << i;
}

TEST(SortDoubles, TiesSkewAndDegenerateInputs) {
  testing::SplitMix rng(11);
  std::vector<double> v;
  // Values with 4 decimals: many ties, many buckets and sub-buckets.
  for (int i = 0; i < 300000; ++i) v.push_back(std::round((rng.Irwin() * 7 + 3) * 1e4) / 1e4);
  ExpectSortsLikeStdSort(v, "rounded");
  // Nearly all values in one top bucket: crowded sub-buckets.
  v.clear();
  for (int i = 0; i < 200000; ++i) v.push_back(1 + rng.Uniform() * 1e-9);
  v.push_back(1e300);
  v.push_back(-1e300);
  ExpectSortsLikeStdSort(v, "skewed");
  ExpectSortsLikeStdSort(std::vector<double>(50000, 2.5), "constant");
  v.clear();
  for (int i = 0; i < 50000; ++i) v.push_back(i % 2 ? -3.0 : 7.0);
  ExpectSortsLikeStdSort(v, "two values");
  for (size_t n = 4096; n < 4096 + 40; ++n) {
    v.clear();
    for (size_t i = 0; i < n; ++i) v.push_back(rng.Uniform() - 0.5);
    ExpectSortsLikeStdSort(v, "small");
  }
}

// The walk as it was: one distinct value per iteration.
KsResult ReferenceWalk(const std::vector<double>& x, const std::vector<double>& y, double* wasserstein) {
  const int64_t na = static_cast<int64_t>(x.size()), nb = static_cast<int64_t>(y.size());
  int64_t i = 0, j = 0;
  int64_t max_a = INT64_MIN, max_b = INT64_MIN, min_a = INT64_MAX, min_b = INT64_MAX;
  double loc_max_a = NAN, loc_max_b = NAN, loc_min_a = NAN, loc_min_b = NAN;
  double area = 0, prev_v = 0;
  int64_t prev_gap = 0;
  bool first = true;
  while (i < na || j < nb) {
    double v = (j >= nb || (i < na && x[i] <= y[j])) ? x[i] : y[j];
    bool in_a = false, in_b = false;
    while (i < na && x[i] == v) ++i, in_a = true;
    while (j < nb && y[j] == v) ++j, in_b = true;
    int64_t num = i * nb - j * na;
    if (in_a) {
      if (num > max_a) max_a = num, loc_max_a = v;
      if (num < min_a) min_a = num, loc_min_a = v;
    }
    if (in_b) {
      if (num > max_b) max_b = num, loc_max_b = v;
      if (num < min_b) min_b = num, loc_min_b = v;
    }
    if (!first) area += static_cast<double>(prev_gap) * (v - prev_v);
    first = false;
    prev_v = v;
    prev_gap = num < 0 ? -num : num;
  }
  double scale = static_cast<double>(na) * static_cast<double>(nb);
  *wasserstein = area / scale;
  int64_t max_n = std::max(max_a, max_b), min_n = std::min(min_a, min_b);
  KsResult r;
  double max_s = static_cast<double>(max_n) / scale;
  double min_s = std::clamp(-static_cast<double>(min_n) / scale, 0.0, 1.0);
  if (min_s > max_s) {
    r.statistic = min_s;
    r.location = min_a == min_n ? loc_min_a : loc_min_b;
  } else {
    r.statistic = max_s;
    r.location = max_a == max_n ? loc_max_a : loc_max_b;
  }
  return r;
}

void ExpectWalkMatches(std::vector<double> a, std::vector<double> b, const char* what) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  double want_w = 0;
  KsResult want = ReferenceWalk(a, b, &want_w);
  KsResult got = KsTwoSampleSorted(a, b);
  double got_w = WassersteinSorted(a, b);
  EXPECT_EQ(Bits(got_w), Bits(want_w)) << what << ": " << got_w << " vs " << want_w;
  if (!got.exact) {
    EXPECT_EQ(Bits(got.statistic), Bits(want.statistic)) << what;
  }
  EXPECT_EQ(Bits(got.location), Bits(want.location)) << what << ": " << got.location << " vs " << want.location;
}

TEST(KsWalk, SameBitsAsOneRunAtATime) {
  testing::SplitMix rng(5);
  auto sample = [&](size_t n, double shift, double scale, double grid) {
    std::vector<double> v;
    for (size_t i = 0; i < n; ++i) v.push_back(std::round((rng.Irwin() * scale + shift) / grid) * grid);
    return v;
  };
  // Large samples (asymptotic p-value, statistic not snapped), ties from a grid.
  ExpectWalkMatches(sample(20000, 0, 1, 1e-3), sample(30000, 0.1, 1.2, 1e-3), "shifted");
  ExpectWalkMatches(sample(20000, 0, 1, 1e-9), sample(20000, 0, 1, 1e-9), "same");
  ExpectWalkMatches(sample(15000, 0, 1, 0.25), sample(12000, 0.3, 1, 0.25), "heavy ties");
  ExpectWalkMatches(sample(11000, 0, 1, 1e-6), sample(11000, 10, 1, 1e-6), "disjoint");
  ExpectWalkMatches(sample(11000, 10, 1, 1e-6), sample(11000, 0, 1, 1e-6), "disjoint, b first");
  // Small samples and edge shapes.
  ExpectWalkMatches({1.0}, {2.0}, "one each");
  ExpectWalkMatches({1.0, 1.0, 1.0}, {1.0, 1.0}, "all equal");
  ExpectWalkMatches({-0.0, 0.0, 1.0}, {0.0, -0.0, 2.0}, "signed zeros");
  ExpectWalkMatches({0.0, 1.0, 2.0, 3.0}, {3.0, 3.0, 3.0}, "b at the end");
}

}  // namespace
}  // namespace mlforge::monitor

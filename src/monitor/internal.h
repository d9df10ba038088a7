// Private to src/monitor: step-CDF walks shared by raw columns (every value
// weighs 1) and sketches (retained values with weights).
#pragma once

#include <algorithm>
#include <climits>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "monitor/monitor.h"

namespace mlforge::monitor::internal {

// A sorted sample seen as a step CDF.
struct Unweighted {
  std::span<const double> v;
  size_t size() const { return v.size(); }
  double value(size_t i) const { return v[i]; }
  double weight(size_t) const { return 1.0; }
  double total() const { return static_cast<double>(v.size()); }
};
struct Weighted {
  std::span<const std::pair<double, uint64_t>> v;
  double sum = 0;
  explicit Weighted(std::span<const std::pair<double, uint64_t>> items) : v(items) {
    for (const auto& [x, w] : items) sum += static_cast<double>(w);
  }
  size_t size() const { return v.size(); }
  double value(size_t i) const { return v[i].first; }
  double weight(size_t i) const { return static_cast<double>(v[i].second); }
  double total() const { return sum; }
};

// Visits every distinct value of a and b in ascending order with the
// cumulative weights of a and b at or below it, and which samples hold it:
// fn(value, cum_a, cum_b, in_a, in_b). Returns the next distinct value via
// the following call, so walkers can integrate between values.
template <typename A, typename B, typename Fn>
void WalkSteps(const A& a, const B& b, Fn&& fn) {
  size_t i = 0, j = 0;
  double ca = 0, cb = 0;
  while (i < a.size() || j < b.size()) {
    double v;
    if (j >= b.size() || (i < a.size() && a.value(i) <= b.value(j))) {
      v = a.value(i);
    } else {
      v = b.value(j);
    }
    bool in_a = false, in_b = false;
    while (i < a.size() && a.value(i) == v) {
      ca += a.weight(i++);
      in_a = true;
    }
    while (j < b.size() && b.value(j) == v) {
      cb += b.weight(j++);
      in_b = true;
    }
    fn(v, ca, cb, in_a, in_b);
  }
}

// scipy's choice between the largest positive and negative ECDF differences
// (each side's first location wins), from the extremes of a walk.
template <typename T>
KsResult KsFromExtremes(T max_a, double loc_max_a, T max_b, double loc_max_b, T min_a, double loc_min_a,
                        T min_b, double loc_min_b, double scale) {
  T max_n = std::max(max_a, max_b);
  double loc_max = max_a == max_n ? loc_max_a : loc_max_b;
  T min_n = std::min(min_a, min_b);
  double loc_min = min_a == min_n ? loc_min_a : loc_min_b;
  double max_s = static_cast<double>(max_n) / scale;
  double min_s = std::clamp(-static_cast<double>(min_n) / scale, 0.0, 1.0);
  KsResult r;
  if (min_s > max_s) {
    r.statistic = min_s;
    r.location = loc_min;
    r.sign = -1;
  } else {
    r.statistic = max_s;
    r.location = loc_max;
    r.sign = 1;
  }
  return r;
}

// The KS statistic as scipy.stats.ks_2samp computes it (cdf differences at
// every data point; ties and location resolved like numpy's argmax over
// concatenate([sorted a, sorted b])), and scipy.stats.wasserstein_distance,
// from one walk over the two step CDFs.
template <typename A, typename B>
KsResult KsAndWasserstein(const A& a, const B& b, double* wasserstein) {
  double na = a.total(), nb = b.total();
  // Best differences among points of a and of b, first (smallest) value wins.
  double max_a = -2, max_b = -2, min_a = 2, min_b = 2;
  double loc_max_a = kNaN, loc_max_b = kNaN, loc_min_a = kNaN, loc_min_b = kNaN;
  double area = 0, prev_v = 0, prev_gap = 0;
  bool first = true;
  WalkSteps(a, b, [&](double v, double ca, double cb, bool in_a, bool in_b) {
    double diff = ca / na - cb / nb;
    if (in_a) {
      if (diff > max_a) max_a = diff, loc_max_a = v;
      if (diff < min_a) min_a = diff, loc_min_a = v;
    }
    if (in_b) {
      if (diff > max_b) max_b = diff, loc_max_b = v;
      if (diff < min_b) min_b = diff, loc_min_b = v;
    }
    if (!first) area += prev_gap * (v - prev_v);
    first = false;
    prev_v = v;
    prev_gap = std::abs(diff);
  });
  if (wasserstein) *wasserstein = area;
  return KsFromExtremes(max_a, loc_max_a, max_b, loc_max_b, min_a, loc_min_a, min_b, loc_min_b, 1.0);
}

// The same for raw sorted samples, in integer counts: D and the Wasserstein
// area are tracked as count differences c_a n_b - c_b n_a (exact in 64 bits)
// and divided once at the end, instead of two divisions per value. The walk
// takes one value per step without data-dependent branches (which side is
// next, and where a run of equal values ends, are coin flips a predictor
// loses): a run is closed when the next value differs, and the Wasserstein
// term |diff| * (next - value) is added every step, being exactly 0 inside
// a run, so the sum is the same as one term per distinct value.
inline KsResult KsAndWasserstein(const Unweighted& a, const Unweighted& b, double* wasserstein) {
  const double* x = a.v.data();
  const double* y = b.v.data();
  const int64_t na = static_cast<int64_t>(a.v.size()), nb = static_cast<int64_t>(b.v.size());
  int64_t max_a = INT64_MIN, max_b = INT64_MIN, min_a = INT64_MAX, min_b = INT64_MAX;
  double loc_max_a = kNaN, loc_max_b = kNaN, loc_min_a = kNaN, loc_min_b = kNaN;
  double area = 0;
  int64_t i = 0, j = 0;
  double run_v = 0;          // value of the current run of equal values
  bool run_a = false, run_b = false;  // which samples the run holds
  // Closes the run at counts (i, j) when `close` (the extremes take a run's
  // point only if it is a new best: rarely, so that branch predicts well).
  auto close_run = [&](bool close) __attribute__((always_inline)) {
    int64_t num = i * nb - j * na;  // (F_a - F_b) * na * nb
    bool ca = close & run_a, cb = close & run_b;
    int64_t hi_a = ca ? num : INT64_MIN, lo_a = ca ? num : INT64_MAX;
    int64_t hi_b = cb ? num : INT64_MIN, lo_b = cb ? num : INT64_MAX;
    if (hi_a > max_a) max_a = hi_a, loc_max_a = run_v;
    if (lo_a < min_a) min_a = lo_a, loc_min_a = run_v;
    if (hi_b > max_b) max_b = hi_b, loc_max_b = run_v;
    if (lo_b < min_b) min_b = lo_b, loc_min_b = run_v;
    return num;
  };
  auto step = [&](bool take_a) __attribute__((always_inline)) {
    double v = take_a ? x[i] : y[j];
    bool close = v != run_v;
    int64_t num = close_run(close);
    area += static_cast<double>(num < 0 ? -num : num) * (v - run_v);
    run_a = (run_a & !close) | take_a;
    run_b = (run_b & !close) | !take_a;
    run_v = close ? v : run_v;  // a run of 0.0 and -0.0 keeps its first
    i += take_a;
    j += !take_a;
  };
  if (na + nb > 0) {
    // The first value opens the first run.
    bool take_a = nb == 0 || (na > 0 && x[0] <= y[0]);
    run_v = take_a ? x[0] : y[0];
    run_a = take_a;
    run_b = !take_a;
    i += take_a;
    j += !take_a;
    while (i < na && j < nb) step(x[i] <= y[j]);
    while (i < na) step(true);
    while (j < nb) step(false);
    close_run(true);
  }
  double scale = static_cast<double>(na) * static_cast<double>(nb);
  if (wasserstein) *wasserstein = area / scale;
  return KsFromExtremes(max_a, loc_max_a, max_b, loc_max_b, min_a, loc_min_a, min_b, loc_min_b, scale);
}

bool IsMissingText(std::string_view s);

// The finite values of `in`, sorted, into *out; *dropped gets how many were
// not finite. Thread-safe (scratch buffers are per thread).
void SortFinite(std::span<const double> in, std::vector<double>* out, uint64_t* dropped);

// w.Key(key) and the values as a JSON array.
void WriteDoubles(json::Writer& w, std::string_view key, std::span<const double> values);

}  // namespace mlforge::monitor::internal

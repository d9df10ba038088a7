// Private to src/monitor: step-CDF walks shared by raw columns (every value
// weighs 1) and sketches (retained values with weights), and a small
// parallel-for.
#pragma once

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <span>
#include <thread>
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
// and divided once at the end, instead of two divisions per value.
inline KsResult KsAndWasserstein(const Unweighted& a, const Unweighted& b, double* wasserstein) {
  const double* x = a.v.data();
  const double* y = b.v.data();
  const int64_t na = static_cast<int64_t>(a.v.size()), nb = static_cast<int64_t>(b.v.size());
  int64_t i = 0, j = 0;
  int64_t max_a = INT64_MIN, max_b = INT64_MIN, min_a = INT64_MAX, min_b = INT64_MAX;
  double loc_max_a = kNaN, loc_max_b = kNaN, loc_min_a = kNaN, loc_min_b = kNaN;
  double area = 0, prev_v = 0;
  int64_t prev_gap = 0;
  bool first = true;
  while (i < na || j < nb) {
    double v = (j >= nb || (i < na && x[i] <= y[j])) ? x[i] : y[j];
    bool in_a = false, in_b = false;
    while (i < na && x[i] == v) ++i, in_a = true;
    while (j < nb && y[j] == v) ++j, in_b = true;
    int64_t num = i * nb - j * na;  // (F_a - F_b) * na * nb
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
  if (wasserstein) *wasserstein = area / scale;
  return KsFromExtremes(max_a, loc_max_a, max_b, loc_max_b, min_a, loc_min_a, min_b, loc_min_b, scale);
}

// Runs fn(i) for i in [0, n) on up to `threads` threads (the caller is one).
// fn must be thread-safe.
template <typename Fn>
void ParallelFor(size_t n, int threads, Fn&& fn) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) fn(i);
  };
  size_t extra = std::min<size_t>(n, static_cast<size_t>(threads));
  extra = extra > 0 ? extra - 1 : 0;
  std::vector<std::jthread> pool;
  pool.reserve(extra);
  for (size_t t = 0; t < extra; ++t) pool.emplace_back(work);
  work();
}

bool IsMissingText(std::string_view s);

// The finite values of `in`, sorted, into *out; *dropped gets how many were
// not finite. Thread-safe (scratch buffers are per thread).
void SortFinite(std::span<const double> in, std::vector<double>* out, uint64_t* dropped);

// w.Key(key) and the values as a JSON array.
void WriteDoubles(json::Writer& w, std::string_view key, std::span<const double> values);

}  // namespace mlforge::monitor::internal

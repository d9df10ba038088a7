// Streaming change detectors (docs/monitoring.md, "Change detectors").
// Each follows its paper; tests/monitor/fixtures/make_detector_fixtures.py
// is an independent Python implementation the tests compare against.
#include <algorithm>
#include <cmath>
#include <limits>

#include "monitor/monitor.h"

namespace mlforge::monitor {

// ------------------------------------------------------------ ADWIN

Adwin::Adwin(const AdwinOptions& options) : options_(options) {
  options_.max_buckets = std::max(options_.max_buckets, 2);
  options_.clock = std::max(options_.clock, 1);
  options_.min_window_length = std::max(options_.min_window_length, 1);
}

void Adwin::Reset() {
  rows_.clear();
  width_ = 0;
  total_ = 0;
  variance_ = 0;
  ticks_ = 0;
}

size_t Adwin::buckets() const {
  size_t n = 0;
  for (const auto& row : rows_) n += row.size();
  return n;
}

// Welford's update of the window's sum of squared deviations.
void Adwin::Insert(double x) {
  if (rows_.empty()) rows_.emplace_back();
  rows_[0].insert(rows_[0].begin(), Bucket{x, 0});
  if (width_ > 0) {
    const double mean = total_ / static_cast<double>(width_);
    const double w = static_cast<double>(width_);
    variance_ += w * (x - mean) * (x - mean) / (w + 1);
  }
  ++width_;
  total_ += x;
}

// A row holding max_buckets + 1 buckets merges its two oldest into one
// bucket of the next row (the exponential histogram's invariant).
void Adwin::Compress() {
  for (size_t i = 0; i < rows_.size(); ++i) {
    if (rows_[i].size() <= static_cast<size_t>(options_.max_buckets)) break;
    const double n = std::ldexp(1.0, static_cast<int>(i));
    Bucket older = rows_[i].back();
    rows_[i].pop_back();
    Bucket newer = rows_[i].back();
    rows_[i].pop_back();
    const double d = older.total / n - newer.total / n;
    Bucket merged{older.total + newer.total,
                  older.variance + newer.variance + n * n * d * d / (2 * n)};
    if (i + 1 == rows_.size()) rows_.emplace_back();
    rows_[i + 1].insert(rows_[i + 1].begin(), merged);
  }
}

void Adwin::DropOldest() {
  while (!rows_.empty() && rows_.back().empty()) rows_.pop_back();
  if (rows_.empty()) return;
  const size_t i = rows_.size() - 1;
  const double n = std::ldexp(1.0, static_cast<int>(i));
  const Bucket b = rows_[i].back();
  rows_[i].pop_back();
  width_ -= static_cast<uint64_t>(n);
  total_ -= b.total;
  if (width_ == 0) {
    total_ = 0;
    variance_ = 0;
  } else {
    const double w = static_cast<double>(width_);
    const double d = b.total / n - total_ / w;
    variance_ -= b.variance + n * w * d * d / (n + w);
    variance_ = std::max(variance_, 0.0);
  }
  while (!rows_.empty() && rows_.back().empty()) rows_.pop_back();
}

// eps_cut of ADWIN2 with the variance form of the bound (the paper's
// Section 4 / MOA): m is the harmonic-mean-like term, corrected for the
// minimum sub-window length.
bool Adwin::CutExists(uint64_t n0, uint64_t n1, double u0, double u1) const {
  const double n = static_cast<double>(width_);
  const double dd = std::log(2 * std::log(n) / options_.delta);
  const double v = variance_ / n;
  const double min_len = options_.min_window_length;
  const double m =
      1 / (static_cast<double>(n0) - min_len + 1) + 1 / (static_cast<double>(n1) - min_len + 1);
  const double eps = std::sqrt(2 * m * v * dd) + 2.0 / 3.0 * dd * m;
  const double diff = u0 / static_cast<double>(n0) - u1 / static_cast<double>(n1);
  return std::fabs(diff) > eps;
}

bool Adwin::Update(double x) {
  Insert(x);
  Compress();
  ++ticks_;
  if (ticks_ % static_cast<uint64_t>(options_.clock) != 0 ||
      width_ <= static_cast<uint64_t>(options_.grace_period)) {
    return false;
  }
  bool change = false;
  const auto min_len = static_cast<uint64_t>(options_.min_window_length);
  for (bool shrunk = true; shrunk && width_ > 0;) {
    shrunk = false;
    // Walk the boundaries from the oldest bucket to the newest: W0 = the
    // buckets passed, W1 = the rest (never empty).
    uint64_t n0 = 0;
    uint64_t n1 = width_;
    double u0 = 0;
    double u1 = total_;
    for (size_t r = rows_.size(); r-- > 0 && !shrunk;) {
      const auto size = static_cast<uint64_t>(1) << r;
      for (size_t k = rows_[r].size(); k-- > 0;) {
        if (r == 0 && k == 0) break;  // W1 keeps the newest bucket
        n0 += size;
        n1 -= size;
        u0 += rows_[r][k].total;
        u1 -= rows_[r][k].total;
        if (n0 >= min_len && n1 >= min_len && CutExists(n0, n1, u0, u1)) {
          DropOldest();
          shrunk = change = true;
          break;
        }
      }
    }
  }
  return change;
}

// ------------------------------------------------------------ DDM

Ddm::Ddm(const DdmOptions& options) : options_(options) { Reset(); }

void Ddm::Reset() {
  n_ = 0;
  p_ = 1;
  s_ = 0;
  p_min_ = s_min_ = ps_min_ = std::numeric_limits<double>::max();
  warning_ = false;
}

bool Ddm::Update(double x) {
  x = std::clamp(x, 0.0, 1.0);
  ++n_;
  const double n = static_cast<double>(n_);
  p_ += (x - p_) / n;
  s_ = std::sqrt(p_ * (1 - p_) / n);
  warning_ = false;
  if (n_ < static_cast<uint64_t>(options_.min_instances)) return false;
  if (p_ + s_ <= ps_min_) {
    p_min_ = p_;
    s_min_ = s_;
    ps_min_ = p_ + s_;
  }
  if (p_ + s_ > p_min_ + options_.drift_level * s_min_) {
    Reset();
    return true;
  }
  warning_ = p_ + s_ > p_min_ + options_.warning_level * s_min_;
  return false;
}

// ------------------------------------------------------------ Page-Hinkley

PageHinkley::PageHinkley(const PageHinkleyOptions& options) : options_(options) {}

void PageHinkley::Reset() {
  n_ = 0;
  mean_ = 0;
  sum_ = 0;
  min_sum_ = 0;
}

bool PageHinkley::Update(double x) {
  ++n_;
  mean_ += (x - mean_) / static_cast<double>(n_);
  sum_ = options_.alpha * sum_ + (x - mean_ - options_.delta);
  min_sum_ = std::min(min_sum_, sum_);
  if (n_ >= static_cast<uint64_t>(options_.min_instances) && sum_ - min_sum_ > options_.lambda) {
    Reset();
    return true;
  }
  return false;
}

}  // namespace mlforge::monitor

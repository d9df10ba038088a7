// The seeded train/validation split.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "training/training.h"

namespace mlforge::training {
namespace {

// SplitMix64: tiny, well mixed, and fully specified, so a seed names the same
// split everywhere (std::shuffle and std:: distributions vary by library).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound) without modulo bias (rejection sampling).
  uint64_t Below(uint64_t bound) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t r;
    do {
      r = Next();
    } while (r >= limit);
    return r % bound;
  }

 private:
  uint64_t state_;
};

}  // namespace

Result<Split> SplitRows(int64_t rows, double validation_fraction, uint64_t seed) {
  if (rows <= 0) return Err(InvalidArgument("The data has no rows"));
  if (!(validation_fraction >= 0 && validation_fraction < 1)) {
    return Err(InvalidArgument(
        fmt::format("--validation-fraction must be in [0, 1), got {}", validation_fraction)));
  }
  int64_t n_val = std::llround(static_cast<double>(rows) * validation_fraction);
  if (validation_fraction > 0 && rows >= 2) n_val = std::clamp<int64_t>(n_val, 1, rows - 1);
  if (rows < 2) n_val = 0;
  std::vector<int64_t> order(static_cast<size_t>(rows));
  std::iota(order.begin(), order.end(), 0);
  SplitMix64 rng(seed);
  for (int64_t i = rows - 1; i > 0; --i) {  // Fisher-Yates
    std::swap(order[static_cast<size_t>(i)], order[rng.Below(static_cast<uint64_t>(i) + 1)]);
  }
  Split split;
  split.validation.assign(order.begin(), order.begin() + n_val);
  split.train.assign(order.begin() + n_val, order.end());
  std::sort(split.validation.begin(), split.validation.end());
  std::sort(split.train.begin(), split.train.end());
  return split;
}

}  // namespace mlforge::training

// The seeded train/validation split.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "base/random.h"
#include "training/training.h"

namespace mlforge::training {

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

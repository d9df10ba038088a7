// SplitMix64: a tiny, well mixed and fully specified generator, so a seed
// names the same numbers on every platform (std:: distributions and
// std::shuffle differ between standard libraries). Training's split, the
// demo's data and the monitor's test fixtures (make_fixtures.py draws the
// same uniforms) all use it.
#pragma once

#include <cstdint>

namespace mlforge {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, 1), from the top 53 bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  // Uniform in [0, bound) without modulo bias (rejection sampling). REQUIRES: bound > 0.
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

}  // namespace mlforge

// Test data for tests/monitor: the splitmix64 generator that
// fixtures/make_fixtures.py mirrors bit for bit, and the fixture files.
#pragma once

#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/random.h"

namespace mlforge::monitor::testing {

inline std::string FixturePath(const std::string& name) {
  return std::string(MLFORGE_SOURCE_DIR) + "/tests/monitor/fixtures/" + name;
}

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline json::Value LoadFixture(const std::string& name) {
  auto v = json::Parse(ReadText(FixturePath(name)));
  return v ? *v : json::Value();
}

// Uniforms in [0, 1) from splitmix64, as make_fixtures.py draws them.
class SplitMix : public SplitMix64 {
 public:
  using SplitMix64::SplitMix64;
  // Sum of four uniforms - 2: near normal with sd 0.577.
  double Irwin() {
    double a = Uniform(), b = Uniform(), c = Uniform(), d = Uniform();
    return ((a + b) + c) + d - 2.0;
  }
  double Normal() { return Irwin() * 1.7320508075688772; }
};

// make_fixtures.generate(spec).
inline std::vector<double> Generate(const json::Value& spec) {
  uint64_t seed = static_cast<uint64_t>(spec.Find("seed")->as_int64());
  size_t n = static_cast<size_t>(spec.Find("n")->as_int64());
  std::string dist = spec.Find("dist")->as_string();
  SplitMix rng(seed);
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (dist == "uniform") {
      out[i] = rng.Uniform() * spec.Find("scale")->as_double() + spec.Find("shift")->as_double();
    } else if (dist == "irwin") {
      out[i] = rng.Irwin() * spec.Find("scale")->as_double() + spec.Find("shift")->as_double();
    } else {
      out[i] = std::floor(rng.Uniform() * spec.Find("k")->as_double());
    }
  }
  return out;
}

inline std::vector<double> Numbers(const json::Value& array) {
  std::vector<double> out;
  for (const json::Value& v : array.items()) out.push_back(v.as_double());
  return out;
}

// |a - b| <= atol + rtol |b|, NaN only equal to NaN.
inline bool Near(double a, double b, double rtol, double atol = 0) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::abs(a - b) <= atol + rtol * std::abs(b);
}

}  // namespace mlforge::monitor::testing

// Small XGBoost models trained in-process through the C API, for the
// serving tests (libxgboost is also their oracle).
#pragma once

#include <xgboost/c_api.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "serving_test_util.h"

namespace mlforge::serving::testing {

inline void Check(int rc) {
  if (rc != 0) throw std::runtime_error(XGBGetLastError());
}

// Owns a booster. Move-only.
class Booster {
 public:
  Booster() = default;
  explicit Booster(BoosterHandle h) : h_(h) {}
  Booster(Booster&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Booster& operator=(Booster&& o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  ~Booster() {
    if (h_) XGBoosterFree(h_);
  }
  BoosterHandle get() const { return h_; }

  // The model in "json", "ubj" or "deprecated" (legacy binary).
  std::string Save(const std::string& format) const {
    bst_ulong len = 0;
    const char* data = nullptr;
    Check(XGBoosterSaveModelToBuffer(h_, ("{\"format\": \"" + format + "\"}").c_str(), &len, &data));
    return std::string(data, len);
  }

  // The oracle: libxgboost's in-place predict on a dense row-major matrix.
  std::vector<float> Predict(const std::vector<float>& x, int64_t rows, int64_t cols) const {
    const std::string array = "{\"data\": [" + std::to_string(reinterpret_cast<uintptr_t>(x.data())) +
                              ", true], \"shape\": [" + std::to_string(rows) + ", " + std::to_string(cols) +
                              "], \"typestr\": \"<f4\", \"version\": 3}";
    const char* config =
        "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
        "\"strict_shape\": false, \"missing\": NaN, \"cache_id\": 0}";
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* out = nullptr;
    Check(XGBoosterPredictFromDense(h_, array.c_str(), config, nullptr, &shape, &dim, &out));
    return Copy(out, shape, dim);
  }

  // libxgboost's DMatrix predict (dart and gblinear have no in-place predict).
  std::vector<float> PredictWithDMatrix(const std::vector<float>& x, int64_t rows, int64_t cols) const {
    DMatrixHandle d = nullptr;
    Check(XGDMatrixCreateFromMat(x.data(), static_cast<bst_ulong>(rows), static_cast<bst_ulong>(cols), NAN, &d));
    const char* config =
        "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
        "\"strict_shape\": false}";
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* out = nullptr;
    const int rc = XGBoosterPredictFromDMatrix(h_, d, config, &shape, &dim, &out);
    std::vector<float> result;
    if (rc == 0) result = Copy(out, shape, dim);
    XGDMatrixFree(d);
    Check(rc);
    return result;
  }

 private:
  static std::vector<float> Copy(const float* out, const bst_ulong* shape, bst_ulong dim) {
    bst_ulong n = 1;
    for (bst_ulong i = 0; i < dim; ++i) n *= shape[i];
    return std::vector<float>(out, out + n);
  }

  BoosterHandle h_ = nullptr;
};

// Random features in [-3, 3] with ~`missing_rate` NaNs.
inline std::vector<float> RandomFeatures(int64_t rows, int64_t cols, uint32_t seed, double missing_rate = 0.1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-3.0f, 3.0f);
  std::uniform_real_distribution<double> coin(0, 1);
  std::vector<float> x(static_cast<size_t>(rows * cols));
  for (float& v : x) v = coin(rng) < missing_rate ? NAN : value(rng);
  return x;
}

// Labels that depend on the features, so trees really split: a score from
// the first features (missing counts as 0), mapped for the objective.
inline std::vector<float> Labels(const std::vector<float>& x, int64_t rows, int64_t cols,
                                 const std::string& objective, int num_class) {
  std::vector<float> y(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0;
    for (int64_t c = 0; c < std::min<int64_t>(cols, 4); ++c) {
      const float v = x[static_cast<size_t>(r * cols + c)];
      s += (std::isnan(v) ? 0.0 : v) * (c % 2 ? -1.0 : 1.0) * (c + 1);
    }
    if (objective.starts_with("multi:")) {
      y[static_cast<size_t>(r)] = static_cast<float>(std::clamp<int>(static_cast<int>(std::floor(s / 3 + num_class / 2.0)), 0, num_class - 1));
    } else if (objective == "binary:logistic" || objective == "reg:logistic") {
      y[static_cast<size_t>(r)] = s > 0 ? 1.0f : 0.0f;
    } else {
      y[static_cast<size_t>(r)] = static_cast<float>(s + 0.1 * r / rows);
    }
  }
  return y;
}

// Trains `rounds` rounds. params: extra (name, value) pairs.
inline Booster Train(const std::vector<float>& x, int64_t rows, int64_t cols, const std::string& objective,
                     int num_class, int rounds,
                     std::vector<std::pair<std::string, std::string>> params = {},
                     std::vector<std::string> feature_names = {}) {
  DMatrixHandle d = nullptr;
  Check(XGDMatrixCreateFromMat(x.data(), static_cast<bst_ulong>(rows), static_cast<bst_ulong>(cols), NAN, &d));
  const std::vector<float> y = Labels(x, rows, cols, objective, num_class);
  Check(XGDMatrixSetFloatInfo(d, "label", y.data(), static_cast<bst_ulong>(rows)));
  if (!feature_names.empty()) {
    std::vector<const char*> names;
    for (const std::string& n : feature_names) names.push_back(n.c_str());
    Check(XGDMatrixSetStrFeatureInfo(d, "feature_name", names.data(), names.size()));
  }
  BoosterHandle h = nullptr;
  Check(XGBoosterCreate(&d, 1, &h));
  Booster booster(h);
  Check(XGBoosterSetParam(h, "objective", objective.c_str()));
  Check(XGBoosterSetParam(h, "nthread", "1"));
  Check(XGBoosterSetParam(h, "seed", "7"));
  if (num_class > 0) Check(XGBoosterSetParam(h, "num_class", std::to_string(num_class).c_str()));
  for (const auto& [k, v] : params) Check(XGBoosterSetParam(h, k.c_str(), v.c_str()));
  for (int i = 0; i < rounds; ++i) Check(XGBoosterUpdateOneIter(h, i, d));
  XGDMatrixFree(d);
  // As xgboost's Python package does: the booster keeps the names.
  if (!feature_names.empty()) {
    std::vector<const char*> names;
    for (const std::string& n : feature_names) names.push_back(n.c_str());
    Check(XGBoosterSetStrFeatureInfo(h, "feature_name", names.data(), names.size()));
  }
  return booster;
}

inline std::vector<std::string> FeatureNames(int64_t cols) {
  std::vector<std::string> names;
  for (int64_t c = 0; c < cols; ++c) names.push_back("f" + std::to_string(c));
  return names;
}

// An MLflow xgboost-flavor package holding `model` (bytes in `format`:
// json, ubj or deprecated -> model.xgb). With `signature`, its inputs are
// f0..f{cols-1} as doubles.
inline void WriteXgboostPackage(const std::filesystem::path& dir, const Booster& model,
                                const std::string& format, int64_t cols, bool signature = true,
                                const std::string& model_class = "xgboost.core.Booster") {
  const std::string ext = format == "deprecated" ? "xgb" : format;
  std::string mlmodel = "flavors:\n  xgboost:\n    code: null\n    data: model." + ext +
                        "\n    model_class: " + model_class + "\n    model_format: " + ext +
                        "\n    xgb_version: 1.7.4\nmlflow_version: 2.12.1\n";
  if (signature) {
    std::string inputs = "[";
    for (int64_t c = 0; c < cols; ++c) {
      inputs += (c ? ", " : "") + std::string("{\"type\": \"double\", \"name\": \"f") + std::to_string(c) +
                "\", \"required\": true}";
    }
    mlmodel += "signature:\n  inputs: '" + inputs + "]'\n  outputs: null\n  params: null\n";
  }
  WriteFile(dir / "MLmodel", mlmodel);
  WriteFile(dir / ("model." + ext), model.Save(format));
}

}  // namespace mlforge::serving::testing

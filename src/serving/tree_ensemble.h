// A gradient-boosted tree ensemble evaluated natively (no libxgboost on the
// request path), loaded from XGBoost's JSON model format. Private to
// src/serving.
//
// Arithmetic follows XGBoost's CPU predictor so results match
// XGBoosterPredictFromDense: a float accumulator per output group starts at
// the base margin and adds each tree's leaf in tree order; a NaN feature
// takes the node's default direction, otherwise `x < split_condition` goes
// left; the objective's transform (sigmoid, softmax) is computed in float.
//
// Immutable after FromXgboostJson; Predict is thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mlforge::serving {

class TreeEnsemble {
 public:
  // How margins become predictions.
  enum class Transform {
    kIdentity,  // reg:squarederror and friends: the margin
    kSigmoid,   // binary:logistic, reg:logistic: probability of class 1
    kSoftprob,  // multi:softprob: one probability per class
    kSoftmax,   // multi:softmax: index of the most likely class
  };

  // Parses XGBoost's JSON model (XGBoosterSaveModelToBuffer {"format":
  // "json"}). Models it cannot evaluate exactly are kNotImplemented with the
  // reason (gblinear, dart, categorical splits, objectives without a native
  // transform); the caller then falls back to libxgboost. A structurally
  // broken model is kInvalidParameterValue.
  static Result<TreeEnsemble> FromXgboostJson(std::string_view model_json);

  int num_features() const { return num_features_; }
  // Output groups (classes for multiclass, else 1).
  int num_groups() const { return num_groups_; }
  // Prediction columns per row: num_groups for kSoftprob, else 1.
  int num_outputs() const { return transform_ == Transform::kSoftprob ? num_groups_ : 1; }
  Transform transform() const { return transform_; }
  const std::string& objective() const { return objective_; }
  size_t num_trees() const { return roots_.size(); }

  // Predicts `rows` rows of num_features() floats each (row-major, NaN =
  // missing) into out[rows * num_outputs()].
  void Predict(const float* features, int64_t rows, double* out) const;

 private:
  // 12 bytes; the children of an internal node are adjacent (right = left + 1).
  struct Node {
    float value;        // split condition, or leaf value
    uint32_t left;      // internal nodes: index of the left child
    uint32_t feature;   // feature index | kDefaultLeft | kLeaf
  };
  static constexpr uint32_t kLeaf = 1u << 31;
  static constexpr uint32_t kDefaultLeft = 1u << 30;
  static constexpr uint32_t kFeatureMask = kDefaultLeft - 1;

  float LeafValue(uint32_t root, const float* row) const;
  void Margins(const float* features, int64_t rows, float* margins) const;

  std::vector<Node> nodes_;
  std::vector<uint32_t> roots_;        // per tree, in model order
  std::vector<uint32_t> tree_group_;   // per tree: output group (tree_info)
  int num_features_ = 0;
  int num_groups_ = 1;
  float base_margin_ = 0;
  Transform transform_ = Transform::kIdentity;
  std::string objective_;
};

}  // namespace mlforge::serving

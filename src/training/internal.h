// Private to src/training: what the flavors share once the data is checked.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "training/training.h"

namespace mlforge::training::internal {

// The checked data both flavors start from. Matrices are row-major with
// features.size() columns; y has one label per row.
struct PreparedData {
  std::vector<std::string> features;
  Split split;
  std::vector<double> x_train, y_train, x_valid, y_valid;
  // Effective parameters common to both flavors (target, seed, ...).
  std::vector<std::pair<std::string, std::string>> params;
  bool has_missing = false;
  // First missing feature value, for the linear flavor's refusal.
  std::string first_missing_column;
  int64_t first_missing_row = -1;  // 0-based data row
  bool labels_binary = false;      // every label is 0 or 1
  bool labels_integer = false;     // every label is an integer >= 0
  double max_label = 0;
};

// The flavor-independent part of a trained model; flavors add their files.
class TrainedModelBase : public TrainedModel {
 public:
  Flavor flavor() const override { return flavor_; }
  Task task() const override { return task_; }
  const std::vector<std::string>& features() const override { return features_; }
  const std::vector<NamedValue>& final_metrics() const override { return final_metrics_; }
  const std::vector<double>& validation_predictions() const override { return valid_pred_; }
  int outputs() const override { return outputs_; }
  int iterations() const override { return iterations_; }
  const std::vector<std::string>& warnings() const override { return warnings_; }

  // Fills final_metrics_ from both splits' predictions (outputs_ per row).
  void Evaluate(const PreparedData& data, const std::vector<double>& train_pred,
                std::vector<double> valid_pred);

 public:  // filled in by the flavor's trainer; immutable once handed out
  Flavor flavor_ = Flavor::kXgboost;
  Task task_ = Task::kRegression;
  std::vector<std::string> features_;
  std::vector<NamedValue> final_metrics_;
  std::vector<double> valid_pred_;
  int outputs_ = 1;
  int iterations_ = 0;
  std::vector<std::string> warnings_;
};

// The flavor-independent part of a trainer: the checked data, the task and
// the effective parameters.
class TrainerBase : public Trainer {
 public:
  TrainerBase(Flavor flavor, PreparedData data, Task task)
      : flavor_(flavor), data_(std::move(data)), task_(task), params_(data_.params) {}
  Flavor flavor() const override { return flavor_; }
  const std::vector<std::pair<std::string, std::string>>& params() const override {
    return params_;
  }
  const Split& split() const override { return data_.split; }
  const std::vector<std::string>& features() const override { return data_.features; }
  Task task() const override { return task_; }

 protected:
  // Copies what every trained model says about its training into `model`.
  void Describe(TrainedModelBase& model) const {
    model.flavor_ = flavor_;
    model.task_ = task_;
    model.features_ = data_.features;
  }

  const Flavor flavor_;
  const PreparedData data_;
  const Task task_;
  std::vector<std::pair<std::string, std::string>> params_;
};

Result<std::unique_ptr<Trainer>> PrepareXgboost(PreparedData data, const TrainOptions& options);
Result<std::unique_ptr<Trainer>> PrepareLinear(PreparedData data, const TrainOptions& options);

// Strict numbers for --param values; errors name the parameter.
Result<int64_t> ParseIntParam(std::string_view key, std::string_view value);
Result<double> ParseDoubleParam(std::string_view key, std::string_view value);

// Shortest round-trip text of a number, for parameter values.
std::string NumberText(double v);

// A YAML scalar as PyYAML's safe_dump would accept it back: plain when that
// cannot be misread, else single-quoted.
std::string YamlScalar(std::string_view s);

}  // namespace mlforge::training::internal

#include "serving/linear_runtime.h"

#include <fmt/core.h>

#include <cmath>
#include <unordered_map>

#include "base/json.h"

namespace mlforge::serving {
namespace {

constexpr size_t kMaxLinearModelBytes = 64 << 20;

enum class LinearTask { kRegression, kBinaryLogistic };

Status Invalid(std::string_view what) {
  return InvalidArgument(fmt::format("Invalid mlforge.linear model: {}", what));
}

// Immutable after construction; Predict is thread-safe.
class LinearRuntime final : public ModelRuntime {
 public:
  LinearRuntime(ModelSignature signature, LinearTask task, std::vector<double> coef,
                double intercept)
      : signature_(std::move(signature)), task_(task), coef_(std::move(coef)), intercept_(intercept) {}

  std::string_view flavor() const override { return kLinearFlavor; }
  const ModelSignature& signature() const override { return signature_; }

  Result<PredictionBatch> Predict(const FeatureBatch& in) const override {
    if (in.cols != static_cast<int64_t>(coef_.size()) ||
        in.values.size() != static_cast<size_t>(in.rows * in.cols)) {
      return Err(InvalidArgument(fmt::format("The model takes {} features per row; got {}",
                                             coef_.size(), in.cols)));
    }
    PredictionBatch out{.rows = in.rows, .cols = 1, .output_names = {"prediction"}};
    out.values.resize(static_cast<size_t>(in.rows));
    const float* row = in.values.data();
    for (int64_t r = 0; r < in.rows; ++r, row += in.cols) {
      // The documented arithmetic (docs/serving.md): double, signature order.
      double z = intercept_;
      for (size_t c = 0; c < coef_.size(); ++c) {
        if (std::isnan(row[c])) {
          return Err(InvalidArgument(fmt::format(
              "Row {}: column '{}' is missing; a linear model needs every feature", r,
              signature_.inputs[c].name)));
        }
        z += coef_[c] * static_cast<double>(row[c]);
      }
      out.values[static_cast<size_t>(r)] =
          task_ == LinearTask::kBinaryLogistic ? 1.0 / (1.0 + std::exp(-z)) : z;
    }
    return out;
  }

 private:
  const ModelSignature signature_;
  const LinearTask task_;
  const std::vector<double> coef_;  // in signature input order
  const double intercept_;
};

}  // namespace

Result<std::unique_ptr<ModelRuntime>> LinearRuntimeFromJson(
    std::string_view text, const std::optional<ModelSignature>& signature) {
  auto parsed = json::Parse(text);
  if (!parsed) return Err(Invalid("not valid JSON: " + parsed.error().message()));
  const json::Value& root = *parsed;
  if (!root.is_object()) return Err(Invalid("not a JSON object"));
  const json::Value* format = root.Find("format");
  if (format == nullptr || !format->is_string() || format->as_string() != kLinearFormat) {
    return Err(Invalid(fmt::format("'format' must be \"{}\"", kLinearFormat)));
  }
  const json::Value* task_value = root.Find("task");
  LinearTask task;
  if (task_value != nullptr && task_value->is_string() && task_value->as_string() == "regression") {
    task = LinearTask::kRegression;
  } else if (task_value != nullptr && task_value->is_string() &&
             task_value->as_string() == "binary_logistic") {
    task = LinearTask::kBinaryLogistic;
  } else {
    return Err(Invalid("'task' must be \"regression\" or \"binary_logistic\""));
  }
  const json::Value* features = root.Find("features");
  const json::Value* coef = root.Find("coef");
  const json::Value* intercept = root.Find("intercept");
  if (features == nullptr || !features->is_array() || features->items().empty()) {
    return Err(Invalid("'features' must be a non-empty list of names"));
  }
  if (coef == nullptr || !coef->is_array() || coef->items().size() != features->items().size()) {
    return Err(Invalid("'coef' must be a list of numbers, one per feature"));
  }
  if (intercept == nullptr || !intercept->is_number()) {
    return Err(Invalid("'intercept' must be a number"));
  }
  std::unordered_map<std::string, size_t> position;
  std::vector<std::string> names;
  std::vector<double> weights;
  for (size_t i = 0; i < features->items().size(); ++i) {
    const json::Value& name = features->items()[i];
    const json::Value& w = coef->items()[i];
    if (!name.is_string() || name.as_string().empty()) {
      return Err(Invalid(fmt::format("features[{}] is not a non-empty string", i)));
    }
    if (!w.is_number() || !std::isfinite(w.as_double())) {
      return Err(Invalid(fmt::format("coef[{}] is not a finite number", i)));
    }
    if (!position.emplace(name.as_string(), i).second) {
      return Err(Invalid(fmt::format("feature '{}' appears twice", name.as_string())));
    }
    names.push_back(name.as_string());
    weights.push_back(w.as_double());
  }
  ModelSignature sig;
  std::vector<double> ordered;
  if (signature) {
    sig = *signature;
    if (sig.inputs.size() != names.size()) {
      return Err(Invalid(fmt::format("the signature has {} inputs but the model {} features",
                                     sig.inputs.size(), names.size())));
    }
    for (const ColumnSpec& column : sig.inputs) {
      auto it = position.find(column.name);
      if (it == position.end()) {
        return Err(Invalid(fmt::format("signature input '{}' is not a model feature", column.name)));
      }
      ordered.push_back(weights[it->second]);
    }
  } else {
    for (const std::string& name : names) sig.inputs.push_back(ColumnSpec{.name = name});
    ordered = std::move(weights);
  }
  // The runtime names its one output (an MLmodel's output spec only describes it).
  sig.outputs = {ColumnSpec{.name = "prediction"}};
  return std::make_unique<LinearRuntime>(std::move(sig), task, std::move(ordered),
                                         intercept->as_double());
}

Result<std::unique_ptr<ModelRuntime>> LoadLinearRuntime(const std::filesystem::path& package_dir,
                                                        const Flavor& flavor,
                                                        const std::optional<ModelSignature>& signature) {
  const std::string* data = flavor.Find("data");
  ASSIGN_OR_RETURN(std::filesystem::path file,
                   ResolvePackageFile(package_dir, data ? *data : std::string("model.json")));
  ASSIGN_OR_RETURN(std::string text, ReadFileLimited(file, kMaxLinearModelBytes));
  return LinearRuntimeFromJson(text, signature);
}

}  // namespace mlforge::serving

// The model runtime contract of the serving subsystem (docs/serving.md).
//
// A runtime is a loaded model: it declares its input/output schema and
// predicts a batch of rows. Real-time serving, batch prediction (`mlforge
// predict`) and later monitoring all go through this one interface, so a
// model answers the same everywhere. Flavors implemented: `xgboost`
// (MLflow's xgboost flavor layout) and `mlforge.linear`; ONNX/TorchScript
// would be further ModelRuntime implementations picked by LoadModelPackage.
//
// Thread safety: a loaded ModelRuntime is immutable; Predict is called
// concurrently from many threads without external locking.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mlforge::serving {

// MLflow column-based signature types (mlflow.types.DataType).
enum class ColumnType { kDouble, kFloat, kLong, kInteger, kBoolean, kString, kBinary, kDatetime };
std::string_view ColumnTypeName(ColumnType t);  // "double", "float", "long", ...

struct ColumnSpec {
  std::string name;  // empty for an unnamed output
  ColumnType type = ColumnType::kDouble;
  bool required = true;
};

// The model's signature: ordered input columns (the feature order the model
// was trained with) and output columns.
struct ModelSignature {
  std::vector<ColumnSpec> inputs;
  std::vector<ColumnSpec> outputs;
};

// A dense row-major batch of numeric features in signature input order.
// Missing values are NaN. Booleans are 0/1.
struct FeatureBatch {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> values;  // rows * cols
  float at(int64_t r, int64_t c) const { return values[static_cast<size_t>(r * cols + c)]; }
};

// Row-major predictions: `cols` values per row, named by output_names
// (e.g. {"prediction"} for regression and binary probability, one name per
// class for multiclass probabilities).
struct PredictionBatch {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<double> values;  // rows * cols
  std::vector<std::string> output_names;
};

class ModelRuntime {
 public:
  virtual ~ModelRuntime() = default;
  virtual std::string_view flavor() const = 0;  // "xgboost", "mlforge.linear"
  virtual const ModelSignature& signature() const = 0;
  // Predicts every row of `in` (in.cols == signature().inputs.size()).
  // Thread-safe. Errors: kInvalidParameterValue for a shape mismatch.
  virtual Result<PredictionBatch> Predict(const FeatureBatch& in) const = 0;
};

// Loads a model package (MLflow's MLmodel layout: a directory holding the
// YAML file `MLmodel` and the files its flavors name), picking the first
// natively served flavor. Never reads outside `package_dir`.
// Errors: kInvalidParameterValue (bad MLmodel, no supported flavor, corrupt
// model file), kResourceDoesNotExist (no MLmodel).
Result<std::unique_ptr<ModelRuntime>> LoadModelPackage(const std::filesystem::path& package_dir);

}  // namespace mlforge::serving

// The `xgboost` flavor (MLflow's layout): libxgboost loads the model (JSON,
// UBJSON or the legacy binary format); prediction runs on TreeEnsemble, our
// native evaluator, unless the model needs something it does not do
// (gblinear, dart, categorical splits, other objectives), in which case
// libxgboost predicts. Private to src/serving.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>

#include "base/status.h"
#include "serving/model_package.h"
#include "serving/runtime.h"

namespace mlforge::serving {

inline constexpr std::string_view kXgboostFlavor = "xgboost";

struct XgboostOptions {
  // false: always predict with libxgboost (benchmarks, diagnosis).
  bool native = true;
};

// Loads the flavor's `data` file. Without a signature the inputs are the
// booster's feature names (typed double); a booster without names is
// refused. With one, its width must be the booster's feature count.
Result<std::unique_ptr<ModelRuntime>> LoadXgboostRuntime(const std::filesystem::path& package_dir,
                                                         const Flavor& flavor,
                                                         const std::optional<ModelSignature>& signature,
                                                         const XgboostOptions& options = {});

// The same from the model file's bytes (any of the three formats).
Result<std::unique_ptr<ModelRuntime>> XgboostRuntimeFromBytes(
    std::string_view bytes, std::string_view model_class, const std::optional<ModelSignature>& signature,
    const XgboostOptions& options = {});

// "native" or "libxgboost" for an xgboost runtime (why: the native one is
// what makes single-row serving fast; tests and logs check which is used).
std::string_view XgboostPredictor(const ModelRuntime& runtime);

}  // namespace mlforge::serving

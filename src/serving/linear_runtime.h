// The `mlforge.linear` flavor: linear regression and binary logistic
// regression from a small JSON file (format in docs/serving.md). Private to
// src/serving.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>

#include "base/status.h"
#include "serving/model_package.h"
#include "serving/runtime.h"

namespace mlforge::serving {

inline constexpr std::string_view kLinearFlavor = "mlforge.linear";
inline constexpr std::string_view kLinearFormat = "mlforge.linear/1";

// Loads the flavor's `data` file (default model.json) from the package.
Result<std::unique_ptr<ModelRuntime>> LoadLinearRuntime(const std::filesystem::path& package_dir,
                                                        const Flavor& flavor,
                                                        const std::optional<ModelSignature>& signature);

// The same from the model file's text. With a signature, its inputs must be
// the model's features (any order); without one, the inputs are the
// features, typed double.
Result<std::unique_ptr<ModelRuntime>> LinearRuntimeFromJson(
    std::string_view text, const std::optional<ModelSignature>& signature);

}  // namespace mlforge::serving

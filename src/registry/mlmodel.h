// Checks of an MLflow MLmodel file, the descriptor of a model package
// (https://mlflow.org/docs/latest/models.html#storage-format). Private to the
// registry. Pure functions; thread-safe.
#pragma once

#include <string_view>

#include "base/status.h"

namespace mlforge::registry {

// Largest MLmodel file the registry reads; real ones are a few KiB.
inline constexpr size_t kMaxMLmodelBytes = 1 << 20;

// A YAML mapping whose `flavors` is a mapping; `signature`, when present, a
// mapping whose `inputs` / `outputs` (when present and not null) are JSON
// column or tensor specs as MLflow writes them. Errors are
// kInvalidParameterValue saying what is wrong.
Status ValidateMLmodel(std::string_view text);

// One signature side: a JSON array of column specs ({"type": ..., "name": ...})
// or tensor specs ({"type": "tensor", "tensor-spec": {"dtype": ..., "shape": [...]}}).
Status ValidateSignatureSpec(std::string_view field, std::string_view json);

}  // namespace mlforge::registry

// Input checks with MLflow's rules and messages (mlflow/utils/validation.py,
// model_version_stages.py). Private to the registry. Pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/status.h"
#include "registry/registry.h"

namespace mlforge::registry {

// Non-empty, at most kMaxModelNameLength characters. MLflow allows any
// characters; so do we ('/' included: names travel in JSON and query strings).
Status ValidateModelName(std::string_view name);
// A version number as MLflow sends it: decimal text of an integer.
Result<int64_t> ParseVersion(std::string_view version);
// Letters, digits, '_' and '-'; not "latest" (any case), not v<digits>.
Status ValidateAlias(std::string_view alias);
// Tag keys follow MLflow's tag-name rule; lengths as the registry's columns.
// `entity` is "Registered model" or "Model version" (as MLflow's messages).
Status ValidateTag(std::string_view entity, const Tag& tag);
Status ValidateTagKey(std::string_view key);
Status ValidateDescription(std::string_view description);

// Length in Unicode code points (MLflow counts characters).
size_t CodePoints(std::string_view utf8);

}  // namespace mlforge::registry

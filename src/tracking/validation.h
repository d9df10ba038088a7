// Input validation with MLflow's rules and limits (mlflow/utils/validation.py).
// Private to the tracking subsystem. Pure functions; thread-safe.
#pragma once

#include <span>
#include <string_view>

#include "base/status.h"
#include "tracking/tracking.h"

namespace mlforge::tracking {

// kind: "metric", "parameter", "tag" (as in MLflow's messages).
Status ValidateEntityKey(std::string_view kind, std::string_view key);
// Param and run tag values longer than MLflow's limits are truncated (at a
// UTF-8 boundary), as MLflow's server does by default; keys are never.
Status ValidateParam(Param& param);
Status ValidateTag(Tag& tag);
// Experiment tags: over-long values are an error, as in MLflow.
Status ValidateExperimentTag(const Tag& tag);
Status ValidateMetric(const Metric& metric);
Status ValidateRunId(std::string_view run_id);
Status ValidateExperimentName(std::string_view name);
Status ValidateBatchLimits(std::span<const Metric> metrics, std::span<const Param> params,
                           std::span<const Tag> tags);
Status ValidateMaxResults(int max_results, int limit);
// Parses a decimal experiment id; kResourceDoesNotExist otherwise (no such id).
Result<int64_t> ParseExperimentId(std::string_view experiment_id);

// Length in Unicode code points (MLflow's limits count characters).
size_t CodePoints(std::string_view utf8);
// Truncates user text for error messages.
std::string Clip(std::string_view text, size_t max = 200);

}  // namespace mlforge::tracking

// Encoding of MLflow REST responses (private to src/api).
//
// Shapes follow MLflow 2.12's message_to_json(): snake_case proto field
// names; proto2 optional fields only when set (MLflow's to_proto() leaves
// end_time, creation_time, last_update_time, file_size, dataset schema and
// profile unset when falsy); empty repeated fields omitted; int64 as JSON
// numbers; doubles NaN/±inf as "NaN"/"Infinity"/"-Infinity"; enums by name.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/json.h"
#include "base/status.h"
#include "tracking/tracking.h"

namespace mlforge::http {
struct Response;
}

namespace mlforge::api {

void WriteExperiment(json::Writer& w, const tracking::Experiment& e);
void WriteRunInfo(json::Writer& w, const tracking::RunInfo& info);
void WriteRun(json::Writer& w, const tracking::Run& run);
void WriteMetric(json::Writer& w, const tracking::Metric& m);
void WriteMetricWithRunId(json::Writer& w, const tracking::MetricWithRunId& m);
void WriteDatasetInput(json::Writer& w, const tracking::DatasetInput& input);
// FileInfo{path, is_dir, file_size (omitted when 0 or a directory)}.
void WriteFileInfo(json::Writer& w, std::string_view path, bool is_dir, int64_t size);

// The JSON of an empty response message.
inline constexpr std::string_view kEmptyResponse = "{}";

// MLflow's error shape {"error_code": ..., "message": ...} with the code's
// HTTP status (status.h). REQUIRES: !status.ok().
void SetStatusError(http::Response& response, const Status& status);

}  // namespace mlforge::api

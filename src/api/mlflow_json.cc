#include "api/mlflow_json.h"

#include "http/http.h"

namespace mlforge::api {
namespace {

template <typename TagList>
void WriteKeyValues(json::Writer& w, std::string_view field, const TagList& tags) {
  if (tags.empty()) return;
  w.Key(field).StartArray();
  for (const auto& t : tags)
    w.StartObject().Field("key", t.key).Field("value", t.value).EndObject();
  w.EndArray();
}

void WriteMetricFields(json::Writer& w, const tracking::Metric& m) {
  w.Field("key", m.key);
  w.Key("value").Double(m.value);
  w.Field("timestamp", m.timestamp);
  w.Field("step", m.step);
}

}  // namespace

void WriteExperiment(json::Writer& w, const tracking::Experiment& e) {
  w.StartObject();
  w.Field("experiment_id", e.experiment_id);
  w.Field("name", e.name);
  w.Field("artifact_location", e.artifact_location);
  w.Field("lifecycle_stage", e.lifecycle_stage);
  if (e.last_update_time) w.Field("last_update_time", e.last_update_time);
  if (e.creation_time) w.Field("creation_time", e.creation_time);
  WriteKeyValues(w, "tags", e.tags);
  w.EndObject();
}

void WriteRunInfo(json::Writer& w, const tracking::RunInfo& info) {
  // Proto field-number order, as MLflow prints it.
  w.StartObject();
  w.Field("run_uuid", info.run_id);
  w.Field("experiment_id", info.experiment_id);
  w.Field("run_name", info.run_name);
  w.Field("user_id", info.user_id);
  w.Field("status", info.status);
  w.Field("start_time", info.start_time);
  if (info.end_time && *info.end_time) w.Field("end_time", *info.end_time);
  if (!info.artifact_uri.empty()) w.Field("artifact_uri", info.artifact_uri);
  w.Field("lifecycle_stage", info.lifecycle_stage);
  w.Field("run_id", info.run_id);
  w.EndObject();
}

void WriteMetric(json::Writer& w, const tracking::Metric& m) {
  w.StartObject();
  WriteMetricFields(w, m);
  w.EndObject();
}

void WriteMetricWithRunId(json::Writer& w, const tracking::MetricWithRunId& m) {
  w.StartObject();
  WriteMetricFields(w, m.metric);
  w.Field("run_id", m.run_id);
  w.EndObject();
}

void WriteDatasetInput(json::Writer& w, const tracking::DatasetInput& input) {
  w.StartObject();
  WriteKeyValues(w, "tags", input.tags);
  const tracking::Dataset& d = input.dataset;
  w.Key("dataset").StartObject();
  w.Field("name", d.name);
  w.Field("digest", d.digest);
  w.Field("source_type", d.source_type);
  w.Field("source", d.source);
  if (!d.schema.empty()) w.Field("schema", d.schema);
  if (!d.profile.empty()) w.Field("profile", d.profile);
  w.EndObject();
  w.EndObject();
}

void WriteRun(json::Writer& w, const tracking::Run& run) {
  w.StartObject();
  w.Key("info");
  WriteRunInfo(w, run.info);
  // MLflow always merges data and inputs into the Run proto, so both appear
  // even when empty ("inputs": {}).
  w.Key("data").StartObject();
  if (!run.metrics.empty()) {
    w.Key("metrics").StartArray();
    for (const tracking::Metric& m : run.metrics) WriteMetric(w, m);
    w.EndArray();
  }
  WriteKeyValues(w, "params", run.params);
  WriteKeyValues(w, "tags", run.tags);
  w.EndObject();
  w.Key("inputs").StartObject();
  if (!run.inputs.empty()) {
    w.Key("dataset_inputs").StartArray();
    for (const tracking::DatasetInput& in : run.inputs) WriteDatasetInput(w, in);
    w.EndArray();
  }
  w.EndObject();
  w.EndObject();
}

void WriteFileInfo(json::Writer& w, std::string_view path, bool is_dir, int64_t size) {
  w.StartObject();
  w.Field("path", path);
  w.Field("is_dir", is_dir);
  if (!is_dir && size) w.Field("file_size", size);
  w.EndObject();
}

void SetStatusError(http::Response& response, const Status& status) {
  response.SetError(ErrorCodeHttpStatus(status.code()), ErrorCodeName(status.code()),
                    status.message());
}

}  // namespace mlforge::api

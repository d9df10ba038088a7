// MLflow tracking REST handlers: decode (mlflow_request.h), call the
// TrackingService, encode (mlflow_json.h). Validation order and messages
// follow MLflow 2.12's server/handlers.py schemas; everything else about a
// call's meaning is the TrackingService's.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/handlers.h"
#include "api/log_batch_fast_path.h"
#include "api/mlflow_json.h"
#include "api/mlflow_request.h"
#include "blob/blob.h"
#include "http/http.h"
#include "tracking/tracking.h"

namespace mlforge::api {
namespace {

using tracking::TrackingService;

// A tracking handler: the decoded request in, the response JSON out.
using JsonHandler = Result<std::string> (*)(const MlflowContext&, const RequestMessage&);

constexpr int kMaxResultsDefault = 1000;
constexpr int64_t kSearchMaxResultsThreshold = 50'000;
constexpr int kBulkIntervalMaxRuns = 100;
constexpr int kBulkIntervalMaxResultsPerRun = 2500;
constexpr std::string_view kLoggedModelsTag = "mlflow.log-model.history";

const std::initializer_list<std::string_view> kViewTypes = {"ACTIVE_ONLY", "DELETED_ONLY", "ALL"};
const std::initializer_list<std::string_view> kRunStatuses = {"RUNNING", "SCHEDULED", "FINISHED",
                                                              "FAILED", "KILLED"};

tracking::ViewType ToViewType(const std::optional<std::string>& name) {
  if (!name || *name == "ACTIVE_ONLY") return tracking::ViewType::kActiveOnly;
  return *name == "DELETED_ONLY" ? tracking::ViewType::kDeletedOnly : tracking::ViewType::kAll;
}

// Repeated {key, value} messages (ExperimentTag, RunTag, Param, InputTag).
Result<std::vector<tracking::Tag>> DecodeKeyValues(const std::vector<const json::Value*>& items,
                                                   std::string_view field) {
  std::vector<tracking::Tag> out;
  out.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    NestedMessage m(*items[i], std::string(field) + "[" + std::to_string(i) + "].");
    tracking::Tag t;
    ASSIGN_OR_RETURN(t.key, m.StringOr("key"));
    ASSIGN_OR_RETURN(t.value, m.StringOr("value"));
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::vector<tracking::Tag>> DecodeTagList(const RequestMessage& m, std::string_view field) {
  ASSIGN_OR_RETURN(std::vector<const json::Value*> items, m.ObjectList(field));
  return DecodeKeyValues(items, field);
}

std::string Empty() { return std::string(kEmptyResponse); }

// MLflow's create-experiment checks of a client artifact_location
// (urllib.parse.urlparse: no fragment, no ";params", no ".." in the query).
Status CheckArtifactLocationUrl(std::string_view location) {
  if (location.empty()) return Status::Ok();
  std::string_view rest = location;
  std::string scheme;
  if (size_t colon = rest.find(':'); colon != std::string_view::npos && colon > 0) {
    std::string_view candidate = rest.substr(0, colon);
    bool valid = std::isalpha(static_cast<unsigned char>(candidate.front()));
    for (char c : candidate) {
      valid = valid &&
              (std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.');
    }
    if (valid) {
      for (char c : candidate)
        scheme.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      rest.remove_prefix(colon + 1);
    }
  }
  std::string_view fragment;
  if (size_t hash = rest.find('#'); hash != std::string_view::npos) {
    fragment = rest.substr(hash + 1);
    rest = rest.substr(0, hash);
  }
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  static const std::set<std::string, std::less<>> kUsesParams = {
      "",     "ftp",   "hdl", "prospero", "http", "imap", "https", "shttp",
      "rtsp", "rtspu", "sip", "sips",     "mms",  "sftp", "tel"};
  bool has_params = false;
  if (kUsesParams.count(scheme)) {
    size_t last_slash = rest.rfind('/');
    std::string_view last = last_slash == std::string_view::npos ? rest : rest.substr(last_slash);
    size_t semi = last.find(';');
    has_params = semi != std::string_view::npos && semi + 1 < last.size();
  }
  if (!fragment.empty() || has_params) {
    return InvalidArgument("'artifact_location' URL can't include fragments or params.");
  }
  // validate_query_string: decode repeatedly, then refuse any "..".
  std::string decoded(query);
  for (int i = 0; i < 10; ++i) {
    auto next = http::PercentDecode(decoded, /*plus_as_space=*/true);
    if (!next || *next == decoded) break;
    decoded = std::move(*next);
  }
  if (decoded.find("..") != std::string::npos) return InvalidArgument("Invalid query string");
  return Status::Ok();
}

// ----------------------------------------------------------------- experiments

Result<std::string> CreateExperiment(const MlflowContext& ctx, const RequestMessage& m) {
  tracking::CreateExperimentRequest req;
  ASSIGN_OR_RETURN(req.name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(req.artifact_location, m.StringOr("artifact_location"));
  ASSIGN_OR_RETURN(req.tags, DecodeTagList(m, "tags"));
  RETURN_IF_ERROR(CheckArtifactLocationUrl(req.artifact_location));
  ASSIGN_OR_RETURN(std::string id, ctx.tracking->CreateExperiment(req));
  json::Writer w;
  w.StartObject().Field("experiment_id", id).EndObject();
  return w.Take();
}

Result<std::string> GetExperiment(const MlflowContext& ctx, const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::string id, m.RequiredExperimentId("experiment_id"));
  ASSIGN_OR_RETURN(tracking::Experiment e, ctx.tracking->GetExperiment(id));
  json::Writer w;
  w.StartObject().Key("experiment");
  WriteExperiment(w, e);
  w.EndObject();
  return w.Take();
}

Result<std::string> GetExperimentByName(const MlflowContext& ctx, const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::string name, m.RequiredString("experiment_name"));
  ASSIGN_OR_RETURN(tracking::Experiment e, ctx.tracking->GetExperimentByName(name));
  json::Writer w;
  w.StartObject().Key("experiment");
  WriteExperiment(w, e);
  w.EndObject();
  return w.Take();
}

Result<std::string> SearchExperiments(const MlflowContext& ctx, const RequestMessage& m) {
  tracking::SearchExperimentsRequest req;
  ASSIGN_OR_RETURN(std::optional<std::string> view, m.OptionalEnum("view_type", kViewTypes));
  ASSIGN_OR_RETURN(std::optional<int64_t> max_results, m.OptionalInt64("max_results"));
  ASSIGN_OR_RETURN(req.order_by, m.StringList("order_by"));
  ASSIGN_OR_RETURN(req.filter, m.StringOr("filter"));
  ASSIGN_OR_RETURN(req.page_token, m.StringOr("page_token"));
  // MLflow requires max_results (its Python client always sends it); we
  // default it. The messages are its store's (sqlalchemy_store.py).
  int64_t n = max_results.value_or(kMaxResultsDefault);
  if (n < 1) {
    return Err(
        InvalidArgument("Invalid value for max_results. It must be a positive integer, but got " +
                        std::to_string(n)));
  }
  if (n > kSearchMaxResultsThreshold) {
    return Err(InvalidArgument("Invalid value for max_results. It must be at most " +
                               std::to_string(kSearchMaxResultsThreshold) + ", but got " +
                               std::to_string(n)));
  }
  req.max_results = static_cast<int>(n);
  req.view_type = ToViewType(view);
  ASSIGN_OR_RETURN(tracking::ExperimentPage page, ctx.tracking->SearchExperiments(req));
  json::Writer w;
  w.StartObject();
  if (!page.experiments.empty()) {
    w.Key("experiments").StartArray();
    for (const tracking::Experiment& e : page.experiments) WriteExperiment(w, e);
    w.EndArray();
  }
  if (!page.next_page_token.empty()) w.Field("next_page_token", page.next_page_token);
  w.EndObject();
  return w.Take();
}

Result<std::string> DeleteExperiment(const MlflowContext& ctx, const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::string id, m.RequiredExperimentId("experiment_id"));
  RETURN_IF_ERROR(ctx.tracking->DeleteExperiment(id));
  return Empty();
}

Result<std::string> RestoreExperiment(const MlflowContext& ctx, const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::string id, m.RequiredExperimentId("experiment_id"));
  RETURN_IF_ERROR(ctx.tracking->RestoreExperiment(id));
  return Empty();
}

Result<std::string> UpdateExperiment(const MlflowContext& ctx, const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::string id, m.RequiredExperimentId("experiment_id"));
  ASSIGN_OR_RETURN(std::string new_name, m.RequiredString("new_name"));
  RETURN_IF_ERROR(ctx.tracking->RenameExperiment(id, new_name));
  return Empty();
}

Result<std::string> SetExperimentTag(const MlflowContext& ctx, const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::string id, m.RequiredExperimentId("experiment_id"));
  tracking::Tag tag;
  ASSIGN_OR_RETURN(tag.key, m.RequiredString("key"));
  ASSIGN_OR_RETURN(tag.value, m.StringOr("value"));  // "" allowed, as MLflow's handler
  RETURN_IF_ERROR(ctx.tracking->SetExperimentTag(id, tag));
  return Empty();
}

Result<std::string> DeleteExperimentTag(const MlflowContext& ctx, const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::string id, m.RequiredExperimentId("experiment_id"));
  ASSIGN_OR_RETURN(std::string key, m.RequiredString("key"));
  RETURN_IF_ERROR(ctx.tracking->DeleteExperimentTag(id, key));
  return Empty();
}

// ------------------------------------------------------------------------ runs

Result<std::string> CreateRun(const MlflowContext& ctx, const RequestMessage& m) {
  tracking::CreateRunRequest req;
  ASSIGN_OR_RETURN(std::optional<std::string> experiment_id,
                   m.OptionalExperimentId("experiment_id"));
  ASSIGN_OR_RETURN(req.start_time, m.OptionalInt64("start_time"));
  ASSIGN_OR_RETURN(req.run_name, m.StringOr("run_name"));
  ASSIGN_OR_RETURN(req.user_id, m.StringOr("user_id"));
  ASSIGN_OR_RETURN(req.tags, DecodeTagList(m, "tags"));
  req.experiment_id = experiment_id.value_or("");
  ASSIGN_OR_RETURN(tracking::Run run, ctx.tracking->CreateRun(req));
  json::Writer w;
  w.StartObject().Key("run");
  WriteRun(w, run);
  w.EndObject();
  return w.Take();
}

Result<std::string> UpdateRun(const MlflowContext& ctx, const RequestMessage& m) {
  tracking::UpdateRunRequest req;
  ASSIGN_OR_RETURN(req.run_id, m.RequiredRunId());
  ASSIGN_OR_RETURN(req.end_time, m.OptionalInt64("end_time"));
  ASSIGN_OR_RETURN(req.status, m.OptionalEnum("status", kRunStatuses));
  ASSIGN_OR_RETURN(req.run_name, m.OptionalString("run_name"));
  ASSIGN_OR_RETURN(tracking::RunInfo info, ctx.tracking->UpdateRun(req));
  json::Writer w;
  w.StartObject().Key("run_info");
  WriteRunInfo(w, info);
  w.EndObject();
  return w.Take();
}

Result<std::string> DeleteRun(const MlflowContext& ctx, const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::string run_id, m.RequiredRunId());
  RETURN_IF_ERROR(ctx.tracking->DeleteRun(run_id));
  return Empty();
}

Result<std::string> RestoreRun(const MlflowContext& ctx, const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::string run_id, m.RequiredRunId());
  RETURN_IF_ERROR(ctx.tracking->RestoreRun(run_id));
  return Empty();
}

Result<std::string> GetRun(const MlflowContext& ctx, const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::string run_id, m.RequiredRunId());
  ASSIGN_OR_RETURN(tracking::Run run, ctx.tracking->GetRun(run_id));
  json::Writer w;
  w.StartObject().Key("run");
  WriteRun(w, run);
  w.EndObject();
  return w.Take();
}

Result<std::string> SearchRuns(const MlflowContext& ctx, const RequestMessage& m) {
  tracking::SearchRunsRequest req;
  ASSIGN_OR_RETURN(req.experiment_ids, m.StringList("experiment_ids", /*numbers_as_strings=*/true));
  ASSIGN_OR_RETURN(req.filter, m.StringOr("filter"));
  if (const json::Value* v = m.Find("max_results")) {
    // MLflow: intlike and int(x) <= 50000, reported as an invalid value.
    ASSIGN_OR_RETURN(int64_t n, ToInt64Field(*v, "max_results"));
    if (n > kSearchMaxResultsThreshold || n < std::numeric_limits<int32_t>::min()) {
      return Err(InvalidValue(*v, "max_results"));
    }
    req.max_results = static_cast<int>(n);
  } else {
    req.max_results = kMaxResultsDefault;
  }
  ASSIGN_OR_RETURN(req.order_by, m.StringList("order_by"));
  ASSIGN_OR_RETURN(std::optional<std::string> view, m.OptionalEnum("run_view_type", kViewTypes));
  ASSIGN_OR_RETURN(req.page_token, m.StringOr("page_token"));
  req.run_view_type = ToViewType(view);
  ASSIGN_OR_RETURN(tracking::RunPage page, ctx.tracking->SearchRuns(req));
  json::Writer w;
  w.StartObject();
  if (!page.runs.empty()) {
    w.Key("runs").StartArray();
    for (const tracking::Run& run : page.runs) WriteRun(w, run);
    w.EndArray();
  }
  if (!page.next_page_token.empty()) w.Field("next_page_token", page.next_page_token);
  w.EndObject();
  return w.Take();
}

// ------------------------------------------------------------------- run data

Result<std::string> LogMetric(const MlflowContext& ctx, const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::string run_id, m.RequiredRunId());
  tracking::Metric metric;
  ASSIGN_OR_RETURN(metric.key, m.RequiredString("key"));
  ASSIGN_OR_RETURN(metric.value, m.RequiredDouble("value"));
  ASSIGN_OR_RETURN(metric.timestamp, m.RequiredInt64("timestamp"));
  ASSIGN_OR_RETURN(std::optional<int64_t> step, m.OptionalInt64("step"));
  metric.step = step.value_or(0);
  RETURN_IF_ERROR(ctx.tracking->LogMetric(run_id, metric));
  return Empty();
}

Result<std::string> LogParam(const MlflowContext& ctx, const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::string run_id, m.RequiredRunId());
  tracking::Param param;
  ASSIGN_OR_RETURN(param.key, m.RequiredString("key"));
  ASSIGN_OR_RETURN(param.value, m.StringOr("value"));
  RETURN_IF_ERROR(ctx.tracking->LogParam(run_id, param));
  return Empty();
}

Result<std::string> SetTag(const MlflowContext& ctx, const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::string run_id, m.RequiredRunId());
  tracking::Tag tag;
  ASSIGN_OR_RETURN(tag.key, m.RequiredString("key"));
  ASSIGN_OR_RETURN(tag.value, m.StringOr("value"));
  RETURN_IF_ERROR(ctx.tracking->SetTag(run_id, tag));
  return Empty();
}

Result<std::string> DeleteTag(const MlflowContext& ctx, const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::string run_id, m.RequiredRunId());
  ASSIGN_OR_RETURN(std::string key, m.RequiredString("key"));
  RETURN_IF_ERROR(ctx.tracking->DeleteTag(run_id, key));
  return Empty();
}

bool IsMissing(const json::Value* v) {
  return !v || v->is_null() || (v->is_string() && v->as_string().empty());
}

Result<std::string> LogBatch(const MlflowContext& ctx, const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::string run_id, m.RequiredRunId());
  ASSIGN_OR_RETURN(std::vector<const json::Value*> metric_items, m.ObjectList("metrics"));
  // MLflow's _assert_metrics_fields_present: a metric without key, value or
  // timestamp fails the whole field.
  for (const json::Value* item : metric_items) {
    if (IsMissing(item->Find("key")) || IsMissing(item->Find("value")) ||
        IsMissing(item->Find("timestamp"))) {
      return Err(InvalidValue(*m.Find("metrics"), "metrics"));
    }
  }
  ASSIGN_OR_RETURN(std::vector<const json::Value*> param_items, m.ObjectList("params"));
  for (const json::Value* item : param_items) {
    if (IsMissing(item->Find("key"))) return Err(InvalidValue(*m.Find("params"), "params"));
  }
  ASSIGN_OR_RETURN(std::vector<const json::Value*> tag_items, m.ObjectList("tags"));
  for (const json::Value* item : tag_items) {
    if (IsMissing(item->Find("key"))) return Err(InvalidValue(*m.Find("tags"), "tags"));
  }
  std::vector<tracking::Metric> metrics;
  metrics.reserve(metric_items.size());
  for (size_t i = 0; i < metric_items.size(); ++i) {
    NestedMessage nm(*metric_items[i], "metrics[" + std::to_string(i) + "].");
    tracking::Metric metric;
    ASSIGN_OR_RETURN(metric.key, nm.StringOr("key"));
    ASSIGN_OR_RETURN(std::optional<double> value, nm.OptionalDouble("value"));
    ASSIGN_OR_RETURN(std::optional<int64_t> timestamp, nm.OptionalInt64("timestamp"));
    ASSIGN_OR_RETURN(std::optional<int64_t> step, nm.OptionalInt64("step"));
    metric.value = value.value_or(0);
    metric.timestamp = timestamp.value_or(0);
    metric.step = step.value_or(0);
    metrics.push_back(std::move(metric));
  }
  ASSIGN_OR_RETURN(std::vector<tracking::Param> params, DecodeKeyValues(param_items, "params"));
  ASSIGN_OR_RETURN(std::vector<tracking::Tag> tags, DecodeKeyValues(tag_items, "tags"));
  RETURN_IF_ERROR(ctx.tracking->LogBatch(run_id, metrics, params, tags));
  return Empty();
}

// Python's repr of a set of strings, sorted so the message is stable.
std::string PythonSetRepr(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += "'" + items[i] + "'";
  }
  return out + "}";
}

Result<std::string> LogModel(const MlflowContext& ctx, const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::string run_id, m.RequiredRunId());
  ASSIGN_OR_RETURN(std::string model_json, m.RequiredString("model_json"));
  json::ParseLimits limits;
  limits.max_depth = kMaxRequestJsonDepth;
  auto model = json::Parse(model_json, limits);
  if (!model || !model->is_object()) {
    return Err(
        InvalidArgument("Malformed model info. \n " + model_json + " \n is not a valid JSON."));
  }
  std::vector<std::string> missing;
  for (std::string_view field : {"artifact_path", "flavors", "run_id", "utc_time_created"}) {
    if (!model->Find(field)) missing.emplace_back(field);
  }
  if (!missing.empty()) {
    return Err(
        InvalidArgument("Model json is missing mandatory fields: " + PythonSetRepr(missing)));
  }
  // As MLflow's store: append the model to the run's JSON-list tag. Two
  // concurrent log-model calls on one run may lose one entry (read, then
  // write); the client logs models of a run one at a time.
  ASSIGN_OR_RETURN(tracking::Run run, ctx.tracking->GetRun(run_id));
  json::Writer w;
  w.StartArray();
  for (const tracking::Tag& t : run.tags) {
    if (t.key != kLoggedModelsTag) continue;
    auto previous = json::Parse(t.value, limits);
    if (previous && previous->is_array()) {
      for (const json::Value& item : previous->items()) w.Value(item);
    }
  }
  w.Value(*model);
  w.EndArray();
  RETURN_IF_ERROR(
      ctx.tracking->SetTag(run_id, tracking::Tag{std::string(kLoggedModelsTag), w.Take()}));
  return Empty();
}

Result<std::string> LogInputs(const MlflowContext& ctx, const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::string run_id, m.RequiredRunId());
  if (!m.Has("datasets")) return Err(MissingValue("datasets"));
  ASSIGN_OR_RETURN(std::vector<const json::Value*> items, m.ObjectList("datasets"));
  std::vector<tracking::DatasetInput> inputs;
  inputs.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    NestedMessage nm(*items[i], "datasets[" + std::to_string(i) + "].");
    tracking::DatasetInput input;
    ASSIGN_OR_RETURN(std::vector<const json::Value*> tag_items, nm.ObjectList("tags"));
    ASSIGN_OR_RETURN(input.tags, DecodeKeyValues(tag_items, nm.Name("tags")));
    ASSIGN_OR_RETURN(const json::Value* dataset, nm.OptionalObject("dataset"));
    if (dataset) {
      NestedMessage dm(*dataset, nm.Name("dataset."));
      tracking::Dataset& d = input.dataset;
      ASSIGN_OR_RETURN(d.name, dm.StringOr("name"));
      ASSIGN_OR_RETURN(d.digest, dm.StringOr("digest"));
      ASSIGN_OR_RETURN(d.source_type, dm.StringOr("source_type"));
      ASSIGN_OR_RETURN(d.source, dm.StringOr("source"));
      ASSIGN_OR_RETURN(d.schema, dm.StringOr("schema"));
      ASSIGN_OR_RETURN(d.profile, dm.StringOr("profile"));
    }
    inputs.push_back(std::move(input));
  }
  RETURN_IF_ERROR(ctx.tracking->LogInputs(run_id, inputs));
  return Empty();
}

// --------------------------------------------------------------------- metrics

Result<std::string> GetMetricHistory(const MlflowContext& ctx, const RequestMessage& m) {
  tracking::MetricHistoryRequest req;
  ASSIGN_OR_RETURN(req.run_id, m.RequiredRunId());
  ASSIGN_OR_RETURN(req.metric_key, m.RequiredString("metric_key"));
  // Our extension: MLflow ignores both and returns the whole history, which
  // is also what happens here when max_results is absent.
  ASSIGN_OR_RETURN(std::optional<int32_t> max_results, m.OptionalInt32("max_results"));
  ASSIGN_OR_RETURN(req.page_token, m.StringOr("page_token"));
  req.max_results = max_results.value_or(0);
  ASSIGN_OR_RETURN(tracking::MetricHistoryPage page, ctx.tracking->GetMetricHistory(req));
  json::Writer w;
  w.StartObject();
  if (!page.metrics.empty()) {
    w.Key("metrics").StartArray();
    for (const tracking::Metric& metric : page.metrics) WriteMetric(w, metric);
    w.EndArray();
  }
  if (!page.next_page_token.empty()) w.Field("next_page_token", page.next_page_token);
  w.EndObject();
  return w.Take();
}

Result<std::string> GetMetricHistoryBulkInterval(const MlflowContext& ctx,
                                                 const RequestMessage& m) {
  tracking::BulkIntervalRequest req;
  // Schema order and messages of handlers.py get_metric_history_bulk_interval_handler.
  if (!m.Has("run_ids")) return Err(MissingValue("run_ids"));
  ASSIGN_OR_RETURN(req.run_ids, m.StringList("run_ids"));
  if (req.run_ids.size() > static_cast<size_t>(kBulkIntervalMaxRuns)) {
    return Err(InvalidRequest("GetMetricHistoryBulkInterval request must specify at most " +
                              std::to_string(kBulkIntervalMaxRuns) + " run_ids. Received " +
                              std::to_string(req.run_ids.size()) + " run_ids."));
  }
  ASSIGN_OR_RETURN(req.metric_key, m.RequiredString("metric_key"));
  ASSIGN_OR_RETURN(req.start_step, m.OptionalInt64("start_step"));
  ASSIGN_OR_RETURN(req.end_step, m.OptionalInt64("end_step"));
  ASSIGN_OR_RETURN(std::optional<int64_t> max_results, m.OptionalInt64("max_results"));
  if (max_results && (*max_results < 1 || *max_results > kBulkIntervalMaxResultsPerRun)) {
    return Err(InvalidRequest("max_results must be between 1 and " +
                              std::to_string(kBulkIntervalMaxResultsPerRun) + "."));
  }
  req.max_results = static_cast<int>(max_results.value_or(kBulkIntervalMaxResultsPerRun));
  if (req.start_step.has_value() != req.end_step.has_value()) {
    return Err(
        InvalidArgument("If either start step or end step are specified, both must be specified."));
  }
  if (req.start_step && *req.start_step > *req.end_step) {
    return Err(InvalidArgument("end_step must be greater than start_step. Found start_step=" +
                               std::to_string(*req.start_step) +
                               " and end_step=" + std::to_string(*req.end_step) + "."));
  }
  ASSIGN_OR_RETURN(std::vector<tracking::MetricWithRunId> metrics,
                   ctx.tracking->GetMetricHistoryBulkInterval(req));
  json::Writer w;
  w.StartObject();
  if (!metrics.empty()) {
    w.Key("metrics").StartArray();
    for (const tracking::MetricWithRunId& metric : metrics) WriteMetricWithRunId(w, metric);
    w.EndArray();
  }
  w.EndObject();
  return w.Take();
}

// ------------------------------------------------------------------ artifacts

Result<std::string> ListArtifacts(const MlflowContext& ctx, const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::string run_id, m.RequiredRunId());
  ASSIGN_OR_RETURN(std::optional<std::string> raw_path, m.OptionalString("path"));
  // page_token is type-checked but ignored: MLflow does not paginate this.
  ASSIGN_OR_RETURN(std::string page_token, m.StringOr("page_token"));
  (void)page_token;
  std::string path;
  if (raw_path) {
    ASSIGN_OR_RETURN(path, blob::NormalizeRelativePath(*raw_path, /*allow_empty=*/true));
  }
  ASSIGN_OR_RETURN(tracking::Run run, ctx.tracking->GetRun(run_id));
  if (!ctx.artifacts) {
    return Err(Status(ErrorCode::kNotImplemented,
                      "Listing run artifacts needs the artifact store: the server runs with "
                      "--no-serve-artifacts."));
  }
  ASSIGN_OR_RETURN(std::string root, RunArtifactRoot(run.info.artifact_uri));
  ASSIGN_OR_RETURN(std::vector<blob::FileInfo> files,
                   ctx.artifacts->List(JoinArtifactPath(root, path)));
  json::Writer w;
  w.StartObject();
  w.Field("root_uri", run.info.artifact_uri);
  if (!files.empty()) {
    w.Key("files").StartArray();
    for (const blob::FileInfo& f : files) {
      // Run-relative paths, as MLflow's _list_artifacts_for_proxied_run_artifact_root.
      std::string_view name = f.path;
      if (size_t slash = name.rfind('/'); slash != std::string_view::npos) {
        name = name.substr(slash + 1);
      }
      WriteFileInfo(w, JoinArtifactPath(path, name), f.is_dir, f.size);
    }
    w.EndArray();
  }
  w.EndObject();
  return w.Take();
}

// The common log-batch body, decoded without the generic JSON tree (see
// log_batch_fast_path.h). False: not handled, take the generic path.
bool LogBatchFast(const MlflowContext& ctx, const http::Request& request,
                  http::Response& response) {
  std::optional<LogBatchBody> body = DecodeLogBatchFast(request);
  if (!body) return false;
  Status s = ctx.tracking->LogBatch(body->run_id, body->metrics, body->params, body->tags);
  if (!s.ok()) {
    SetStatusError(response, s);
  } else {
    response.SetJson(Empty());
  }
  return true;
}

// ---------------------------------------------------------------- registration

using FastHandler = bool (*)(const MlflowContext&, const http::Request&, http::Response&);

struct Route {
  http::Method method;
  std::string_view path;  // after /mlflow/
  JsonHandler handler;
  std::vector<std::string> repeated;  // repeated fields (lists in a query string)
  FastHandler fast = nullptr;         // tried first when set
};

std::vector<Route> TrackingRoutes() {
  using http::Method;
  return {
      {Method::kPost, "experiments/create", CreateExperiment, {"tags"}},
      {Method::kPost, "experiments/search", SearchExperiments, {"order_by"}},
      {Method::kGet, "experiments/search", SearchExperiments, {"order_by"}},
      {Method::kGet, "experiments/get", GetExperiment, {}},
      {Method::kGet, "experiments/get-by-name", GetExperimentByName, {}},
      {Method::kPost, "experiments/delete", DeleteExperiment, {}},
      {Method::kPost, "experiments/restore", RestoreExperiment, {}},
      {Method::kPost, "experiments/update", UpdateExperiment, {}},
      {Method::kPost, "experiments/set-experiment-tag", SetExperimentTag, {}},
      // Not in MLflow 2.12 (later versions add it).
      {Method::kPost, "experiments/delete-experiment-tag", DeleteExperimentTag, {}},
      {Method::kPost, "runs/create", CreateRun, {"tags"}},
      {Method::kPost, "runs/update", UpdateRun, {}},
      {Method::kPost, "runs/delete", DeleteRun, {}},
      {Method::kPost, "runs/restore", RestoreRun, {}},
      {Method::kPost, "runs/log-metric", LogMetric, {}},
      {Method::kPost, "runs/log-parameter", LogParam, {}},
      {Method::kPost, "runs/set-tag", SetTag, {}},
      {Method::kPost, "runs/delete-tag", DeleteTag, {}},
      {Method::kPost, "runs/log-batch", LogBatch, {"metrics", "params", "tags"}, LogBatchFast},
      {Method::kPost, "runs/log-model", LogModel, {}},
      {Method::kPost, "runs/log-inputs", LogInputs, {"datasets"}},
      {Method::kGet, "runs/get", GetRun, {}},
      {Method::kPost, "runs/search", SearchRuns, {"experiment_ids", "order_by"}},
      {Method::kGet, "artifacts/list", ListArtifacts, {}},
      {Method::kGet, "metrics/get-history", GetMetricHistory, {}},
      {Method::kGet,
       "metrics/get-history-bulk-interval",
       GetMetricHistoryBulkInterval,
       {"run_ids"}},
  };
}

}  // namespace

void RegisterTrackingRoutes(http::Router& router, const MlflowContext& context) {
  for (Route& route : TrackingRoutes()) {
    auto handler = [context, fn = route.handler, repeated = route.repeated, fast = route.fast](
                       http::Request& request, http::Response& response) {
      if (fast != nullptr && fast(context, request, response)) return;
      auto message = RequestMessage::Decode(request, repeated);
      if (!message) return SetStatusError(response, message.error());
      Result<std::string> body = fn(context, *message);
      if (!body) return SetStatusError(response, body.error());
      response.SetJson(std::move(*body));
    };
    for (std::string_view prefix : {kApiPrefix, kAjaxPrefix}) {
      router.Add(route.method, std::string(prefix) + "/mlflow/" + std::string(route.path), handler);
    }
  }
}

}  // namespace mlforge::api

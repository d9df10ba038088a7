// Live monitoring endpoints (docs/monitoring.md, "Live monitoring"): monitor
// configs, window results and reports under /api/2.0/mlforge/monitors/, and
// ingestion of predictions and labels under /api/2.0/mlforge/monitoring/.
#include <fmt/core.h>

#include <limits>
#include <string>
#include <vector>

#include "api/api.h"
#include "api/handlers.h"
#include "api/mlflow_json.h"
#include "api/mlflow_request.h"
#include "base/json.h"
#include "http/http.h"
#include "monitor/monitor.h"

namespace mlforge::api {
namespace {

using monitor::DatasetProfile;
using monitor::MonitorConfig;

constexpr std::string_view kMonitors = "/api/2.0/mlforge/monitors";
constexpr std::string_view kMonitoring = "/api/2.0/mlforge/monitoring";
// Predictions or labels in one ingestion call.
constexpr size_t kMaxIngestBatch = 10000;
constexpr size_t kMaxRequestIdLength = 256;

void RespondMonitor(const MonitorConfig& c, http::Response& response) {
  json::Writer w;
  w.StartObject().Key("monitor");
  monitor::WriteMonitorConfig(w, c);
  response.SetJson(w.EndObject().Take());
}

// An uploaded reference in the request's "reference" object: "csv" (the
// text of a CSV file with a header row) or "profile" (a profile's JSON).
Result<std::optional<DatasetProfile>> UploadedReference(const RequestMessage& m) {
  const json::Value* ref = m.Find("reference");
  if (ref == nullptr || !ref->is_object()) return std::optional<DatasetProfile>();
  const json::Value* csv = ref->Find("csv");
  const json::Value* profile = ref->Find("profile");
  if (csv != nullptr && profile != nullptr) {
    return Err(InvalidArgument("Give one of 'reference.csv' and 'reference.profile', not both"));
  }
  if (csv != nullptr) {
    if (!csv->is_string()) return Err(InvalidArgument("'reference.csv' must be a string"));
    auto table = monitor::ParseCsv(csv->as_string(), "reference.csv");
    if (!table) {
      return Err(InvalidArgument("Invalid value for 'reference.csv': " + table.error().message()));
    }
    if (table->rows == 0) return Err(InvalidArgument("'reference.csv' has no rows"));
    return std::optional<DatasetProfile>(monitor::ProfileTable(*table));
  }
  if (profile != nullptr) {
    if (!profile->is_object()) return Err(InvalidArgument("'reference.profile' must be an object"));
    json::Writer w;
    w.Value(*profile);
    auto parsed = monitor::ProfileFromJson(w.str());
    if (!parsed) {
      return Err(
          InvalidArgument("Invalid value for 'reference.profile': " + parsed.error().message()));
    }
    return std::optional<DatasetProfile>(std::move(*parsed));
  }
  return std::optional<DatasetProfile>();
}

Result<std::string> DeploymentOf(const RequestMessage& m) { return m.RequiredString("deployment"); }

Status Create(const MonitorContext& ctx, const http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(RequestMessage m, RequestMessage::Decode(request));
  RETURN_IF_ERROR(StatusOf(DeploymentOf(m)));
  ASSIGN_OR_RETURN(MonitorConfig config, monitor::ParseMonitorConfig(m.root(), MonitorConfig{}));
  ASSIGN_OR_RETURN(std::optional<DatasetProfile> uploaded, UploadedReference(m));
  ASSIGN_OR_RETURN(MonitorConfig c, ctx.monitor->Create(config, uploaded ? &*uploaded : nullptr));
  RespondMonitor(c, response);
  return Status::Ok();
}

Status Get(const MonitorContext& ctx, const http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(std::string name, RequiredQueryParam(request, "deployment"));
  ASSIGN_OR_RETURN(MonitorConfig c, ctx.store->GetMonitor(name));
  RespondMonitor(c, response);
  return Status::Ok();
}

Status List(const MonitorContext& ctx, const http::Request&, http::Response& response) {
  ASSIGN_OR_RETURN(std::vector<MonitorConfig> all, ctx.store->ListMonitors());
  json::Writer w;
  w.StartObject().Key("monitors").StartArray();
  for (const MonitorConfig& c : all) monitor::WriteMonitorConfig(w, c);
  response.SetJson(w.EndArray().EndObject().Take());
  return Status::Ok();
}

Status Update(const MonitorContext& ctx, const http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(RequestMessage m, RequestMessage::Decode(request));
  ASSIGN_OR_RETURN(std::string name, DeploymentOf(m));
  ASSIGN_OR_RETURN(MonitorConfig current, ctx.store->GetMonitor(name));
  ASSIGN_OR_RETURN(MonitorConfig config, monitor::ParseMonitorConfig(m.root(), current));
  if (config.deployment != name) return InvalidArgument("'deployment' cannot change");
  ASSIGN_OR_RETURN(std::optional<DatasetProfile> uploaded, UploadedReference(m));
  ASSIGN_OR_RETURN(MonitorConfig c, ctx.monitor->Update(config, uploaded ? &*uploaded : nullptr));
  RespondMonitor(c, response);
  return Status::Ok();
}

Status Delete(const MonitorContext& ctx, const http::Request& request, http::Response& response) {
  std::string name;
  if (const std::string* q = request.QueryParam("deployment");
      q != nullptr && request.body.empty()) {
    name = *q;
  } else {
    ASSIGN_OR_RETURN(RequestMessage m, RequestMessage::Decode(request));
    ASSIGN_OR_RETURN(name, DeploymentOf(m));
  }
  if (name.empty()) return MissingValue("deployment");
  RETURN_IF_ERROR(ctx.monitor->Delete(name));
  response.SetJson(std::string(kEmptyResponse));
  return Status::Ok();
}

Status CloseWindow(const MonitorContext& ctx, const http::Request& request,
                   http::Response& response) {
  ASSIGN_OR_RETURN(RequestMessage m, RequestMessage::Decode(request));
  ASSIGN_OR_RETURN(std::string name, DeploymentOf(m));
  ASSIGN_OR_RETURN(monitor::WindowResult r, ctx.monitor->CloseWindow(name));
  json::Writer w;
  w.StartObject().Key("result");
  monitor::WriteWindowResult(w, r);
  response.SetJson(w.EndObject().Take());
  return Status::Ok();
}

Status Results(const MonitorContext& ctx, const http::Request& request, http::Response& response) {
  RequestMessage m = RequestMessage::FromQuery(request.query_params);
  ASSIGN_OR_RETURN(std::string name, RequiredQueryParam(request, "deployment"));
  ASSIGN_OR_RETURN(std::optional<int64_t> from, m.OptionalInt64("start_time"));
  ASSIGN_OR_RETURN(std::optional<int64_t> to, m.OptionalInt64("end_time"));
  ASSIGN_OR_RETURN(std::optional<int64_t> max, m.OptionalInt64("max_results"));
  if (max && (*max < 1 || *max > monitor::kResultsMax)) {
    return InvalidArgument(
        fmt::format("max_results must be between 1 and {}", monitor::kResultsMax));
  }
  if (from && to && *from >= *to) return InvalidArgument("start_time must be before end_time");
  ASSIGN_OR_RETURN(std::string token, m.StringOr("page_token"));
  RETURN_IF_ERROR(StatusOf(ctx.store->GetMonitor(name)));  // 404 for unknown deployments
  ASSIGN_OR_RETURN(
      monitor::WindowResultPage page,
      ctx.store->ListResults(name, from.value_or(std::numeric_limits<int64_t>::min()),
                             to.value_or(std::numeric_limits<int64_t>::max()),
                             max ? static_cast<int>(*max) : monitor::kResultsDefault, token));
  json::Writer w;
  w.StartObject().Key("results").StartArray();
  for (const monitor::WindowResult& r : page.results) monitor::WriteWindowResult(w, r);
  w.EndArray();
  if (!page.next_page_token.empty()) w.Field("next_page_token", page.next_page_token);
  response.SetJson(w.EndObject().Take());
  return Status::Ok();
}

Status Report(const MonitorContext& ctx, const http::Request& request, http::Response& response) {
  RequestMessage m = RequestMessage::FromQuery(request.query_params);
  ASSIGN_OR_RETURN(std::string name, RequiredQueryParam(request, "deployment"));
  ASSIGN_OR_RETURN(int64_t start, m.RequiredInt64("window_start"));
  ASSIGN_OR_RETURN(std::string format, m.StringOr("format", "json"));
  if (format != "json" && format != "html") {
    return InvalidArgument(
        fmt::format("Invalid value '{}' for 'format': use json or html", format));
  }
  ASSIGN_OR_RETURN(monitor::DriftReport report, ctx.monitor->Report(name, start));
  const monitor::ReportLabels labels{.reference = "reference",
                                     .current = fmt::format("{} window {}", name, start)};
  if (format == "html") {
    response.content_type = "text/html; charset=utf-8";
    response.body = monitor::DriftReportToHtml(report, labels);
  } else {
    response.SetJson(monitor::DriftReportToJson(report, labels));
  }
  return Status::Ok();
}

Result<std::string> RequestIdOf(const NestedMessage& item) {
  const json::Value* v = item.Find("request_id");
  if (v == nullptr) return Err(MissingValue(item.Name("request_id")));
  ASSIGN_OR_RETURN(std::string id, ToStringField(*v, item.Name("request_id")));
  if (id.empty()) return Err(MissingValue(item.Name("request_id")));
  if (id.size() > kMaxRequestIdLength) {
    return Err(InvalidArgument(fmt::format("'{}' is longer than {} characters",
                                           item.Name("request_id"), kMaxRequestIdLength)));
  }
  return id;
}

// A number or an array of numbers (one per row).
Result<std::vector<double>> NumbersOf(const json::Value& v, const std::string& field) {
  std::vector<double> out;
  if (v.is_array()) {
    for (size_t i = 0; i < v.items().size(); ++i) {
      ASSIGN_OR_RETURN(double d, ToDoubleField(v.items()[i], fmt::format("{}[{}]", field, i)));
      out.push_back(d);
    }
    if (out.empty()) return Err(InvalidArgument(fmt::format("'{}' must not be empty", field)));
    return out;
  }
  ASSIGN_OR_RETURN(double d, ToDoubleField(v, field));
  out.push_back(d);
  return out;
}

Result<std::vector<const json::Value*>> Batch(const RequestMessage& m, std::string_view field) {
  if (!m.Has(field)) return Err(MissingValue(field));
  ASSIGN_OR_RETURN(std::vector<const json::Value*> items, m.ObjectList(field));
  if (items.empty()) return Err(InvalidArgument(fmt::format("'{}' must not be empty", field)));
  if (items.size() > kMaxIngestBatch) {
    return Err(InvalidArgument(fmt::format("'{}' holds {} items; at most {} per call", field,
                                           items.size(), kMaxIngestBatch)));
  }
  return items;
}

// {"deployment", "predictions": [{"request_id", "timestamp"?, "features":
// {name: value} | [{name: value}, ...], "outputs": {name: number | [numbers]}
// | "prediction": number | [numbers]}]}
Status IngestPredictions(const MonitorContext& ctx, const http::Request& request,
                         http::Response& response) {
  ASSIGN_OR_RETURN(RequestMessage m, RequestMessage::Decode(request));
  ASSIGN_OR_RETURN(std::string name, DeploymentOf(m));
  ASSIGN_OR_RETURN(std::vector<const json::Value*> items, Batch(m, "predictions"));
  std::vector<monitor::IngestedPrediction> out;
  out.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    NestedMessage item(*items[i], fmt::format("predictions[{}].", i));
    monitor::IngestedPrediction p;
    p.deployment = name;
    ASSIGN_OR_RETURN(p.request_id, RequestIdOf(item));
    ASSIGN_OR_RETURN(std::optional<int64_t> ts, item.OptionalInt64("timestamp"));
    p.timestamp_ms = ts.value_or(0);
    if (ts && *ts <= 0)
      return InvalidArgument(fmt::format("'{}' must be > 0", item.Name("timestamp")));
    const json::Value* features = item.Find("features");
    if (features == nullptr) return MissingValue(item.Name("features"));
    std::vector<const json::Value*> rows;
    if (features->is_object()) {
      rows.push_back(features);
    } else if (features->is_array() && !features->items().empty()) {
      for (const json::Value& row : features->items()) rows.push_back(&row);
    } else {
      return InvalidArgument(
          fmt::format("'{}' must be an object of feature values or a non-empty array of them",
                      item.Name("features")));
    }
    for (size_t r = 0; r < rows.size(); ++r) {
      if (!rows[r]->is_object()) {
        return InvalidArgument(fmt::format("'{}[{}]' must be an object", item.Name("features"), r));
      }
      std::vector<std::pair<std::string, json::Value>> row;
      for (const auto& [key, value] : rows[r]->members()) {
        if (!(value.is_number() || value.is_string() || value.is_bool() || value.is_null())) {
          return InvalidArgument(fmt::format("'{}[{}].{}' must be a number, string, bool or null",
                                             item.Name("features"), r, key));
        }
        row.emplace_back(key, value);
      }
      p.features.push_back(std::move(row));
    }
    const json::Value* outputs = item.Find("outputs");
    const json::Value* prediction = item.Find("prediction");
    if (outputs != nullptr && prediction != nullptr) {
      return InvalidArgument(
          fmt::format("Give one of '{}' and '{}'", item.Name("outputs"), item.Name("prediction")));
    }
    std::vector<std::vector<double>> columns;
    if (prediction != nullptr) {
      p.output_names.push_back("prediction");
      ASSIGN_OR_RETURN(std::vector<double> v, NumbersOf(*prediction, item.Name("prediction")));
      columns.push_back(std::move(v));
    } else if (outputs != nullptr) {
      if (!outputs->is_object() || outputs->members().empty()) {
        return InvalidArgument(
            fmt::format("'{}' must be a non-empty object of output values", item.Name("outputs")));
      }
      for (const auto& [key, value] : outputs->members()) {
        p.output_names.push_back(key);
        ASSIGN_OR_RETURN(std::vector<double> v, NumbersOf(value, item.Name("outputs.") + key));
        columns.push_back(std::move(v));
      }
    }
    for (size_t c = 0; c < columns.size(); ++c) {
      if (columns[c].size() != p.features.size()) {
        return InvalidArgument(
            fmt::format("'{}' has {} values for {} feature rows",
                        item.Name(prediction ? "prediction" : "outputs." + p.output_names[c]),
                        columns[c].size(), p.features.size()));
      }
    }
    for (size_t r = 0; r < p.features.size(); ++r) {
      for (const auto& col : columns) p.outputs.push_back(col[r]);
    }
    out.push_back(std::move(p));
  }
  RETURN_IF_ERROR(ctx.monitor->IngestPredictions(std::move(out)));
  json::Writer w;
  w.StartObject().Field("ingested", static_cast<int64_t>(items.size()));
  response.SetJson(w.EndObject().Take());
  return Status::Ok();
}

// {"deployment", "labels": [{"request_id", "label": number | [numbers], "timestamp"?}]}
Status IngestLabels(const MonitorContext& ctx, const http::Request& request,
                    http::Response& response) {
  ASSIGN_OR_RETURN(RequestMessage m, RequestMessage::Decode(request));
  ASSIGN_OR_RETURN(std::string name, DeploymentOf(m));
  ASSIGN_OR_RETURN(std::vector<const json::Value*> items, Batch(m, "labels"));
  std::vector<monitor::GroundTruth> out;
  out.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    NestedMessage item(*items[i], fmt::format("labels[{}].", i));
    monitor::GroundTruth g;
    g.deployment = name;
    ASSIGN_OR_RETURN(g.request_id, RequestIdOf(item));
    ASSIGN_OR_RETURN(std::optional<int64_t> ts, item.OptionalInt64("timestamp"));
    if (ts && *ts <= 0)
      return InvalidArgument(fmt::format("'{}' must be > 0", item.Name("timestamp")));
    g.timestamp_ms = ts.value_or(0);
    const json::Value* label = item.Find("label");
    if (label == nullptr) return MissingValue(item.Name("label"));
    ASSIGN_OR_RETURN(g.values, NumbersOf(*label, item.Name("label")));
    out.push_back(std::move(g));
  }
  RETURN_IF_ERROR(ctx.monitor->IngestLabels(std::move(out)));
  json::Writer w;
  w.StartObject().Field("ingested", static_cast<int64_t>(items.size()));
  response.SetJson(w.EndObject().Take());
  return Status::Ok();
}

}  // namespace

void RegisterMonitorRoutes(http::Router& router, const MonitorContext& context) {
  const std::string p(kMonitors);
  router.AddBlocking(http::Method::kPost, p + "/create", WithStatusErrors(context, Create));
  router.AddBlocking(http::Method::kGet, p + "/get", WithStatusErrors(context, Get));
  router.AddBlocking(http::Method::kGet, p + "/list", WithStatusErrors(context, List));
  router.AddBlocking(http::Method::kPost, p + "/update", WithStatusErrors(context, Update));
  router.AddBlocking(http::Method::kDelete, p + "/delete", WithStatusErrors(context, Delete));
  router.AddBlocking(http::Method::kPost, p + "/close-window",
                     WithStatusErrors(context, CloseWindow));
  router.AddBlocking(http::Method::kGet, p + "/results", WithStatusErrors(context, Results));
  router.AddBlocking(http::Method::kGet, p + "/report", WithStatusErrors(context, Report));
  const std::string q(kMonitoring);
  router.AddBlocking(http::Method::kPost, q + "/predictions",
                     WithStatusErrors(context, IngestPredictions));
  router.AddBlocking(http::Method::kPost, q + "/labels", WithStatusErrors(context, IngestLabels));
}

}  // namespace mlforge::api

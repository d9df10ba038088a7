// The datasets API (/api/2.0/mlforge/datasets/...): decode, call
// data::DatasetService (and tracking for "runs that used a version"),
// encode. Errors use MLflow's {"error_code", "message"} shape. docs/data.md.
#include <fmt/core.h>

#include <charconv>
#include <string>
#include <string_view>

#include "api/api.h"
#include "api/handlers.h"
#include "api/mlflow_json.h"
#include "api/mlflow_request.h"
#include "base/hash.h"
#include "base/json.h"
#include "data/data.h"
#include "http/http.h"
#include "tracking/tracking.h"

namespace mlforge::api {
namespace {

constexpr std::string_view kPrefix = "/api/2.0/mlforge/datasets";

Result<json::Value> JsonBody(const http::Request& request) {
  ASSIGN_OR_RETURN(json::Value v, json::Parse(request.body));
  if (!v.is_object())
    return Err(Status(ErrorCode::kMalformedRequest, "Body must be a JSON object"));
  return v;
}

// A string member; "" when absent; an error when present with another type.
Result<std::string> StringField(const json::Value& body, std::string_view key) {
  const json::Value* v = body.Find(key);
  if (v == nullptr || v->is_null()) return std::string();
  if (!v->is_string()) {
    return Err(InvalidArgument(fmt::format("Field '{}' must be a string", key)));
  }
  return v->as_string();
}

Result<std::string> RequiredString(const json::Value& body, std::string_view key) {
  ASSIGN_OR_RETURN(std::string s, StringField(body, key));
  if (s.empty())
    return Err(InvalidArgument(fmt::format("Missing value for required parameter '{}'", key)));
  return s;
}

Result<int> IntQuery(const http::Request& request, std::string_view key, int fallback) {
  const std::string* v = request.QueryParam(key);
  if (v == nullptr || v->empty()) return fallback;
  int out = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || ptr != v->data() + v->size()) {
    return Err(InvalidArgument(fmt::format("Parameter '{}' must be an integer", key)));
  }
  return out;
}

void WriteDataset(json::Writer& w, const data::DatasetInfo& d) {
  w.StartObject()
      .Field("name", d.name)
      .Field("description", d.description)
      .Field("creation_time", d.creation_time)
      .Field("last_update_time", d.last_update_time)
      .Field("version_count", d.version_count)
      .EndObject();
}

void WriteVersion(json::Writer& w, const data::VersionInfo& v) {
  w.StartObject()
      .Field("dataset", v.dataset)
      .Field("version", v.version)
      .Field("version_id", v.version_id)
      .Field("file_count", v.file_count)
      .Field("size", v.size)
      .Field("message", v.message)
      .Field("creation_time", v.creation_time)
      .EndObject();
}

Status CreateDataset(const DatasetContext& ctx, http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(json::Value body, JsonBody(request));
  ASSIGN_OR_RETURN(std::string name, RequiredString(body, "name"));
  ASSIGN_OR_RETURN(std::string description, StringField(body, "description"));
  ASSIGN_OR_RETURN(data::DatasetInfo info, ctx.datasets->CreateDataset(name, description));
  json::Writer w;
  w.StartObject().Key("dataset");
  WriteDataset(w, info);
  response.SetJson(w.EndObject().Take());
  return Status::Ok();
}

Status GetDataset(const DatasetContext& ctx, http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(std::string name, RequiredQueryParam(request, "name"));
  ASSIGN_OR_RETURN(data::DatasetInfo info, ctx.datasets->GetDataset(name));
  json::Writer w;
  w.StartObject().Key("dataset");
  WriteDataset(w, info);
  response.SetJson(w.EndObject().Take());
  return Status::Ok();
}

Status ListDatasets(const DatasetContext& ctx, http::Request&, http::Response& response) {
  ASSIGN_OR_RETURN(std::vector<data::DatasetInfo> list, ctx.datasets->ListDatasets());
  json::Writer w;
  w.StartObject().Key("datasets").StartArray();
  for (const data::DatasetInfo& d : list) WriteDataset(w, d);
  response.SetJson(w.EndArray().EndObject().Take());
  return Status::Ok();
}

Status CreateVersion(const DatasetContext& ctx, http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(json::Value body, JsonBody(request));
  ASSIGN_OR_RETURN(std::string name, RequiredString(body, "name"));
  ASSIGN_OR_RETURN(std::string version_id, RequiredString(body, "version_id"));
  ASSIGN_OR_RETURN(std::string message, StringField(body, "message"));
  std::vector<std::string> missing;
  auto version = ctx.datasets->CreateVersion(name, version_id, message, &missing);
  if (!version.has_value()) {
    if (missing.empty()) return version.error();
    // MLflow's error shape plus the list a client needs to finish its upload.
    json::Writer w;
    w.StartObject()
        .Field("error_code", ErrorCodeName(version.error().code()))
        .Field("message", version.error().message())
        .Key("missing_objects")
        .StartArray();
    for (const std::string& m : missing) w.String(m);
    response.SetJson(w.EndArray().EndObject().Take(), ErrorCodeHttpStatus(version.error().code()));
    return Status::Ok();
  }
  json::Writer w;
  w.StartObject().Key("version");
  WriteVersion(w, *version);
  response.SetJson(w.EndObject().Take());
  return Status::Ok();
}

Status GetVersion(const DatasetContext& ctx, http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(std::string name, RequiredQueryParam(request, "name"));
  ASSIGN_OR_RETURN(std::string version, RequiredQueryParam(request, "version"));
  ASSIGN_OR_RETURN(data::VersionInfo info, ctx.datasets->GetVersion(name, version));
  json::Writer w;
  w.StartObject().Key("version");
  WriteVersion(w, info);
  response.SetJson(w.EndObject().Take());
  return Status::Ok();
}

Status ListVersions(const DatasetContext& ctx, http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(std::string name, RequiredQueryParam(request, "name"));
  ASSIGN_OR_RETURN(std::vector<data::VersionInfo> list, ctx.datasets->ListVersions(name));
  json::Writer w;
  w.StartObject().Key("versions").StartArray();
  for (const data::VersionInfo& v : list) WriteVersion(w, v);
  response.SetJson(w.EndArray().EndObject().Take());
  return Status::Ok();
}

Status GetManifest(const DatasetContext& ctx, http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(std::string id, RequiredQueryParam(request, "version_id"));
  ASSIGN_OR_RETURN(int max_results, IntQuery(request, "max_results", 1000));
  const std::string* token = request.QueryParam("page_token");
  ASSIGN_OR_RETURN(data::ManifestPage page,
                   ctx.datasets->GetManifest(id, max_results, token ? *token : std::string()));
  json::Writer w;
  w.StartObject().Key("entries").StartArray();
  for (const data::ManifestEntry& e : page.entries) {
    w.StartObject()
        .Field("path", e.path)
        .Field("sha256", e.sha256)
        .Field("size", e.size)
        .EndObject();
  }
  w.EndArray();
  if (!page.next_page_token.empty()) w.Field("next_page_token", page.next_page_token);
  response.SetJson(w.EndObject().Take());
  return Status::Ok();
}

// Runs whose MLflow dataset inputs carry this version's id (or a prefix of 8+
// hex chars of it) as digest: the link between tracking and data is a query.
Status VersionRuns(const DatasetContext& ctx, http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(std::string id, RequiredQueryParam(request, "version_id"));
  if (!IsSha256Hex(id)) return InvalidArgument("Invalid version_id: expected a sha256 hex digest");
  if (ctx.tracking == nullptr) return Status(ErrorCode::kNotImplemented, "Tracking is not enabled");
  ASSIGN_OR_RETURN(std::vector<tracking::Run> runs, RunsUsingDatasetVersion(*ctx.tracking, id));
  json::Writer w;
  w.StartObject().Key("runs").StartArray();
  for (const tracking::Run& run : runs) {
    w.StartObject()
        .Field("run_id", run.info.run_id)
        .Field("run_name", run.info.run_name)
        .Field("experiment_id", run.info.experiment_id);
    for (const tracking::DatasetInput& input : run.inputs) {
      if (id.starts_with(input.dataset.digest) && input.dataset.digest.size() >= 8) {
        w.Field("dataset_name", input.dataset.name).Field("digest", input.dataset.digest);
        break;
      }
    }
    w.EndObject();
  }
  response.SetJson(w.EndArray().EndObject().Take());
  return Status::Ok();
}

Status MissingObjects(const DatasetContext& ctx, http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(json::Value body, JsonBody(request));
  const json::Value* list = body.Find("sha256");
  if (list == nullptr || !list->is_array()) {
    return InvalidArgument("Field 'sha256' must be an array of sha256 hex strings");
  }
  std::vector<std::string> hashes;
  hashes.reserve(list->items().size());
  for (const json::Value& item : list->items()) {
    if (!item.is_string()) return InvalidArgument("Field 'sha256' must hold strings");
    hashes.push_back(item.as_string());
  }
  ASSIGN_OR_RETURN(std::vector<std::string> missing, ctx.datasets->MissingObjects(hashes));
  json::Writer w;
  w.StartObject().Key("missing").StartArray();
  for (const std::string& m : missing) w.String(m);
  response.SetJson(w.EndArray().EndObject().Take());
  return Status::Ok();
}

Status PutObject(const DatasetContext& ctx, http::Request& request, http::Response& response) {
  const std::string* sha = request.PathParam("sha256");
  if (sha == nullptr || !IsSha256Hex(*sha)) {
    return InvalidArgument("Invalid object id: expected 64 lowercase hex characters");
  }
  if (request.body_file.empty()) {
    RETURN_IF_ERROR(ctx.datasets->PutObjectBytes(*sha, request.body));
  } else {
    RETURN_IF_ERROR(ctx.datasets->PutObject(*sha, request.body_file));
  }
  response.SetJson("{}");
  return Status::Ok();
}

Status GetObject(const DatasetContext& ctx, http::Request& request, http::Response& response) {
  const std::string* sha = request.PathParam("sha256");
  if (sha == nullptr || !IsSha256Hex(*sha)) {
    return InvalidArgument("Invalid object id: expected 64 lowercase hex characters");
  }
  ASSIGN_OR_RETURN(std::filesystem::path file, ctx.datasets->ObjectPath(*sha));
  response.status = 200;
  response.content_type = "application/octet-stream";
  response.body_file = std::move(file);
  return Status::Ok();
}

Status CollectGarbage(const DatasetContext& ctx, http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(json::Value body, JsonBody(request));
  bool dry_run = true;  // removing needs an explicit "dry_run": false
  int64_t grace_seconds = 3600;
  if (const json::Value* v = body.Find("dry_run"); v != nullptr && !v->is_null()) {
    if (!v->is_bool()) return InvalidArgument("Field 'dry_run' must be a boolean");
    dry_run = v->as_bool();
  }
  if (const json::Value* v = body.Find("grace_seconds"); v != nullptr && !v->is_null()) {
    if (!v->is_int64()) return InvalidArgument("Field 'grace_seconds' must be an integer");
    grace_seconds = v->as_int64();
  }
  ASSIGN_OR_RETURN(data::ServerGcResult r, ctx.datasets->CollectGarbage(dry_run, grace_seconds));
  json::Writer w;
  w.StartObject()
      .Field("dry_run", dry_run)
      .Field("objects_scanned", r.objects_scanned)
      .Field("objects_referenced", r.objects_referenced)
      .Field("objects_linked", r.objects_linked)
      .Field("objects_recent", r.objects_recent)
      .Field("objects_removable", r.objects_removable)
      .Field("bytes_removable", r.bytes_removable)
      .Field("objects_removed", r.objects_removed)
      .EndObject();
  response.SetJson(w.Take());
  return Status::Ok();
}

}  // namespace

Result<std::vector<tracking::Run>> RunsUsingDatasetVersion(tracking::TrackingService& tracking,
                                                           std::string_view version_id) {
  std::string filter = "datasets.digest IN (";
  bool first = true;
  for (const std::string& digest : data::DigestsNamingVersion(version_id)) {
    filter += (first ? "'" : ", '") + digest + "'";  // hex only: nothing to escape
    first = false;
  }
  filter += ")";
  std::vector<std::string> experiment_ids;
  tracking::SearchExperimentsRequest exp_req;
  exp_req.view_type = tracking::ViewType::kAll;
  do {
    ASSIGN_OR_RETURN(tracking::ExperimentPage page, tracking.SearchExperiments(exp_req));
    for (const tracking::Experiment& e : page.experiments)
      experiment_ids.push_back(e.experiment_id);
    exp_req.page_token = page.next_page_token;
  } while (!exp_req.page_token.empty());
  if (experiment_ids.empty()) return std::vector<tracking::Run>{};
  tracking::SearchRunsRequest req;
  req.experiment_ids = std::move(experiment_ids);
  req.filter = filter;
  req.run_view_type = tracking::ViewType::kAll;
  req.max_results = kMaxRunsUsingDatasetVersion;
  ASSIGN_OR_RETURN(tracking::RunPage page, tracking.SearchRuns(req));
  return std::move(page.runs);
}

void RegisterDatasetRoutes(http::Router& router, const DatasetContext& context) {
  using http::Method;
  auto path = [](std::string_view rest) { return fmt::format("{}/{}", kPrefix, rest); };
  router.AddBlocking(Method::kPost, path("create"), WithStatusErrors(context, CreateDataset));
  router.AddBlocking(Method::kGet, path("get"), WithStatusErrors(context, GetDataset));
  router.AddBlocking(Method::kGet, path("list"), WithStatusErrors(context, ListDatasets));
  router.AddBlocking(Method::kPost, path("versions/create"),
                     WithStatusErrors(context, CreateVersion));
  router.AddBlocking(Method::kGet, path("versions/get"), WithStatusErrors(context, GetVersion));
  router.AddBlocking(Method::kGet, path("versions/list"), WithStatusErrors(context, ListVersions));
  router.AddBlocking(Method::kGet, path("versions/manifest"),
                     WithStatusErrors(context, GetManifest));
  router.AddBlocking(Method::kGet, path("versions/runs"), WithStatusErrors(context, VersionRuns));
  router.AddBlocking(Method::kPost, path("objects/missing"),
                     WithStatusErrors(context, MissingObjects));
  // Bodies go to a temp file and are moved into the store once verified.
  router.AddBlocking(Method::kPut, path("objects/{sha256}"), WithStatusErrors(context, PutObject),
                     http::BodyMode::kSpoolToFile);
  router.AddBlocking(Method::kGet, path("objects/{sha256}"), WithStatusErrors(context, GetObject));
  router.AddBlocking(Method::kPost, path("gc"), WithStatusErrors(context, CollectGarbage));
}

}  // namespace mlforge::api

// Lineage (/api/2.0/mlforge/lineage/...): which data and which code produced
// a model version, and where a dataset version was used. A read-only join
// across the registry, tracking and data facades; the link from a run to a
// dataset version is MLflow's own dataset input, whose digest is the
// version id or a prefix of it (8+ hex chars). docs/lineage.md.
#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <set>
#include <string>
#include <string_view>

#include "api/api.h"
#include "api/handlers.h"
#include "api/mlflow_json.h"
#include "api/mlflow_request.h"
#include "base/json.h"
#include "data/data.h"
#include "http/http.h"
#include "registry/registry.h"
#include "tracking/tracking.h"

namespace mlforge::api {
namespace {

constexpr std::string_view kPrefix = "/api/2.0/mlforge/lineage";
constexpr int kDefaultMaxFiles = 100;
constexpr int kMaxFiles = 10'000;
// MLflow tags naming the code a run came from.
constexpr std::string_view kGitCommitTag = "mlflow.source.git.commit";
constexpr std::string_view kSourceNameTag = "mlflow.source.name";
constexpr std::string_view kDatasetContextTag = "mlflow.data.context";

Result<int> MaxFiles(const http::Request& request) {
  const std::string* v = request.QueryParam("max_files");
  if (v == nullptr || v->empty()) return kDefaultMaxFiles;
  int n = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || ptr != v->data() + v->size() || n < 0 || n > kMaxFiles) {
    return Err(InvalidArgument(
        fmt::format("Invalid value for parameter 'max_files': expected 0..{}", kMaxFiles)));
  }
  return n;
}

std::string_view TagValue(const std::vector<tracking::Tag>& tags, std::string_view key) {
  for (const tracking::Tag& t : tags) {
    if (t.key == key) return t.value;
  }
  return {};
}

void WriteModelVersion(json::Writer& w, const registry::ModelVersion& v) {
  w.StartObject()
      .Field("name", v.name)
      .Field("version", std::to_string(v.version))
      .Field("current_stage", v.current_stage)
      .Field("source", v.source)
      .Field("run_id", v.run_id.value_or(""))
      .Field("creation_timestamp", v.creation_timestamp);
  w.Key("aliases").StartArray();
  for (const std::string& a : v.aliases) w.String(a);
  w.EndArray().EndObject();
}

void WriteVersionInfo(json::Writer& w, const data::VersionInfo& v) {
  w.Field("dataset", v.dataset)
      .Field("version", v.version)
      .Field("version_id", v.version_id)
      .Field("file_count", v.file_count)
      .Field("size", v.size);
}

// The run, its params, latest metrics and code, then each dataset input with
// the dataset versions its digest names and (up to max_files of) their files.
Status WriteRun(const LineageContext& ctx, json::Writer& w, const tracking::Run& run,
                int max_files) {
  w.Key("run")
      .StartObject()
      .Field("run_id", run.info.run_id)
      .Field("run_name", run.info.run_name)
      .Field("experiment_id", run.info.experiment_id)
      .Field("status", run.info.status)
      .Field("user_id", run.info.user_id)
      .Field("start_time", run.info.start_time)
      .Field("git_commit", TagValue(run.tags, kGitCommitTag))
      .Field("source_name", TagValue(run.tags, kSourceNameTag));
  w.Key("params").StartArray();
  for (const tracking::Param& p : run.params) {
    w.StartObject().Field("key", p.key).Field("value", p.value).EndObject();
  }
  w.EndArray().Key("metrics").StartArray();
  for (const tracking::Metric& m : run.metrics) {
    w.StartObject().Field("key", m.key).Field("value", m.value).Field("step", m.step).EndObject();
  }
  w.EndArray().EndObject();

  w.Key("datasets").StartArray();
  for (const tracking::DatasetInput& input : run.inputs) {
    const tracking::Dataset& d = input.dataset;
    w.StartObject()
        .Field("name", d.name)
        .Field("digest", d.digest)
        .Field("source_type", d.source_type)
        .Field("source", d.source)
        .Field("context", TagValue(input.tags, kDatasetContextTag));
    w.Key("versions").StartArray();
    std::vector<data::VersionInfo> versions;
    if (ctx.datasets != nullptr) {
      ASSIGN_OR_RETURN(versions, ctx.datasets->FindVersionsByDigest(d.digest));
    }
    for (const data::VersionInfo& v : versions) {
      w.StartObject();
      WriteVersionInfo(w, v);
      w.Key("files").StartArray();
      bool truncated = false;
      if (max_files > 0) {
        ASSIGN_OR_RETURN(data::ManifestPage page,
                         ctx.datasets->GetManifest(v.version_id, max_files, ""));
        for (const data::ManifestEntry& e : page.entries) {
          w.StartObject()
              .Field("path", e.path)
              .Field("sha256", e.sha256)
              .Field("size", e.size)
              .EndObject();
        }
        truncated = !page.next_page_token.empty();
      } else {
        truncated = v.file_count > 0;
      }
      w.EndArray().Key("files_truncated").Bool(truncated).EndObject();
    }
    w.EndArray().EndObject();
  }
  w.EndArray();
  return Status::Ok();
}

// GET model-version?model_uri=models:/<name>/<version|stage|latest> or
// models:/<name>@<alias>[&max_files=N]
Status ModelVersionLineage(const LineageContext& ctx, const http::Request& request,
                           http::Response& response) {
  ASSIGN_OR_RETURN(std::string uri, RequiredQueryParam(request, "model_uri"));
  ASSIGN_OR_RETURN(int max_files, MaxFiles(request));
  ASSIGN_OR_RETURN(registry::ModelVersion version, ctx.registry->Resolve(uri));
  json::Writer w;
  w.StartObject().Field("model_uri", uri).Key("model_version");
  WriteModelVersion(w, version);
  if (version.run_id && !version.run_id->empty()) {
    Result<tracking::Run> run = ctx.tracking->GetRun(*version.run_id);
    if (run) {
      RETURN_IF_ERROR(WriteRun(ctx, w, *run, max_files));
    } else if (run.error().code() != ErrorCode::kResourceDoesNotExist) {
      return run.error();
    }  // a run deleted for good: the version's own files are pinned, lineage stops here
  }
  response.SetJson(w.EndObject().Take());
  return Status::Ok();
}

// GET dataset-version?version_id=<sha256>: the datasets holding it, the runs
// whose inputs name it, and the model versions those runs produced.
Status DatasetVersionLineage(const LineageContext& ctx, const http::Request& request,
                             http::Response& response) {
  ASSIGN_OR_RETURN(std::string id, RequiredQueryParam(request, "version_id"));
  if (ctx.datasets == nullptr)
    return Status(ErrorCode::kNotImplemented, "Datasets are not enabled");
  ASSIGN_OR_RETURN(std::vector<data::VersionInfo> versions, ctx.datasets->FindVersionsByDigest(id));
  if (versions.empty() || versions.front().version_id != id) {
    return NotFound(fmt::format("No dataset version with id '{}'", id));
  }
  json::Writer w;
  w.StartObject().Key("versions").StartArray();
  for (const data::VersionInfo& v : versions) {
    w.StartObject();
    WriteVersionInfo(w, v);
    w.EndObject();
  }
  w.EndArray();

  ASSIGN_OR_RETURN(std::vector<tracking::Run> runs, RunsUsingDatasetVersion(*ctx.tracking, id));
  w.Key("runs").StartArray();
  for (const tracking::Run& run : runs) {
    w.StartObject()
        .Field("run_id", run.info.run_id)
        .Field("run_name", run.info.run_name)
        .Field("experiment_id", run.info.experiment_id)
        .Field("git_commit", TagValue(run.tags, kGitCommitTag))
        .EndObject();
  }
  w.EndArray();

  // Model versions made from those runs (run ids are hex: nothing to escape).
  w.Key("model_versions").StartArray();
  constexpr size_t kRunsPerSearch = 100;
  for (size_t begin = 0; begin < runs.size(); begin += kRunsPerSearch) {
    std::string in;
    for (size_t i = begin; i < std::min(runs.size(), begin + kRunsPerSearch); ++i) {
      in += (in.empty() ? "'" : ", '") + runs[i].info.run_id + "'";
    }
    registry::SearchRequest req;
    req.filter = "run_id IN (" + in + ")";
    req.max_results = 10'000;
    do {
      ASSIGN_OR_RETURN(registry::ModelVersionPage page, ctx.registry->SearchModelVersions(req));
      for (const registry::ModelVersion& v : page.versions) WriteModelVersion(w, v);
      req.page_token = page.next_page_token;
    } while (!req.page_token.empty());
  }
  w.EndArray();
  response.SetJson(w.EndObject().Take());
  return Status::Ok();
}

}  // namespace

void RegisterLineageRoutes(http::Router& router, const LineageContext& context) {
  router.AddBlocking(http::Method::kGet, std::string(kPrefix) + "/model-version",
                     WithStatusErrors(context, ModelVersionLineage));
  router.AddBlocking(http::Method::kGet, std::string(kPrefix) + "/dataset-version",
                     WithStatusErrors(context, DatasetVersionLineage));
}

}  // namespace mlforge::api

#include "app/training_client.h"

#include <fmt/core.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "app/server_client.h"
#include "base/clock.h"
#include "base/json.h"
#include "http/http.h"

namespace mlforge::app {
namespace {

class HttpRunLogger final : public training::RunLogger {
 public:
  HttpRunLogger(ServerApi& api, const Clock& clock) : api_(api), clock_(clock) {}

  Result<Started> StartRun(std::string_view experiment_name, std::string_view run_name,
                           std::span<const training::Tag> tags) override {
    ASSIGN_OR_RETURN(std::string experiment_id, ExperimentId(experiment_name));
    const std::string user = UserName();
    std::string body = BuildJson([&](json::Writer& w) {
      w.StartObject().Field("experiment_id", experiment_id).Field("user_id", user);
      w.Field("start_time", clock_.NowMillis());
      if (!run_name.empty()) w.Field("run_name", run_name);
      w.Key("tags").StartArray();
      for (const training::Tag& t : tags)
        w.StartObject().Field("key", t.key).Field("value", t.value).EndObject();
      w.EndArray().EndObject();
    });
    ASSIGN_OR_RETURN(json::Value v, api_.Post("/api/2.0/mlflow/runs/create", body));
    const json::Value* info = v.Find("run") ? v.Find("run")->Find("info") : nullptr;
    if (info == nullptr) return Err(Internal("runs/create answered no run"));
    run_id_ = StrOf(*info, "run_id");
    ASSIGN_OR_RETURN(artifact_root_, ArtifactRoot(StrOf(*info, "artifact_uri")));
    return Started{.run_id = run_id_, .experiment_id = experiment_id};
  }

  Status LogParams(std::span<const std::pair<std::string, std::string>> params) override {
    constexpr size_t kPerBatch = 100;  // MLflow's log-batch limit
    for (size_t i = 0; i < params.size(); i += kPerBatch) {
      RETURN_IF_ERROR(LogBatch([&](json::Writer& w) {
        w.Key("params").StartArray();
        for (size_t j = i; j < std::min(params.size(), i + kPerBatch); ++j) {
          w.StartObject()
              .Field("key", params[j].first)
              .Field("value", params[j].second)
              .EndObject();
        }
        w.EndArray();
      }));
    }
    return Status::Ok();
  }

  Status LogMetrics(std::span<const training::MetricPoint> metrics) override {
    constexpr size_t kPerBatch = 1000;
    for (size_t i = 0; i < metrics.size(); i += kPerBatch) {
      RETURN_IF_ERROR(LogBatch([&](json::Writer& w) {
        w.Key("metrics").StartArray();
        for (size_t j = i; j < std::min(metrics.size(), i + kPerBatch); ++j) {
          const training::MetricPoint& m = metrics[j];
          w.StartObject()
              .Field("key", m.key)
              .Field("value", m.value)
              .Field("timestamp", m.timestamp)
              .Field("step", m.step)
              .EndObject();
        }
        w.EndArray();
      }));
    }
    return Status::Ok();
  }

  Status LogInput(const training::DatasetRef& d, std::string_view schema,
                  std::string_view profile) override {
    std::string body = BuildJson([&](json::Writer& w) {
      w.StartObject().Field("run_id", run_id_).Key("datasets").StartArray().StartObject();
      w.Key("tags").StartArray();
      w.StartObject().Field("key", "mlflow.data.context").Field("value", "training").EndObject();
      w.EndArray();
      w.Key("dataset").StartObject();
      w.Field("name", d.name)
          .Field("digest", InputDigest(d.digest))
          .Field("source_type", d.source_type);
      w.Field("source", d.source).Field("schema", schema).Field("profile", profile);
      w.EndObject().EndObject().EndArray().EndObject();
    });
    return StatusOf(api_.Post("/api/2.0/mlflow/runs/log-inputs", body));
  }

  // MLflow caps a dataset digest at 36 characters; a prefix of a version id
  // (8+ hex characters) still names it for lineage (docs/lineage.md).
  static std::string InputDigest(const std::string& digest) { return digest.substr(0, 36); }

  Status UploadArtifact(std::string_view path, std::string_view bytes) override {
    std::string target = "/api/2.0/mlflow-artifacts/artifacts/" + artifact_root_;
    std::string_view rest = path;
    while (!rest.empty()) {  // each segment encoded, the slashes kept
      size_t slash = rest.find('/');
      target += "/" + http::PercentEncode(rest.substr(0, slash));
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    }
    return StatusOf(api_.Must(http::Method::kPut, target, bytes, "application/octet-stream"));
  }

  Status EndRun(training::RunEnd end) override {
    std::string body = BuildJson([&](json::Writer& w) {
      w.StartObject()
          .Field("run_id", run_id_)
          .Field("status", end == training::RunEnd::kFinished ? "FINISHED" : "FAILED")
          .Field("end_time", clock_.NowMillis())
          .EndObject();
    });
    return StatusOf(api_.Post("/api/2.0/mlflow/runs/update", body));
  }

 private:
  Result<std::string> ExperimentId(std::string_view name) {
    const std::string get =
        "/api/2.0/mlflow/experiments/get-by-name?experiment_name=" + http::PercentEncode(name);
    for (int attempt = 0; attempt < 2; ++attempt) {
      ASSIGN_OR_RETURN(Answer a, api_.Call(http::Method::kGet, get));
      if (a.ok()) {
        const json::Value* e = a.body.Find("experiment");
        if (e != nullptr && StrOf(*e, "lifecycle_stage") == "deleted") {
          return Err(InvalidState(fmt::format(
              "Experiment '{}' is deleted: restore it or choose another --experiment", name)));
        }
        return e ? StrOf(*e, "experiment_id") : std::string();
      }
      if (a.status != 404) return Err(ServerApi::ServerError(get, a));
      std::string body =
          BuildJson([&](json::Writer& w) { w.StartObject().Field("name", name).EndObject(); });
      ASSIGN_OR_RETURN(Answer created,
                       api_.Call(http::Method::kPost, "/api/2.0/mlflow/experiments/create", body));
      if (created.ok()) return StrOf(created.body, "experiment_id");
      // Another client created it meanwhile: look it up again.
      if (created.ErrorCode() != "RESOURCE_ALREADY_EXISTS") {
        return Err(ServerApi::ServerError("experiments/create", created));
      }
    }
    return Err(
        Internal("Experiment '" + std::string(name) + "' could be neither found nor created"));
  }

  // "mlflow-artifacts:/1/<run>/artifacts" (or with //host:port) -> "1/<run>/artifacts".
  static Result<std::string> ArtifactRoot(std::string_view uri) {
    constexpr std::string_view kScheme = "mlflow-artifacts:";
    if (!uri.starts_with(kScheme)) {
      return Err(InvalidState(fmt::format(
          "The run's artifact location '{}' is not served by the tracking server (start it with "
          "artifact serving on)",
          uri)));
    }
    std::string_view rest = uri.substr(kScheme.size());
    if (rest.starts_with("//")) {
      size_t slash = rest.find('/', 2);
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    }
    while (rest.starts_with('/')) rest.remove_prefix(1);
    return std::string(rest);
  }

  Status LogBatch(const std::function<void(json::Writer&)>& fill) {
    std::string body = BuildJson([&](json::Writer& w) {
      w.StartObject().Field("run_id", run_id_);
      fill(w);
      w.EndObject();
    });
    return StatusOf(api_.Post("/api/2.0/mlflow/runs/log-batch", body));
  }

  ServerApi& api_;
  const Clock& clock_;
  std::string run_id_;
  std::string artifact_root_;
};

}  // namespace

std::unique_ptr<training::RunLogger> MakeHttpRunLogger(ServerApi& api, const Clock& clock) {
  return std::make_unique<HttpRunLogger>(api, clock);
}

std::string UserName() {
  if (const char* u = std::getenv("USER"); u && *u) return u;
  if (const passwd* pw = ::getpwuid(::getuid())) return pw->pw_name;
  return "unknown";
}

Status RegisterModelVersion(ServerApi& api, const std::string& model, const std::string& run_id,
                            int64_t* version) {
  std::string create =
      BuildJson([&](json::Writer& w) { w.StartObject().Field("name", model).EndObject(); });
  ASSIGN_OR_RETURN(
      Answer a, api.Call(http::Method::kPost, "/api/2.0/mlflow/registered-models/create", create));
  if (!a.ok() && a.ErrorCode() != "RESOURCE_ALREADY_EXISTS") {
    return ServerApi::ServerError("registered-models/create", a);
  }
  std::string body = BuildJson([&](json::Writer& w) {
    w.StartObject()
        .Field("name", model)
        .Field("source", "runs:/" + run_id + "/model")
        .Field("run_id", run_id)
        .EndObject();
  });
  ASSIGN_OR_RETURN(json::Value v, api.Post("/api/2.0/mlflow/model-versions/create", body));
  const json::Value* mv = v.Find("model_version");
  *version = mv ? std::atoll(StrOf(*mv, "version").c_str()) : 0;
  return Status::Ok();
}

void PreferPassiveOpenMpWaits() {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (size_t start = 0; start < cmdline.size();) {
    size_t end = cmdline.find('\0', start);
    if (end == std::string::npos) end = cmdline.size();
    args.push_back(cmdline.substr(start, end - start));
    start = end + 1;
  }
  if (args.empty()) return;
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  if (::setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  std::fflush(nullptr);
  ::execv("/proc/self/exe", argv.data());
}

}  // namespace mlforge::app

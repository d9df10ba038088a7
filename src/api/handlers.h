// Route registration of the MLflow handlers (private to src/api).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "api/api.h"
#include "api/mlflow_json.h"
#include "base/status.h"
#include "http/http.h"
#include "tracking/tracking.h"

namespace mlforge::api {

// The two prefixes MLflow serves every REST route under.
inline constexpr std::string_view kApiPrefix = "/api/2.0";
inline constexpr std::string_view kAjaxPrefix = "/ajax-api/2.0";

// A route handler from fn(context, request, response) -> Status: a failed
// Status becomes the MLflow-style error response ({"error_code", "message"}).
template <typename Context, typename Fn>
http::Handler WithStatusErrors(Context context, Fn fn) {
  return [context, fn](http::Request& request, http::Response& response) {
    Status s = fn(context, request, response);
    if (!s.ok()) SetStatusError(response, s);
  };
}

// /api/2.0/mlflow/... and /ajax-api/2.0/mlflow/... (tracking_handlers.cc).
void RegisterTrackingRoutes(http::Router& router, const MlflowContext& context);
// /api/2.0/mlflow-artifacts/..., its /ajax-api alias, and /get-artifact
// (artifact_handlers.cc).
void RegisterArtifactRoutes(http::Router& router, const MlflowContext& context);

// The artifact-store path of a run's artifact root, from its artifact_uri:
// "mlflow-artifacts:/1/<run>/artifacts" (also with a "//host" authority) or
// an http(s) URI of this API (".../mlflow-artifacts/artifacts/1/<run>/artifacts")
// -> "1/<run>/artifacts". Other schemes are kNotImplemented: this server
// only reads artifacts it stores itself.
Result<std::string> RunArtifactRoot(std::string_view artifact_uri);

// Joins a normalized directory and a normalized relative path ("" = the dir).
std::string JoinArtifactPath(std::string_view dir, std::string_view path);

// The model registry API under both prefixes, mlforge's registry audit log
// and /model-versions/get-artifact (registry_handlers.cc). Nothing when the
// context has no registry.
void RegisterRegistryRoutes(http::Router& router, const MlflowContext& context);

// True for a normalized store path inside the registry's pinned copies,
// which the artifact proxy never writes or deletes.
bool IsRegistryArtifactPath(std::string_view normalized_path);

// Streams a store file with MLflow's download headers (artifact_handlers.cc).
void SendArtifactFile(http::Response& response, std::filesystem::path file, std::string_view path);

// The runs (any experiment, deleted ones too) whose MLflow dataset inputs
// name this dataset version: digest = the id or a prefix of 8+ hex chars of
// it. At most kMaxRunsUsingDatasetVersion (dataset_handlers.cc).
inline constexpr int kMaxRunsUsingDatasetVersion = 1000;
Result<std::vector<tracking::Run>> RunsUsingDatasetVersion(tracking::TrackingService& tracking,
                                                           std::string_view version_id);

}  // namespace mlforge::api

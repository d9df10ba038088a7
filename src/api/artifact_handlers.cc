// MLflow artifact proxy (mlflow-artifacts service) and the UI's
// /get-artifact, over the blob::ArtifactStore. Every client path goes
// through blob::NormalizeRelativePath (after the HTTP layer's one
// percent-decoding), so traversal in any spelling is a 400.
#include <string>
#include <string_view>
#include <utility>

#include "api/handlers.h"
#include "api/mime_types.h"
#include "api/mlflow_json.h"
#include "api/mlflow_request.h"
#include "blob/blob.h"
#include "http/http.h"
#include "registry/registry.h"
#include "tracking/tracking.h"

namespace mlforge::api {
namespace {

constexpr std::string_view kMultipartUnsupported =
    "Multipart upload is not supported for the current artifact repository";

std::string_view Basename(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string_view PathParamOrEmpty(const http::Request& request) {
  const std::string* p = request.PathParam("path");
  return p ? std::string_view(*p) : std::string_view();
}

// Streams a store file with MLflow's download headers
// (_response_with_file_attachment_headers).
void SendArtifact(http::Response& response, std::filesystem::path file, std::string_view path) {
  response.status = 200;
  response.body.clear();
  response.body_file = std::move(file);
  response.SetHeader("Content-Type", GuessMimeType(path));
  response.SetHeader("Content-Disposition", AttachmentDisposition(path));
  response.SetHeader("X-Content-Type-Options", "nosniff");
}

// A proxy handler body; runs only when the proxy is enabled.
using ProxyHandler = Status (*)(blob::ArtifactStore&, http::Request&, http::Response&);

Status Download(blob::ArtifactStore& store, http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(std::string path, blob::NormalizeRelativePath(PathParamOrEmpty(request)));
  ASSIGN_OR_RETURN(std::filesystem::path file, store.Resolve(path));
  SendArtifact(response, std::move(file), path);
  return Status::Ok();
}

// Pinned model versions are the registry's: no client may change them.
Status RefuseRegistryWrite(std::string_view path) {
  if (!IsRegistryArtifactPath(path)) return Status::Ok();
  return Status(ErrorCode::kPermissionDenied,
                "Artifacts under '" + std::string(registry::kArtifactPrefix) +
                    "/' are model versions pinned by the model registry and are read-only.");
}

Status Upload(blob::ArtifactStore& store, http::Request& request, http::Response& response) {
  // Any Content-Type: the Python client sends the file's guessed mime type.
  ASSIGN_OR_RETURN(std::string path, blob::NormalizeRelativePath(PathParamOrEmpty(request)));
  RETURN_IF_ERROR(RefuseRegistryWrite(path));
  if (request.body_file.empty()) {
    ASSIGN_OR_RETURN(blob::FileInfo info, store.Put(path, request.body));
    (void)info;
  } else {
    ASSIGN_OR_RETURN(blob::FileInfo info, store.PutFile(path, request.body_file,
                                                        /*consume_source=*/true));
    (void)info;
  }
  response.SetJson(std::string(kEmptyResponse));
  return Status::Ok();
}

Status Delete(blob::ArtifactStore& store, http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(std::string path, blob::NormalizeRelativePath(PathParamOrEmpty(request)));
  RETURN_IF_ERROR(RefuseRegistryWrite(path));
  Status s = store.Delete(path);
  // MLflow's local repository deletes only what exists: a missing path is fine.
  if (!s.ok() && s.code() != ErrorCode::kResourceDoesNotExist) return s;
  response.SetJson(std::string(kEmptyResponse));
  return Status::Ok();
}

Status List(blob::ArtifactStore& store, http::Request& request, http::Response& response) {
  const std::string* raw = request.QueryParam("path");
  std::string dir;
  if (raw) {
    ASSIGN_OR_RETURN(dir, blob::NormalizeRelativePath(*raw, /*allow_empty=*/true));
  }
  ASSIGN_OR_RETURN(std::vector<blob::FileInfo> files, store.List(dir));
  json::Writer w;
  w.StartObject();
  if (!files.empty()) {
    // Basenames only (mlflow-artifacts list); the client joins them itself.
    w.Key("files").StartArray();
    for (const blob::FileInfo& f : files) WriteFileInfo(w, Basename(f.path), f.is_dir, f.size);
    w.EndArray();
  }
  w.EndObject();
  response.SetJson(w.Take());
  return Status::Ok();
}

Status Multipart(blob::ArtifactStore&, http::Request& request, http::Response&) {
  ASSIGN_OR_RETURN(std::string path, blob::NormalizeRelativePath(PathParamOrEmpty(request)));
  (void)path;
  return Status(ErrorCode::kNotImplemented, std::string(kMultipartUnsupported));
}

http::Handler Proxy(const MlflowContext& context, std::string rule, ProxyHandler fn) {
  return [context, rule = std::move(rule), fn](http::Request& request, http::Response& response) {
    if (!context.serve_artifacts || !context.artifacts) {
      // MLflow answers 503 here (its body is plain text; ours keeps the JSON
      // error shape with the same words).
      return SetStatusError(
          response, Unavailable("Endpoint: " + rule +
                                " disabled due to the mlflow server running with "
                                "`--no-serve-artifacts`. To enable artifacts server "
                                "functionality, run `mlflow server` with `--serve-artifacts`"));
    }
    Status s = fn(*context.artifacts, request, response);
    if (!s.ok()) SetStatusError(response, s);
  };
}

// GET /get-artifact?run_id=<id>&path=<run-relative path> (also run_uuid).
Status GetArtifact(const MlflowContext& context, http::Request& request, http::Response& response) {
  RequestMessage m = RequestMessage::FromQuery(request.query_params);
  ASSIGN_OR_RETURN(std::string run_id, m.RequiredRunId());
  ASSIGN_OR_RETURN(std::string raw_path, m.RequiredString("path"));
  ASSIGN_OR_RETURN(std::string path, blob::NormalizeRelativePath(raw_path));
  ASSIGN_OR_RETURN(tracking::Run run, context.tracking->GetRun(run_id));
  if (!context.artifacts) {
    return Status(ErrorCode::kNotImplemented,
                  "Artifact downloads need the artifact store: the server runs with "
                  "--no-serve-artifacts.");
  }
  ASSIGN_OR_RETURN(std::string root, RunArtifactRoot(run.info.artifact_uri));
  ASSIGN_OR_RETURN(std::filesystem::path file,
                   context.artifacts->Resolve(JoinArtifactPath(root, path)));
  SendArtifact(response, std::move(file), path);
  return Status::Ok();
}

}  // namespace

void SendArtifactFile(http::Response& response, std::filesystem::path file, std::string_view path) {
  SendArtifact(response, std::move(file), path);
}

std::string JoinArtifactPath(std::string_view dir, std::string_view path) {
  if (dir.empty()) return std::string(path);
  if (path.empty()) return std::string(dir);
  std::string out(dir);
  out += '/';
  out += path;
  return out;
}

Result<std::string> RunArtifactRoot(std::string_view artifact_uri) {
  constexpr std::string_view kScheme = "mlflow-artifacts:";
  constexpr std::string_view kHttpMarker = "/mlflow-artifacts/artifacts/";
  std::string_view rest;
  if (artifact_uri.starts_with(kScheme)) {
    rest = artifact_uri.substr(kScheme.size());
    if (rest.starts_with("//")) {
      // "mlflow-artifacts://host:port/path": the authority names a server.
      size_t slash = rest.find('/', 2);
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    }
  } else if ((artifact_uri.starts_with("http://") || artifact_uri.starts_with("https://")) &&
             artifact_uri.find(kHttpMarker) != std::string_view::npos) {
    rest = artifact_uri.substr(artifact_uri.find(kHttpMarker) + kHttpMarker.size());
  } else {
    return Err(Status(ErrorCode::kNotImplemented, "The run's artifact location '" +
                                                      std::string(artifact_uri) +
                                                      "' is not stored by this server."));
  }
  while (rest.starts_with('/')) rest.remove_prefix(1);
  auto normalized = blob::NormalizeRelativePath(rest, /*allow_empty=*/true);
  if (!normalized) {
    return Err(Internal("Run artifact location '" + std::string(artifact_uri) +
                        "' is not a valid artifact path: " + normalized.error().message()));
  }
  return std::move(*normalized);
}

void RegisterArtifactRoutes(http::Router& router, const MlflowContext& context) {
  for (std::string_view prefix : {kApiPrefix, kAjaxPrefix}) {
    std::string base = std::string(prefix) + "/mlflow-artifacts";
    std::string files = base + "/artifacts/{path...}";
    router.Add(http::Method::kGet, files, Proxy(context, files, Download));
    router.Add(http::Method::kPut, files, Proxy(context, files, Upload),
               http::BodyMode::kSpoolToFile);
    router.Add(http::Method::kDelete, files, Proxy(context, files, Delete));
    router.Add(http::Method::kGet, base + "/artifacts", Proxy(context, base + "/artifacts", List));
    for (std::string_view op : {"create", "complete", "abort"}) {
      std::string rule = base + "/mpu/" + std::string(op) + "/{path...}";
      router.Add(http::Method::kPost, rule, Proxy(context, rule, Multipart));
    }
  }
  router.Add(http::Method::kGet, "/get-artifact",
             [context](http::Request& request, http::Response& response) {
               Status s = GetArtifact(context, request, response);
               if (!s.ok()) SetStatusError(response, s);
             });
}

}  // namespace mlforge::api

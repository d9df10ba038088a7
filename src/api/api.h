// REST handlers: decode a request, call a subsystem facade, encode the
// response. MLflow's JSON shapes and error codes live here and nowhere else.
#pragma once

#include <string>

namespace mlforge {
namespace http {
class Router;
}
namespace tracking {
class TrackingService;
}
namespace blob {
class ArtifactStore;
}
namespace registry {
class RegistryService;
}
namespace data {
class DatasetService;
}
}  // namespace mlforge

namespace mlforge::api {

struct MlflowContext {
  tracking::TrackingService* tracking = nullptr;  // required
  blob::ArtifactStore* artifacts = nullptr;       // required when serve_artifacts
  bool serve_artifacts = true;
  // Optional: without it the model-registry routes are not served.
  registry::RegistryService* registry = nullptr;
  std::string version;  // reported by /version (an MLflow-compatible version string)
};

// Registers the MLflow tracking REST API under /api/2.0/mlflow/ and
// /ajax-api/2.0/mlflow/, the artifact proxy under /api/2.0/mlflow-artifacts/,
// /get-artifact, /health and /version; with a registry also the model
// registry API (docs/registry.md). The context's services must outlive
// the router's server.
void RegisterMlflowRoutes(http::Router& router, const MlflowContext& context);

struct DatasetContext {
  data::DatasetService* datasets = nullptr;       // required
  tracking::TrackingService* tracking = nullptr;  // for "runs that used a version"; may be null
};

// Registers the datasets API under /api/2.0/mlforge/datasets/ (docs/data.md).
// The context's services must outlive the router's server.
void RegisterDatasetRoutes(http::Router& router, const DatasetContext& context);

struct LineageContext {
  tracking::TrackingService* tracking = nullptr;  // required
  registry::RegistryService* registry = nullptr;  // required
  data::DatasetService* datasets = nullptr;       // optional: no dataset versions without it
};

// Registers the lineage API under /api/2.0/mlforge/lineage/ (docs/lineage.md):
// model version -> run -> dataset versions -> files, and the reverse. The
// context's services must outlive the router's server.
void RegisterLineageRoutes(http::Router& router, const LineageContext& context);

}  // namespace mlforge::api

// REST handlers: decode a request, call a subsystem facade, encode the
// response. MLflow's JSON shapes and error codes live here and nowhere else.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
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
namespace serving {
class DeploymentStore;
class ServingEngine;
}  // namespace serving
namespace metrics {
class Registry;
}
namespace monitor {
class AlertManager;
class LiveMonitor;
class MonitorStore;
}  // namespace monitor
}  // namespace mlforge

namespace mlforge::api {

struct MlflowContext {
  tracking::TrackingService* tracking = nullptr;  // required
  blob::ArtifactStore* artifacts = nullptr;       // required when serve_artifacts
  bool serve_artifacts = true;
  // Optional: without it the model-registry routes are not served.
  registry::RegistryService* registry = nullptr;
  std::string version;  // reported by /version (an MLflow-compatible version string)
  // Called after a registry change that may move what an alias, stage or
  // model name resolves to (app/ nudges serving with it). Must not block.
  std::function<void()> on_versions_moved;
  // Called after a model version is registered (app/ has monitoring compute
  // its reference profile). Must not block.
  std::function<void(const std::string& model, int64_t version)> on_version_created;
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

struct ServingContext {
  // The deployments API needs the store; inference needs the engine. When
  // both are set, a change made through the API is applied before the call
  // returns (ServingEngine::Refresh).
  serving::DeploymentStore* deployments = nullptr;
  serving::ServingEngine* engine = nullptr;
  std::string version;  // mlforge's version, for /v2 and /version
};

// The deployments API under /api/2.0/mlforge/deployments/ (docs/serving.md):
// create, get, list, update, delete, events, rollback, shadow.
void RegisterDeploymentRoutes(http::Router& router, const ServingContext& context);

// Inference for every deployment the engine serves: Open Inference Protocol
// v2 under /v2/ (the OIP model name is the deployment name) and MLflow's
// scoring protocol at /deployments/{name}/invocations.
void RegisterInferenceRoutes(http::Router& router, const ServingContext& context);

// MLflow's scoring server for one deployment (`mlforge serve`):
// /invocations, /ping, /health, /version.
void RegisterScoringServerRoutes(http::Router& router, const ServingContext& context,
                                 std::string deployment);

struct MonitorContext {
  monitor::LiveMonitor* monitor = nullptr;  // required
  monitor::MonitorStore* store = nullptr;   // required
};

// Live monitoring (docs/monitoring.md): /api/2.0/mlforge/monitors/{create,
// get, list, update, delete, close-window, results, report} and ingestion at
// /api/2.0/mlforge/monitoring/{predictions, labels}.
void RegisterMonitorRoutes(http::Router& router, const MonitorContext& context);

struct AlertContext {
  monitor::AlertManager* alerts = nullptr;  // required; must outlive the server
};

// The alerts API under /api/2.0/mlforge/alerts/ (docs/monitoring.md): rules
// create/get/list/update/delete, alerts list, deliveries.
void RegisterAlertRoutes(http::Router& router, const AlertContext& context);

struct UiContext {
  // The built web UI (index.html + assets/). May be absent: then the UI's
  // paths answer a short plain-text page saying it was not built.
  std::filesystem::path dir;
};

// The web UI as the router's fallback (docs/ui.md): static files from
// context.dir with cache headers, index.html for every other GET that is not
// a server path (deep links). Call at most once per router.
void RegisterUiRoutes(http::Router& router, const UiContext& context);

// GET /metrics: the registry in Prometheus text format 0.0.4.
void RegisterMetricsRoute(http::Router& router, metrics::Registry& registry);

}  // namespace mlforge::api

#include "app/server_command.h"

#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "api/api.h"
#include "app/model_source_adapter.h"
#include "app/monitor_adapters.h"
#include "base/clock.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/metrics.h"
#include "blob/blob.h"
#include "data/data.h"
#include "http/http.h"
#include "monitor/monitor.h"
#include "registry/registry.h"
#include "serving/serving.h"
#include "sql/sql.h"
#include "tracking/tracking.h"

namespace mlforge::app {
namespace {

int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "mlforge: %s: %s\n", what.c_str(), s.ToString().c_str());
  return 1;
}

}  // namespace

std::string DefaultBackendUri(const std::string& data_dir) {
  std::filesystem::path db = std::filesystem::absolute(std::filesystem::path(data_dir) / "mlforge.db");
  return "sqlite:///" + db.lexically_normal().string();
}

void WritePortFile(const std::string& path, uint16_t port) {
  // Written whole then renamed, so a reader never sees a partial number.
  std::string tmp = path + ".tmp";
  std::ofstream(tmp) << port << "\n";
  std::filesystem::rename(tmp, path);
}

// glibc returns freed memory at the top of a thread's heap to the kernel
// (madvise) once it exceeds the trim threshold, and the next request faults
// it back in zeroed: a syscall and page faults per request on the hot path.
// A server's working set is steady, so keep up to 64 MiB per heap.
void KeepFreedMemoryForReuse() {
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // fixed, so the trim threshold stays put
}

std::string DefaultUiDir() {
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "ui/dist";
  return (exe.parent_path().parent_path() / "ui" / "dist").string();
}

int RunServer(const ServerConfig& config) {
  KeepFreedMemoryForReuse();
  std::string uri =
      config.backend_store_uri.empty() ? DefaultBackendUri(config.data_dir) : config.backend_store_uri;
  std::filesystem::path artifacts_dir = config.artifacts_destination.empty()
                                            ? std::filesystem::path(config.data_dir) / "artifacts"
                                            : std::filesystem::path(config.artifacts_destination);
  int threads = config.workers > 0 ? config.workers
                                   : static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));

  sql::DatabaseOptions db_options;
  db_options.pool_size = std::max(4, threads);
  auto db = sql::Database::Open(uri, db_options);
  if (!db) return Fail("cannot open backend store " + sql::RedactUri(uri), db.error());

  std::unique_ptr<IdGenerator> ids = MakeRandomIdGenerator();
  auto tracking = tracking::TrackingService::Open(**db, SystemClock::Get(), *ids);
  if (!tracking) return Fail("cannot initialise tracking", tracking.error());

  std::unique_ptr<blob::ArtifactStore> artifacts;
  if (config.serve_artifacts) {
    auto opened = blob::ArtifactStore::Open(artifacts_dir);
    if (!opened) return Fail("cannot open artifact store " + artifacts_dir.string(), opened.error());
    artifacts = std::move(*opened);
  }
  auto registry =
      registry::RegistryService::Open(**db, SystemClock::Get(), **tracking, artifacts.get());
  if (!registry) return Fail("cannot initialise the model registry", registry.error());

  // Datasets keep their objects in the artifact store's blob store, so one
  // collector sees both kinds of reference (docs/data.md).
  if (!artifacts) {
    auto opened = blob::ArtifactStore::Open(artifacts_dir);
    if (!opened) return Fail("cannot open artifact store " + artifacts_dir.string(), opened.error());
    artifacts = std::move(*opened);
  }
  auto datasets = data::DatasetService::Open(**db, artifacts->blobs(), SystemClock::Get());
  if (!datasets) return Fail("cannot initialise datasets", datasets.error());

  // Serving: every stored deployment is loaded before the port opens.
  metrics::Registry metrics;
  auto process_metrics = metrics::AddProcessMetrics(metrics);
  auto deployments = serving::DeploymentStore::Open(**db, SystemClock::Get());
  if (!deployments) return Fail("cannot initialise deployments", deployments.error());
  RegistryModelSource model_source(**registry, *artifacts);
  // Alert rules and webhooks; live monitors report windows to it (Observe).
  auto alerts = monitor::AlertManager::Open(**db, SystemClock::Get(), *ids);
  if (!alerts) return Fail("cannot initialise alerts", alerts.error());

  // Live monitoring: serving hands every request to the monitors' capture
  // queue (docs/monitoring.md).
  auto monitor_store = monitor::MonitorStore::Open(**db, SystemClock::Get());
  if (!monitor_store) return Fail("cannot initialise monitoring", monitor_store.error());
  TrainingDataReferences reference_source(**registry, **tracking, **datasets);
  monitor::LiveMonitorOptions monitor_options;
  monitor_options.raw_log_dir = std::filesystem::path(config.data_dir) / "monitoring" / "raw";
  monitor_options.prediction_retention = std::chrono::hours(24) * config.prediction_retention_days;
  monitor_options.references = &reference_source;
  monitor_options.observer = alerts->get();
  auto live_monitor =
      monitor::LiveMonitor::Start(**monitor_store, SystemClock::Get(), monitor_options);
  if (!live_monitor) return Fail("cannot start monitoring", live_monitor.error());
  MonitorPredictionSink prediction_sink(**live_monitor);
  // Capture never blocks serving: a full queue drops. These say whether it did.
  const monitor::LiveMonitor* capture_stats = live_monitor->get();
  std::vector<std::unique_ptr<metrics::Registry::Registration>> capture_metrics;
  capture_metrics.push_back(metrics.AddGaugeCallback(
      "mlforge_monitor_captured_requests", "Requests queued for live monitoring since start", {},
      [capture_stats] { return static_cast<double>(capture_stats->Stats().captured); }));
  capture_metrics.push_back(metrics.AddGaugeCallback(
      "mlforge_monitor_dropped_requests",
      "Requests live monitoring dropped since start because its queue was full", {},
      [capture_stats] { return static_cast<double>(capture_stats->Stats().dropped); }));
  capture_metrics.push_back(metrics.AddGaugeCallback(
      "mlforge_monitor_capture_backlog", "Captured requests not yet processed", {},
      [capture_stats] {
        const monitor::CaptureStats s = capture_stats->Stats();
        return static_cast<double>(s.captured - std::min(s.captured, s.processed));
      }));
  serving::EngineOptions engine_options;
  engine_options.sink = &prediction_sink;
  engine_options.poll_interval = std::chrono::milliseconds(config.serving_poll_ms);
  auto engine = serving::ServingEngine::Start(**deployments, model_source, metrics, engine_options);
  if (!engine) return Fail("cannot start model serving", engine.error());

  http::Router router;
  api::MlflowContext context;
  context.tracking = tracking->get();
  context.artifacts = artifacts.get();
  context.serve_artifacts = config.serve_artifacts;
  context.registry = registry->get();
  context.version = kMlflowCompatibleVersion;
  // An alias move reaches serving now, not at the next poll.
  context.on_versions_moved = [e = engine->get()] { e->Refresh(std::chrono::milliseconds(0)); };
  // A registered version gets its reference profile from its training data.
  context.on_version_created = [m = live_monitor->get()](const std::string& model,
                                                         int64_t version) {
    m->PrepareReference(model, version);
  };
  api::RegisterMlflowRoutes(router, context);
  api::RegisterDatasetRoutes(router, api::DatasetContext{.datasets = datasets->get(),
                                                         .tracking = tracking->get()});
  api::RegisterLineageRoutes(router, api::LineageContext{.tracking = tracking->get(),
                                                         .registry = registry->get(),
                                                         .datasets = datasets->get()});
  api::ServingContext serving_context{.deployments = deployments->get(),
                                      .engine = engine->get(),
                                      .version = kMlflowCompatibleVersion};
  api::RegisterDeploymentRoutes(router, serving_context);
  api::RegisterInferenceRoutes(router, serving_context);
  api::RegisterMonitorRoutes(router, api::MonitorContext{.monitor = live_monitor->get(),
                                                         .store = monitor_store->get()});
  api::RegisterMetricsRoute(router, metrics);
  api::RegisterAlertRoutes(router, api::AlertContext{.alerts = alerts->get()});
  std::string ui_dir = config.ui_dir.empty() ? DefaultUiDir() : config.ui_dir;
  api::RegisterUiRoutes(router, api::UiContext{.dir = ui_dir});

  http::ServerOptions options;
  options.host = config.host;
  options.port = config.port;
  options.threads = threads;
  options.access_log = config.access_log;
  options.cors_allowed_origins = config.cors_allowed_origins;
  options.max_body_bytes = config.max_body_mb << 20;
  options.spool_dir = artifacts_dir / "tmp";
  auto server = http::Server::Start(options, std::move(router));
  if (!server) {
    (*engine)->Shutdown();
    return Fail("cannot listen on " + config.host + ":" + std::to_string(config.port),
                server.error());
  }
  // Signals are handled before anyone can learn the port (the port file): a
  // SIGTERM sent right after start must still stop the server gracefully.
  http::StopOnSignals(**server);
  uint16_t port = (*server)->port();
  if (!config.port_file.empty()) WritePortFile(config.port_file, port);
  log::Info("mlforge listening on http://{}:{} (backend {}, {} worker threads)", config.host, port,
            sql::RedactUri(uri), threads);
  if (std::error_code ec; !std::filesystem::is_regular_file(std::filesystem::path(ui_dir) / "index.html", ec)) {
    log::Warn("web UI not found in {} (build it, or pass --ui-dir); / says so", ui_dir);
  }
  (*server)->Wait();
  // Queued inference requests hold their connections: finish them while the
  // HTTP server object still exists.
  (*engine)->Shutdown();
  (*live_monitor)->Shutdown();  // its last windows still reach the alerts
  (*alerts)->Shutdown();
  log::Info("mlforge stopped");
  return 0;
}

int RunDbUpgrade(const std::string& backend_store_uri) {
  auto db = sql::Database::Open(backend_store_uri);
  if (!db) return Fail("cannot open backend store " + sql::RedactUri(backend_store_uri), db.error());
  std::unique_ptr<IdGenerator> ids = MakeRandomIdGenerator();
  // Opening the tracking service applies its migrations.
  auto tracking = tracking::TrackingService::Open(**db, SystemClock::Get(), *ids);
  if (!tracking) return Fail("migration failed", tracking.error());
  auto version = (*db)->SchemaVersion("tracking");
  std::printf("tracking schema at version %d\n", version ? *version : -1);
  auto registry = registry::RegistryService::Open(**db, SystemClock::Get(), **tracking, nullptr);
  if (!registry) return Fail("migration failed", registry.error());
  auto registry_version = (*db)->SchemaVersion("registry");
  std::printf("registry schema at version %d\n", registry_version ? *registry_version : -1);
  if (Status s = data::ApplyDataMigrations(**db); !s.ok()) return Fail("migration failed", s);
  auto data_version = (*db)->SchemaVersion("data");
  std::printf("data schema at version %d\n", data_version ? *data_version : -1);
  if (Status s = serving::ApplyServingMigrations(**db); !s.ok()) return Fail("migration failed", s);
  auto serving_version = (*db)->SchemaVersion("serving");
  std::printf("serving schema at version %d\n", serving_version ? *serving_version : -1);
  if (Status s = monitor::ApplyMonitorMigrations(**db); !s.ok()) return Fail("migration failed", s);
  auto monitor_version = (*db)->SchemaVersion("monitor");
  std::printf("monitor schema at version %d\n", monitor_version ? *monitor_version : -1);
  if (Status s = monitor::ApplyAlertMigrations(**db); !s.ok()) return Fail("migration failed", s);
  auto alerts_version = (*db)->SchemaVersion("alerts");
  std::printf("alerts schema at version %d\n", alerts_version ? *alerts_version : -1);
  return 0;
}

}  // namespace mlforge::app

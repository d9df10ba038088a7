#include "app/serve_command.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "api/api.h"
#include "app/model_source_adapter.h"
#include "app/server_command.h"
#include "base/clock.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/metrics.h"
#include "blob/blob.h"
#include "http/http.h"
#include "registry/registry.h"
#include "serving/serving.h"
#include "sql/sql.h"
#include "tracking/tracking.h"

namespace mlforge::app {
namespace {

struct ServeArgs {
  CLI::App* command = nullptr;
  std::string deployment;
  std::string host = "127.0.0.1";
  uint16_t port = 5001;
  std::string data_dir = "./mlforge-data";
  std::string backend_store_uri;
  std::string artifacts_destination;
  int workers = 0;
  int poll_ms = 1000;
  bool access_log = false;
  uint64_t max_body_mb = 64;
  std::string port_file;
};

ServeArgs& Args() {
  static ServeArgs args;
  return args;
}

int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "mlforge serve: %s: %s\n", what.c_str(), s.ToString().c_str());
  return 1;
}

int Run() {
  const ServeArgs& a = Args();
  KeepFreedMemoryForReuse();
  const std::string uri =
      a.backend_store_uri.empty() ? DefaultBackendUri(a.data_dir) : a.backend_store_uri;
  const std::filesystem::path artifacts_dir = a.artifacts_destination.empty()
                                                  ? std::filesystem::path(a.data_dir) / "artifacts"
                                                  : std::filesystem::path(a.artifacts_destination);
  const int threads = a.workers > 0
                          ? a.workers
                          : static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));

  // The database is only read by the manager thread: a small pool does.
  sql::DatabaseOptions db_options;
  db_options.pool_size = 2;
  auto db = sql::Database::Open(uri, db_options);
  if (!db) return Fail("cannot open backend store " + sql::RedactUri(uri), db.error());
  std::unique_ptr<IdGenerator> ids = MakeRandomIdGenerator();
  auto tracking = tracking::TrackingService::Open(**db, SystemClock::Get(), *ids);
  if (!tracking) return Fail("cannot open the tracking store", tracking.error());
  auto artifacts = blob::ArtifactStore::Open(artifacts_dir);
  if (!artifacts)
    return Fail("cannot open artifact store " + artifacts_dir.string(), artifacts.error());
  auto registry =
      registry::RegistryService::Open(**db, SystemClock::Get(), **tracking, artifacts->get());
  if (!registry) return Fail("cannot open the model registry", registry.error());
  auto deployments = serving::DeploymentStore::Open(**db, SystemClock::Get());
  if (!deployments) return Fail("cannot open deployments", deployments.error());
  if (auto d = (*deployments)->Get(a.deployment); !d) {
    return Fail("cannot serve deployment '" + a.deployment + "'", d.error());
  }

  metrics::Registry metrics;
  auto process_metrics = metrics::AddProcessMetrics(metrics);
  RegistryModelSource model_source(**registry, **artifacts);
  serving::EngineOptions engine_options;
  engine_options.poll_interval = std::chrono::milliseconds(a.poll_ms);
  engine_options.only_deployment = a.deployment;
  auto engine = serving::ServingEngine::Start(**deployments, model_source, metrics, engine_options);
  if (!engine) return Fail("cannot start model serving", engine.error());

  http::Router router;
  // No deployments API: a replica only reads; changes go through `mlforge server`.
  api::ServingContext context{
      .deployments = nullptr, .engine = engine->get(), .version = kMlflowCompatibleVersion};
  api::RegisterScoringServerRoutes(router, context, a.deployment);
  api::RegisterInferenceRoutes(router, context);
  api::RegisterMetricsRoute(router, metrics);

  http::ServerOptions options;
  options.host = a.host;
  options.port = a.port;
  options.threads = threads;
  options.access_log = a.access_log;
  options.max_body_bytes = a.max_body_mb << 20;
  auto server = http::Server::Start(options, std::move(router));
  if (!server) {
    (*engine)->Shutdown();
    return Fail("cannot listen on " + a.host + ":" + std::to_string(a.port), server.error());
  }
  http::StopOnSignals(**server);
  const uint16_t port = (*server)->port();
  if (!a.port_file.empty()) WritePortFile(a.port_file, port);
  log::Info("mlforge serve: deployment '{}' on http://{}:{} (backend {}, {} worker threads)",
            a.deployment, a.host, port, sql::RedactUri(uri), threads);
  (*server)->Wait();
  (*engine)->Shutdown();
  log::Info("mlforge serve stopped");
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app) {
  ServeArgs& a = Args();
  a.command = app.add_subcommand(
      "serve", "Serve one deployment (a serving-only replica of `mlforge server`'s stores)");
  a.command->add_option("--deployment,-d", a.deployment, "Deployment to serve")->required();
  a.command->add_option("--host", a.host, "Address to listen on")->capture_default_str();
  a.command->add_option("--port,-p", a.port, "Port to listen on (0 picks a free one)")
      ->capture_default_str();
  a.command->add_option("--data-dir", a.data_dir, "The server's data folder (embedded default)")
      ->capture_default_str();
  a.command->add_option("--backend-store-uri", a.backend_store_uri,
                        "sqlite:///path.db or postgresql://user:pass@host:port/db");
  a.command->add_option("--artifacts-destination", a.artifacts_destination,
                        "Folder of the artifact store (default: DATA_DIR/artifacts)");
  a.command->add_option("--workers,-w", a.workers, "HTTP worker threads (default: cores, min 2)");
  a.command
      ->add_option("--poll-ms", a.poll_ms,
                   "How often the deployment and its aliases are re-read, ms")
      ->capture_default_str()
      ->check(CLI::Range(10, 3'600'000));
  a.command->add_flag("--access-log", a.access_log, "Log every request");
  a.command->add_option("--max-body-mb", a.max_body_mb, "Largest request body, MiB")
      ->capture_default_str();
  a.command->add_option("--port-file", a.port_file,
                        "Write the bound port to this file once listening");
}

bool RunServeCommand(int* exit_code) {
  if (Args().command == nullptr || !Args().command->parsed()) return false;
  *exit_code = Run();
  return true;
}

}  // namespace mlforge::app

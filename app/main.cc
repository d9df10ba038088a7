// mlforge: one binary, several roles (see docs/architecture.md).
#include <CLI/CLI.hpp>

#include <cstdio>

#include "app/data_command.h"
#include "app/demo_command.h"
#include "app/deployments_command.h"
#include "app/drift_command.h"
#include "app/lineage_command.h"
#include "app/predict_command.h"
#include "app/serve_command.h"
#include "app/server_command.h"
#include "app/train_command.h"

int main(int argc, char** argv) {
  CLI::App app{"mlforge: the ML lifecycle in one fast program"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "mlforge 0.1.0");

  mlforge::app::ServerConfig server;
  CLI::App* server_cmd = app.add_subcommand("server", "Run the server (REST API, artifacts, model serving)");
  server_cmd->add_option("--host", server.host, "Address to listen on")->capture_default_str();
  server_cmd->add_option("--port,-p", server.port, "Port to listen on (0 picks a free one)")
      ->capture_default_str();
  server_cmd->add_option("--data-dir", server.data_dir,
                         "Folder for the embedded default: SQLite file + artifact blobs")
      ->capture_default_str();
  server_cmd->add_option("--backend-store-uri", server.backend_store_uri,
                         "sqlite:///path.db or postgresql://user:pass@host:port/db");
  server_cmd->add_option("--artifacts-destination", server.artifacts_destination,
                         "Folder of the artifact store (default: DATA_DIR/artifacts)");
  server_cmd->add_flag("--serve-artifacts,!--no-serve-artifacts", server.serve_artifacts,
                       "Proxy artifact uploads and downloads (default on)");
  server_cmd->add_option("--workers,-w", server.workers, "HTTP worker threads (default: cores, min 2)");
  server_cmd->add_flag("--access-log", server.access_log, "Log every request");
  server_cmd->add_option("--cors-allowed-origins", server.cors_allowed_origins,
                         "Enable CORS for these origins ('*' or a comma-separated list)");
  server_cmd->add_option("--max-body-mb", server.max_body_mb, "Largest JSON request body, MiB")
      ->capture_default_str();
  server_cmd->add_option("--port-file", server.port_file,
                         "Write the bound port to this file once listening");
  server_cmd->add_option("--serving-poll-ms", server.serving_poll_ms,
                         "How often deployments and model aliases are re-read, ms")
      ->capture_default_str()
      ->check(CLI::Range(10, 3'600'000));
  server_cmd->add_option("--prediction-retention-days", server.prediction_retention_days,
                         "How long monitored deployments' predictions wait for their labels, days")
      ->capture_default_str()
      ->check(CLI::Range(1, 3650));
  server_cmd->add_option("--ui-dir", server.ui_dir,
                         "Folder of the built web UI (default: ui/dist of the build the binary is in)");

  std::string upgrade_uri;
  std::string upgrade_data_dir = "./mlforge-data";
  CLI::App* db_cmd = app.add_subcommand("db", "Database maintenance");
  db_cmd->require_subcommand(1);
  CLI::App* upgrade_cmd = db_cmd->add_subcommand("upgrade", "Apply pending schema migrations");
  upgrade_cmd->add_option("url,--backend-store-uri", upgrade_uri, "Database URI");
  upgrade_cmd->add_option("--data-dir", upgrade_data_dir, "Embedded default's folder");

  mlforge::app::AddDataCommand(app);
  mlforge::app::AddLineageCommand(app);
  mlforge::app::AddPredictCommand(app);
  mlforge::app::AddServeCommand(app);
  mlforge::app::AddDeploymentsCommand(app);
  mlforge::app::AddTrainCommand(app);
  mlforge::app::AddDriftCommand(app);
  mlforge::app::AddDemoCommand(app);

  CLI11_PARSE(app, argc, argv);

  if (int code = 0; mlforge::app::RunDataCommand(&code)) return code;
  if (int code = 0; mlforge::app::RunLineageCommand(&code)) return code;
  if (int code = 0; mlforge::app::RunPredictCommand(&code)) return code;
  if (int code = 0; mlforge::app::RunServeCommand(&code)) return code;
  if (int code = 0; mlforge::app::RunDeploymentsCommand(&code)) return code;
  if (int code = 0; mlforge::app::RunTrainCommand(&code)) return code;
  if (int code = 0; mlforge::app::RunDriftCommand(&code)) return code;
  if (int code = 0; mlforge::app::RunDemoCommand(&code)) return code;

  if (server_cmd->parsed()) return mlforge::app::RunServer(server);
  if (upgrade_cmd->parsed()) {
    if (upgrade_uri.empty()) upgrade_uri = mlforge::app::DefaultBackendUri(upgrade_data_dir);
    return mlforge::app::RunDbUpgrade(upgrade_uri);
  }
  return 0;
}

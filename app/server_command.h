// `mlforge server` and `mlforge db upgrade`: configuration and wiring only.
#pragma once

#include <cstdint>
#include <string>

namespace mlforge::app {

struct ServerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 5000;
  std::string data_dir = "./mlforge-data";
  std::string backend_store_uri;      // default: sqlite under data_dir
  std::string artifacts_destination;  // default: data_dir/artifacts
  bool serve_artifacts = true;
  int workers = 0;  // HTTP worker threads; 0 = a sensible default
  bool access_log = false;
  std::string cors_allowed_origins;
  uint64_t max_body_mb = 64;
  std::string port_file;  // written once listening (tests pick port 0)
  int serving_poll_ms = 1000;  // how often deployments and aliases are re-read
  int prediction_retention_days = 7;  // captured predictions kept for the label join
  std::string ui_dir;          // the built web UI; default: DefaultUiDir()
};

// Runs until SIGINT/SIGTERM. Returns the process exit code.
int RunServer(const ServerConfig& config);

// Applies pending schema migrations and exits. Returns the process exit code.
int RunDbUpgrade(const std::string& backend_store_uri);

// Resolves the defaults that depend on data_dir.
std::string DefaultBackendUri(const std::string& data_dir);

// glibc malloc tuning for a long-running server (see server_command.cc).
void KeepFreedMemoryForReuse();

// Writes the bound port for whoever started us (tests pick port 0).
void WritePortFile(const std::string& path, uint16_t port);

// Where the build puts the web UI, found from the binary's own path
// (<build>/app/mlforge -> <build>/ui/dist), so `make run` serves it.
std::string DefaultUiDir();

// The version string /version reports.
inline constexpr char kMlflowCompatibleVersion[] = "2.12.1+mlforge.0.1.0";

}  // namespace mlforge::app

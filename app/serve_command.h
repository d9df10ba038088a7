// `mlforge serve --deployment NAME`: a serving-only replica. It reads the
// deployment and its models from the same metadata store and artifact store
// as `mlforge server`, and serves MLflow's scoring protocol (/invocations,
// /ping, /health, /version), Open Inference Protocol v2 and /metrics.
#pragma once

namespace CLI {
class App;
}

namespace mlforge::app {

// Adds the `serve` subcommand to app. Call RunServeCommand after parsing.
void AddServeCommand(CLI::App& app);
// If `serve` was parsed, runs it until SIGINT/SIGTERM and stores its exit
// code in *exit_code; returns false otherwise.
bool RunServeCommand(int* exit_code);

}  // namespace mlforge::app

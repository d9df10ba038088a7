// `mlforge drift`: an offline drift and data-quality report of a current CSV
// against a reference CSV (src/monitor, docs/monitoring.md).
#pragma once

namespace CLI {
class App;
}

namespace mlforge::app {

// Adds the `drift` subcommand to app. Call RunDriftCommand after parsing.
void AddDriftCommand(CLI::App& app);
// If `drift` was parsed, runs it and stores its exit code in *exit_code;
// returns false otherwise.
bool RunDriftCommand(int* exit_code);

}  // namespace mlforge::app

// `mlforge predict`: batch prediction of a CSV or JSON Lines file with a
// model package or a registered model version (docs/serving.md).
#pragma once

namespace CLI {
class App;
}

namespace mlforge::app {

// Adds the `predict` subcommand to app. Call RunPredictCommand after parsing.
void AddPredictCommand(CLI::App& app);
// If `predict` was parsed, runs it and stores its exit code in *exit_code;
// returns false otherwise.
bool RunPredictCommand(int* exit_code);

}  // namespace mlforge::app

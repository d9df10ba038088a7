// `mlforge train`: built-in training recorded on a tracking server
// (docs/training.md).
#pragma once

namespace CLI {
class App;
}

namespace mlforge::app {

// Adds the `train` subcommand to app. Call RunTrainCommand after parsing.
void AddTrainCommand(CLI::App& app);
// If `train` was parsed, runs it and stores its exit code in *exit_code;
// returns false otherwise.
bool RunTrainCommand(int* exit_code);

}  // namespace mlforge::app

// `mlforge data ...`: data versioning verbs (docs/data.md).
#pragma once

namespace CLI {
class App;
}

namespace mlforge::app {

// Adds the `data` subcommand tree to app. Call RunDataCommand after parsing.
void AddDataCommand(CLI::App& app);
// If a `data` subcommand was parsed, runs it and stores its exit code in
// *exit_code; returns false otherwise.
bool RunDataCommand(int* exit_code);

}  // namespace mlforge::app

// `mlforge lineage`: model version -> run -> dataset versions -> files, and
// the reverse, from a server's lineage API.
#pragma once

namespace CLI {
class App;
}

namespace mlforge::app {

// Adds the `lineage` subcommand to app. Call RunLineageCommand after parsing.
void AddLineageCommand(CLI::App& app);
// If `lineage` was parsed, runs it and stores its exit code in *exit_code;
// returns false otherwise.
bool RunLineageCommand(int* exit_code);

}  // namespace mlforge::app

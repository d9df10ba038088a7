// `mlforge demo`: fills a running server with a small, realistic project
// through its REST API, so every page of the UI has content (docs/demo.md).
#pragma once

namespace CLI {
class App;
}

namespace mlforge::app {

// Adds the `demo` subcommand to app. Call RunDemoCommand after parsing.
void AddDemoCommand(CLI::App& app);
// If `demo` was parsed, runs it and stores its exit code in *exit_code;
// returns false otherwise.
bool RunDemoCommand(int* exit_code);

}  // namespace mlforge::app

// `mlforge deployments create|get|list|set-routes|rollback|delete|events`:
// the deployments API of a server, from the command line (docs/serving.md).
#pragma once

namespace CLI {
class App;
}

namespace mlforge::app {

// Adds the `deployments` subcommand tree to app. Call
// RunDeploymentsCommand after parsing.
void AddDeploymentsCommand(CLI::App& app);
// If a `deployments` verb was parsed, runs it and stores its exit code in
// *exit_code; returns false otherwise.
bool RunDeploymentsCommand(int* exit_code);

}  // namespace mlforge::app

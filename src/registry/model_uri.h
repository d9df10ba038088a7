// Parsing of the URIs the registry accepts: models:/ references and model
// version sources. Private to the registry. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace mlforge::registry {

// models:/<name>/<version>, models:/<name>/<stage>, models:/<name>/latest,
// models:/<name>@<alias> (MLflow's _parse_model_uri). Exactly one of
// version, stage, alias is set, or none for "latest".
struct ModelsUri {
  std::string name;
  std::optional<int64_t> version;
  std::string stage;  // as written; canonicalized by the caller
  std::string alias;
};

Result<ModelsUri> ParseModelsUri(std::string_view uri);

// Where a new version's files come from, as a path in this server's artifact store.
struct VersionSource {
  enum class Kind { kRun, kArtifacts, kModel };
  Kind kind = Kind::kArtifacts;
  std::string run_id;  // kRun
  std::string path;    // kRun: below the run's artifact root (may be empty); kArtifacts: store path
  ModelsUri model;     // kModel
};

// runs:/<run_id>/<path>, mlflow-artifacts:[//host[:port]]/<path>, models:/...
// Anything else (local paths, file:, http(s):, s3: ...) and any path that
// could leave the artifact root is kInvalidParameterValue: the registry
// reads only what this server stores.
Result<VersionSource> ParseVersionSource(std::string_view source);

// The store path inside an mlflow-artifacts: URI (a run's artifact_uri).
Result<std::string> ArtifactsUriPath(std::string_view uri, bool allow_empty);

}  // namespace mlforge::registry

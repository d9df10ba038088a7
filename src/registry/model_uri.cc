#include "registry/model_uri.h"

#include <charconv>

#include "blob/blob.h"

namespace mlforge::registry {
namespace {

constexpr std::string_view kModelsScheme = "models:";
constexpr std::string_view kRunsScheme = "runs:";
constexpr std::string_view kArtifactsScheme = "mlflow-artifacts:";
constexpr size_t kMaxEchoed = 300;

std::string Clip(std::string_view s) {
  return s.size() <= kMaxEchoed ? std::string(s) : std::string(s.substr(0, kMaxEchoed)) + "...";
}

Status ImproperModelsUri(std::string_view uri) {
  return InvalidArgument("Not a proper models:/ URI: " + Clip(uri) +
                         ". Models URIs must be of the form 'models:/model_name/suffix' or "
                         "'models:/model_name@alias' where suffix is a model version, stage, or "
                         "the string 'latest' and where alias is a registered model alias. Only "
                         "one of suffix or alias can be defined at a time.");
}

Status InvalidSource(std::string_view source, std::string_view why) {
  return InvalidArgument("Invalid model version source: '" + Clip(source) + "'. " +
                         std::string(why));
}

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

Result<ModelsUri> ParseModelsUri(std::string_view uri) {
  if (!StartsWithIgnoreCase(uri, kModelsScheme)) return Err(ImproperModelsUri(uri));
  std::string_view path = uri.substr(kModelsScheme.size());
  // "models://x/..." puts x in the authority, which MLflow reads as no name.
  if (!path.starts_with('/') || path.starts_with("//") || path.size() <= 1) {
    return Err(ImproperModelsUri(uri));
  }
  path.remove_prefix(1);
  ModelsUri out;
  size_t slash = path.find('/');
  if (slash != std::string_view::npos) {
    std::string_view name = path.substr(0, slash);
    std::string_view suffix = path.substr(slash + 1);
    if (IsBlank(name) || IsBlank(suffix) || suffix.find('/') != std::string_view::npos) {
      return Err(ImproperModelsUri(uri));
    }
    out.name = std::string(name);
    if (AllDigits(suffix)) {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(suffix.data(), suffix.data() + suffix.size(), v);
      if (ec != std::errc()) return Err(ImproperModelsUri(uri));
      out.version = v;
    } else if (suffix.size() == 6 && StartsWithIgnoreCase(suffix, "latest")) {
      // latest: nothing set
    } else {
      out.stage = std::string(suffix);
    }
    return out;
  }
  size_t at = path.rfind('@');
  if (at == std::string_view::npos || IsBlank(path.substr(0, at)) || IsBlank(path.substr(at + 1))) {
    return Err(ImproperModelsUri(uri));
  }
  out.name = std::string(path.substr(0, at));
  out.alias = std::string(path.substr(at + 1));
  return out;
}

Result<std::string> ArtifactsUriPath(std::string_view uri, bool allow_empty) {
  if (!StartsWithIgnoreCase(uri, kArtifactsScheme)) {
    return Err(InvalidArgument("'" + Clip(uri) + "' is not an mlflow-artifacts: URI"));
  }
  std::string_view rest = uri.substr(kArtifactsScheme.size());
  if (rest.starts_with("//")) {
    // "mlflow-artifacts://host:port/path": the authority names a server.
    size_t slash = rest.find('/', 2);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  while (rest.starts_with('/')) rest.remove_prefix(1);
  return blob::NormalizeRelativePath(rest, allow_empty);
}

Result<VersionSource> ParseVersionSource(std::string_view source) {
  VersionSource out;
  if (StartsWithIgnoreCase(source, kModelsScheme)) {
    out.kind = VersionSource::Kind::kModel;
    ASSIGN_OR_RETURN(out.model, ParseModelsUri(source));
    return out;
  }
  if (StartsWithIgnoreCase(source, kRunsScheme)) {
    // runs:/<run_id>[/<path>] (MLflow's RunsArtifactRepository.parse_runs_uri).
    std::string_view rest = source.substr(kRunsScheme.size());
    if (!rest.starts_with('/') || rest.starts_with("//")) {
      return Err(InvalidSource(source, "A runs: URI must look like runs:/<run_id>/<path>."));
    }
    rest.remove_prefix(1);
    size_t slash = rest.find('/');
    std::string_view run_id = rest.substr(0, slash);
    if (run_id.empty()) {
      return Err(InvalidSource(source, "A runs: URI must look like runs:/<run_id>/<path>."));
    }
    std::string_view path =
        slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    auto normalized = blob::NormalizeRelativePath(path, /*allow_empty=*/true);
    if (!normalized) return Err(InvalidSource(source, normalized.error().message()));
    out.kind = VersionSource::Kind::kRun;
    out.run_id = std::string(run_id);
    out.path = std::move(*normalized);
    return out;
  }
  if (StartsWithIgnoreCase(source, kArtifactsScheme)) {
    auto path = ArtifactsUriPath(source, /*allow_empty=*/false);
    if (!path) return Err(InvalidSource(source, path.error().message()));
    out.kind = VersionSource::Kind::kArtifacts;
    out.path = std::move(*path);
    return out;
  }
  return Err(InvalidSource(
      source,
      "The registry only accepts sources stored by this server: runs:/<run_id>/<path>, "
      "mlflow-artifacts:/<path> or models:/<name>/<version>. Local paths, file:, http(s): and "
      "object-store URIs are refused."));
}

}  // namespace mlforge::registry

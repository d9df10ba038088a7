// Reading an MLflow model package (a directory holding the YAML file
// `MLmodel` and the files its flavors name). Private to src/serving.
// Pure functions; thread-safe.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "serving/runtime.h"

namespace mlforge::serving {

// Largest MLmodel file read; real ones are a few KiB.
inline constexpr size_t kMaxMLmodelBytes = 1 << 20;

// One flavor of an MLmodel: its name and its scalar settings (nested
// mappings such as python_function's `env` are not needed by any runtime
// and are left out). A YAML null is stored as an absent key.
struct Flavor {
  std::string name;
  std::map<std::string, std::string, std::less<>> settings;
  const std::string* Find(std::string_view key) const {
    auto it = settings.find(key);
    return it == settings.end() ? nullptr : &it->second;
  }
};

struct MLmodelInfo {
  std::vector<Flavor> flavors;  // in file order
  // Absent when the MLmodel has no signature (or no `inputs`).
  std::optional<ModelSignature> signature;
};

// Parses the text of an MLmodel file. Signature sides are the JSON strings
// MLflow writes; inputs must be column-based (a tensor-based input signature
// is refused), tensor-based outputs are ignored. Errors:
// kInvalidParameterValue saying what is wrong.
Result<MLmodelInfo> ParseMLmodel(std::string_view text);

// One signature side: MLflow's JSON list of column specs.
Result<std::vector<ColumnSpec>> ParseColumnSpecs(std::string_view side, std::string_view json);

// Parses an MLflow type name ("double", "long", ...).
std::optional<ColumnType> ColumnTypeFromName(std::string_view name);

// `relative` (a file name from MLmodel) resolved inside `package_dir`:
// absolute paths, "..", and symlinks that lead outside the package are
// refused (kInvalidParameterValue); a missing file is kInvalidParameterValue
// too (the package is broken, not the request).
Result<std::filesystem::path> ResolvePackageFile(const std::filesystem::path& package_dir,
                                                 std::string_view relative);

// Reads a whole regular file of at most max_bytes.
Result<std::string> ReadFileLimited(const std::filesystem::path& file, size_t max_bytes);

}  // namespace mlforge::serving

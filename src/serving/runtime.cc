// LoadModelPackage: MLmodel -> the first natively served flavor's runtime.
#include "serving/runtime.h"

#include <fmt/core.h>

#include <system_error>

#include "serving/linear_runtime.h"
#include "serving/model_package.h"
#include "serving/xgboost_runtime.h"

namespace mlforge::serving {

std::string_view ColumnTypeName(ColumnType t) {
  switch (t) {
    case ColumnType::kDouble: return "double";
    case ColumnType::kFloat: return "float";
    case ColumnType::kLong: return "long";
    case ColumnType::kInteger: return "integer";
    case ColumnType::kBoolean: return "boolean";
    case ColumnType::kString: return "string";
    case ColumnType::kBinary: return "binary";
    case ColumnType::kDatetime: return "datetime";
  }
  return "unknown";
}

namespace {

// The runtimes take numbers; a text or date input would need an encoder the
// package does not describe.
Status CheckNumericInputs(const ModelSignature& signature) {
  for (const ColumnSpec& column : signature.inputs) {
    switch (column.type) {
      case ColumnType::kDouble:
      case ColumnType::kFloat:
      case ColumnType::kLong:
      case ColumnType::kInteger:
      case ColumnType::kBoolean:
        continue;
      default:
        return InvalidArgument(fmt::format(
            "Signature input '{}' has type {}; mlforge's native runtimes take numeric and boolean "
            "columns only",
            column.name, ColumnTypeName(column.type)));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<ModelRuntime>> LoadModelPackage(const std::filesystem::path& package_dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(package_dir, ec)) {
    return Err(NotFound("The model package directory does not exist"));
  }
  const std::filesystem::path mlmodel = package_dir / "MLmodel";
  if (!std::filesystem::exists(std::filesystem::symlink_status(mlmodel, ec))) {
    return Err(NotFound("The model package has no MLmodel file"));
  }
  ASSIGN_OR_RETURN(std::filesystem::path mlmodel_file, ResolvePackageFile(package_dir, "MLmodel"));
  ASSIGN_OR_RETURN(std::string text, ReadFileLimited(mlmodel_file, kMaxMLmodelBytes));
  ASSIGN_OR_RETURN(MLmodelInfo info, ParseMLmodel(text));
  if (info.signature) RETURN_IF_ERROR(CheckNumericInputs(*info.signature));

  // Preference order, whatever the order in the file.
  for (const Flavor& flavor : info.flavors) {
    if (flavor.name == kXgboostFlavor) {
      return LoadXgboostRuntime(package_dir, flavor, info.signature);
    }
  }
  for (const Flavor& flavor : info.flavors) {
    if (flavor.name == kLinearFlavor) return LoadLinearRuntime(package_dir, flavor, info.signature);
  }
  std::string names;
  for (const Flavor& flavor : info.flavors) names += (names.empty() ? "" : ", ") + flavor.name;
  return Err(InvalidArgument(fmt::format(
      "The model package has no flavor mlforge serves natively (it has: {}); supported: {}, {}",
      names.empty() ? "none" : names, kXgboostFlavor, kLinearFlavor)));
}

}  // namespace mlforge::serving

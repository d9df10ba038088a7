#include "serving/model_package.h"

#include <fmt/core.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <system_error>

#include "base/json.h"
#include "blob/blob.h"

namespace mlforge::serving {
namespace {

Status Invalid(std::string_view what) {
  return InvalidArgument(fmt::format("Invalid MLmodel file: {}", what));
}

void CollectScalars(const YAML::Node& node, Flavor& flavor) {
  if (!node.IsMap()) return;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar() || !kv.second.IsScalar()) continue;  // nulls and nested maps
    flavor.settings.emplace(kv.first.Scalar(), kv.second.Scalar());
  }
}

// A signature side as MLflow writes it: a YAML string holding JSON.
Result<std::string> SideText(const YAML::Node& node, std::string_view side) {
  if (node.IsScalar()) return node.Scalar();
  return Err(Invalid(fmt::format("signature {} is not a JSON string", side)));
}

}  // namespace

std::optional<ColumnType> ColumnTypeFromName(std::string_view name) {
  static constexpr std::pair<std::string_view, ColumnType> kTypes[] = {
      {"double", ColumnType::kDouble},   {"float", ColumnType::kFloat},
      {"long", ColumnType::kLong},       {"integer", ColumnType::kInteger},
      {"boolean", ColumnType::kBoolean}, {"string", ColumnType::kString},
      {"binary", ColumnType::kBinary},   {"datetime", ColumnType::kDatetime},
  };
  for (const auto& [n, t] : kTypes) {
    if (n == name) return t;
  }
  return std::nullopt;
}

Result<std::vector<ColumnSpec>> ParseColumnSpecs(std::string_view side, std::string_view text) {
  auto parsed = json::Parse(text);
  if (!parsed) return Err(Invalid(fmt::format("signature {} is not valid JSON", side)));
  if (!parsed->is_array()) return Err(Invalid(fmt::format("signature {} is not a JSON list", side)));
  std::vector<ColumnSpec> columns;
  for (size_t i = 0; i < parsed->items().size(); ++i) {
    const json::Value& spec = parsed->items()[i];
    const std::string where = fmt::format("signature {}[{}]", side, i);
    if (!spec.is_object()) return Err(Invalid(where + " is not a JSON object"));
    const json::Value* type = spec.Find("type");
    if (type == nullptr || !type->is_string()) return Err(Invalid(where + " has no string 'type'"));
    if (type->as_string() == "tensor") {
      return Err(InvalidArgument(fmt::format(
          "The model's {} signature is tensor-based; mlforge serves models with a column-based "
          "signature (log the model with a pandas DataFrame input example or a ColSpec schema)",
          side)));
    }
    std::optional<ColumnType> t = ColumnTypeFromName(type->as_string());
    if (!t) {
      return Err(InvalidArgument(
          fmt::format("{} has type '{}', which mlforge's runtimes cannot serve", where,
                      type->as_string())));
    }
    ColumnSpec column{.type = *t};
    if (const json::Value* name = spec.Find("name"); name != nullptr && !name->is_null()) {
      if (!name->is_string()) return Err(Invalid(where + " has a 'name' that is not a string"));
      column.name = name->as_string();
    }
    if (const json::Value* required = spec.Find("required");
        required != nullptr && !required->is_null()) {
      if (!required->is_bool()) return Err(Invalid(where + " has a 'required' that is not a boolean"));
      column.required = required->as_bool();
    }
    columns.push_back(std::move(column));
  }
  return columns;
}

Result<MLmodelInfo> ParseMLmodel(std::string_view text) {
  if (text.size() > kMaxMLmodelBytes) {
    return Err(Invalid(fmt::format("larger than {} bytes", kMaxMLmodelBytes)));
  }
  MLmodelInfo info;
  // yaml-cpp reports every problem by throwing; nothing escapes this function.
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsMap()) return Err(Invalid("the document is not a YAML mapping"));
    const YAML::Node flavors = root["flavors"];
    if (!flavors) return Err(Invalid("it has no 'flavors'"));
    if (!flavors.IsMap()) return Err(Invalid("'flavors' is not a mapping"));
    for (const auto& kv : flavors) {
      Flavor flavor{.name = kv.first.as<std::string>()};
      CollectScalars(kv.second, flavor);
      info.flavors.push_back(std::move(flavor));
    }
    const YAML::Node signature = root["signature"];
    if (!signature || signature.IsNull()) return info;
    if (!signature.IsMap()) return Err(Invalid("'signature' is not a mapping"));
    const YAML::Node inputs = signature["inputs"];
    if (!inputs || inputs.IsNull()) return info;
    ModelSignature sig;
    ASSIGN_OR_RETURN(std::string inputs_text, SideText(inputs, "inputs"));
    ASSIGN_OR_RETURN(sig.inputs, ParseColumnSpecs("inputs", inputs_text));
    if (sig.inputs.empty()) return Err(Invalid("signature inputs is an empty list"));
    for (size_t i = 0; i < sig.inputs.size(); ++i) {
      if (sig.inputs[i].name.empty()) {
        return Err(Invalid(fmt::format("signature inputs[{}] has no name", i)));
      }
      for (size_t j = 0; j < i; ++j) {
        if (sig.inputs[j].name == sig.inputs[i].name) {
          return Err(Invalid(fmt::format("signature inputs name '{}' twice", sig.inputs[i].name)));
        }
      }
    }
    const YAML::Node outputs = signature["outputs"];
    if (outputs && !outputs.IsNull()) {
      ASSIGN_OR_RETURN(std::string outputs_text, SideText(outputs, "outputs"));
      auto columns = ParseColumnSpecs("outputs", outputs_text);
      // Tensor-based outputs (what mlflow.models.infer_signature writes for a
      // numpy prediction) only describe the result; the runtime names its own.
      if (columns) {
        sig.outputs = std::move(*columns);
      } else if (columns.error().message().find("tensor-based") == std::string::npos) {
        return Err(columns.error());
      }
    }
    info.signature = std::move(sig);
    return info;
  } catch (const YAML::Exception& e) {
    return Err(Invalid(fmt::format("not valid YAML: {}", e.what())));
  } catch (const std::exception& e) {
    return Err(Invalid(fmt::format("cannot be read: {}", e.what())));
  }
}

Result<std::filesystem::path> ResolvePackageFile(const std::filesystem::path& package_dir,
                                                 std::string_view relative) {
  auto normalized = blob::NormalizeRelativePath(relative);
  if (!normalized) {
    return Err(InvalidArgument(fmt::format("The model package names the file '{}', which is not a "
                                           "relative path inside the package: {}",
                                           relative, normalized.error().message())));
  }
  std::error_code ec;
  const std::filesystem::path root = std::filesystem::canonical(package_dir, ec);
  if (ec) return Err(NotFound("The model package directory does not exist"));
  // canonical() follows every symlink, so a link that leads outside the
  // package shows up as a path that is not below the root.
  const std::filesystem::path file = std::filesystem::canonical(root / *normalized, ec);
  if (ec) {
    return Err(InvalidArgument(
        fmt::format("The model package has no file '{}' (named in MLmodel)", *normalized)));
  }
  auto [root_end, _] = std::mismatch(root.begin(), root.end(), file.begin(), file.end());
  if (root_end != root.end() || file == root) {
    return Err(InvalidArgument(
        fmt::format("The model file '{}' leads outside the model package", *normalized)));
  }
  if (!std::filesystem::is_regular_file(file, ec)) {
    return Err(InvalidArgument(fmt::format("The model file '{}' is not a regular file", *normalized)));
  }
  return file;
}

Result<std::string> ReadFileLimited(const std::filesystem::path& file, size_t max_bytes) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Err(InvalidArgument(fmt::format("Cannot open '{}'", file.filename().string())));
  std::string data;
  char buffer[1 << 16];
  while (in) {
    in.read(buffer, sizeof buffer);
    data.append(buffer, static_cast<size_t>(in.gcount()));
    if (data.size() > max_bytes) {
      return Err(InvalidArgument(
          fmt::format("'{}' is larger than {} bytes", file.filename().string(), max_bytes)));
    }
  }
  if (in.bad()) return Err(InvalidArgument(fmt::format("Cannot read '{}'", file.filename().string())));
  return data;
}

}  // namespace mlforge::serving

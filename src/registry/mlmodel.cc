#include "registry/mlmodel.h"

#include <yaml-cpp/yaml.h>

#include <string>

#include "base/json.h"

namespace mlforge::registry {
namespace {

constexpr std::string_view kColumnTypes[] = {"boolean", "integer", "long",   "float",
                                             "double",  "string",  "binary", "datetime",
                                             "array",   "object",  "map",    "any"};

Status Invalid(std::string_view what) {
  return InvalidArgument("Invalid MLmodel file: " + std::string(what));
}

bool IsColumnType(std::string_view type) {
  for (std::string_view t : kColumnTypes) {
    if (t == type) return true;
  }
  return false;
}

Status ValidateSpec(std::string_view field, size_t index, const json::Value& spec) {
  const std::string where = std::string(field) + "[" + std::to_string(index) + "]";
  if (!spec.is_object()) return Invalid("signature " + where + " is not a JSON object");
  const json::Value* type = spec.Find("type");
  if (type == nullptr || !type->is_string()) {
    return Invalid("signature " + where + " has no string 'type'");
  }
  if (const json::Value* name = spec.Find("name"); name != nullptr && !name->is_string()) {
    return Invalid("signature " + where + " has a 'name' that is not a string");
  }
  if (const json::Value* required = spec.Find("required");
      required != nullptr && !required->is_bool()) {
    return Invalid("signature " + where + " has a 'required' that is not a boolean");
  }
  if (type->as_string() == "tensor") {
    const json::Value* tensor = spec.Find("tensor-spec");
    if (tensor == nullptr || !tensor->is_object()) {
      return Invalid("signature " + where + " is a tensor without a 'tensor-spec' object");
    }
    const json::Value* dtype = tensor->Find("dtype");
    const json::Value* shape = tensor->Find("shape");
    if (dtype == nullptr || !dtype->is_string()) {
      return Invalid("signature " + where + " tensor-spec has no string 'dtype'");
    }
    if (shape == nullptr || !shape->is_array()) {
      return Invalid("signature " + where + " tensor-spec has no 'shape' list");
    }
    for (const json::Value& dim : shape->items()) {
      if (!dim.is_int64()) return Invalid("signature " + where + " shape has a non-integer");
    }
    return Status::Ok();
  }
  if (!IsColumnType(type->as_string())) {
    return Invalid("signature " + where + " has unknown type '" + type->as_string() + "'");
  }
  return Status::Ok();
}

}  // namespace

Status ValidateSignatureSpec(std::string_view field, std::string_view text) {
  auto parsed = json::Parse(text);
  if (!parsed) return Invalid("signature " + std::string(field) + " is not valid JSON");
  if (!parsed->is_array())
    return Invalid("signature " + std::string(field) + " is not a JSON list");
  for (size_t i = 0; i < parsed->items().size(); ++i) {
    RETURN_IF_ERROR(ValidateSpec(field, i, parsed->items()[i]));
  }
  return Status::Ok();
}

Status ValidateMLmodel(std::string_view text) {
  if (text.size() > kMaxMLmodelBytes) {
    return Invalid("larger than " + std::to_string(kMaxMLmodelBytes) + " bytes");
  }
  // yaml-cpp reports every problem (syntax, nesting too deep, wrong node
  // kinds) by throwing; nothing escapes this function.
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsMap()) return Invalid("the document is not a YAML mapping");
    const YAML::Node flavors = root["flavors"];
    if (!flavors) return Invalid("it has no 'flavors'");
    if (!flavors.IsMap()) return Invalid("'flavors' is not a mapping");
    const YAML::Node signature = root["signature"];
    if (!signature || signature.IsNull()) return Status::Ok();
    if (!signature.IsMap()) return Invalid("'signature' is not a mapping");
    for (const char* side : {"inputs", "outputs"}) {
      const YAML::Node spec = signature[side];
      if (!spec || spec.IsNull()) continue;
      if (!spec.IsScalar()) {
        return Invalid("signature " + std::string(side) + " is not a JSON string");
      }
      RETURN_IF_ERROR(ValidateSignatureSpec(side, spec.Scalar()));
    }
    return Status::Ok();
  } catch (const YAML::Exception& e) {
    return Invalid(std::string("not valid YAML: ") + e.what());
  } catch (const std::exception& e) {
    return Invalid(std::string("cannot be read: ") + e.what());
  }
}

}  // namespace mlforge::registry

// Helpers shared by the serving tests: model packages written to temp dirs.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "serving/runtime.h"

namespace mlforge::serving::testing {

inline void WriteFile(const std::filesystem::path& path, std::string_view data) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A signature of double columns with these names.
inline ModelSignature DoubleSignature(std::initializer_list<const char*> names) {
  ModelSignature s;
  for (const char* n : names) s.inputs.push_back(ColumnSpec{.name = n});
  return s;
}

// MLflow's column-spec JSON for a list of (name, type).
inline std::string ColumnsJson(std::initializer_list<std::pair<const char*, const char*>> columns) {
  std::string out = "[";
  for (const auto& [name, type] : columns) {
    if (out.size() > 1) out += ", ";
    out += std::string("{\"type\": \"") + type + "\", \"name\": \"" + name + "\", \"required\": true}";
  }
  return out + "]";
}

// A linear model package: MLmodel + model.json.
inline void WriteLinearPackage(const std::filesystem::path& dir, std::string_view model_json,
                               std::string_view signature_inputs = {}) {
  std::string mlmodel =
      "artifact_path: model\n"
      "flavors:\n"
      "  mlforge.linear:\n"
      "    data: model.json\n"
      "mlflow_version: 2.12.1\n";
  if (!signature_inputs.empty()) {
    mlmodel += "signature:\n  inputs: '" + std::string(signature_inputs) + "'\n  outputs: null\n";
  }
  WriteFile(dir / "MLmodel", mlmodel);
  WriteFile(dir / "model.json", model_json);
}

}  // namespace mlforge::serving::testing

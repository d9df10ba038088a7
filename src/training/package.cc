// The model package: MLflow's MLmodel YAML (as MLflow 2.12's yaml.safe_dump
// lays it out: sorted keys, two-space indent) plus the flavor's files.
#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <ctime>

#include "base/json.h"
#include "training/internal.h"
#include "training/training.h"

namespace mlforge::training {
namespace {

// The MLflow release whose MLmodel layout we write; MLflow reads it to pick
// compatible loaders.
constexpr std::string_view kMlflowVersion = "2.12.1";

void AppendColSpec(std::string& out, std::string_view name, bool first) {
  if (!first) out += ", ";
  out += R"({"type": "double", "name": )";
  json::AppendQuoted(out, name);
  out += R"(, "required": true})";
}

std::string ColSpecs(std::span<const std::string> names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) AppendColSpec(out, names[i], i == 0);
  return out + "]";
}

// "2024-04-20 10:11:12.123000", MLflow's str(datetime.utcnow()).
std::string UtcTime(int64_t millis) {
  std::time_t t = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return fmt::format("{}.{:06d}", buf, static_cast<int>(millis % 1000) * 1000);
}

}  // namespace

namespace internal {

std::string YamlScalar(std::string_view s) {
  static constexpr std::string_view kReserved[] = {"true", "false", "yes", "no", "on",
                                                   "off",  "null",  "y",   "n",  "~"};
  bool plain = !s.empty() && (std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_');
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-' &&
        c != '/') {
      plain = false;
    }
  }
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  for (std::string_view r : kReserved) plain = plain && lower != r;
  if (plain) return std::string(s);
  // Control characters need escapes: a JSON string is a valid YAML
  // double-quoted scalar. Otherwise single quotes, as PyYAML writes them.
  if (std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    std::string out;
    json::AppendQuoted(out, s);
    return out;
  }
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

}  // namespace internal

std::string SignatureInputsJson(std::span<const std::string> features) {
  return ColSpecs(features);
}

std::string SignatureOutputsJson(const TrainedModel& model) {
  if (model.task() != Task::kMulticlass) return ColSpecs(std::vector<std::string>{"prediction"});
  std::vector<std::string> names;
  for (int i = 0; i < model.outputs(); ++i) names.push_back("class_" + std::to_string(i));
  return ColSpecs(names);
}

std::string MLmodelYaml(const TrainedModel& model, const PackageInfo& info) {
  using internal::YamlScalar;
  std::string out;
  out += "artifact_path: " + YamlScalar(info.artifact_path) + "\n";
  out += "flavors:\n" + model.FlavorsYaml();
  out += "metadata:\n  mlforge:\n";
  out += "    task: " + std::string(TaskName(model.task())) + "\n";
  out += "    training_dataset:\n";
  out += "      digest: " + YamlScalar(info.dataset.digest) + "\n";
  out += "      name: " + YamlScalar(info.dataset.name) + "\n";
  out += "      source: " + YamlScalar(info.dataset.source) + "\n";
  out += "      source_type: " + YamlScalar(info.dataset.source_type) + "\n";
  out += "mlflow_version: " + YamlScalar(kMlflowVersion) + "\n";
  out += "model_uuid: " + YamlScalar(info.model_uuid) + "\n";
  out += "run_id: " + YamlScalar(info.run_id) + "\n";
  out += "signature:\n";
  out += "  inputs: " + YamlScalar(SignatureInputsJson(model.features())) + "\n";
  out += "  outputs: " + YamlScalar(SignatureOutputsJson(model)) + "\n";
  out += "  params: null\n";
  out += "utc_time_created: " + YamlScalar(UtcTime(info.created_millis)) + "\n";
  return out;
}

Result<std::vector<PackageFile>> BuildPackage(const TrainedModel& model, const PackageInfo& info) {
  std::vector<PackageFile> files;
  files.push_back({"MLmodel", MLmodelYaml(model, info)});
  ASSIGN_OR_RETURN(std::vector<PackageFile> model_files, model.ModelFiles());
  for (PackageFile& f : model_files) files.push_back(std::move(f));
  return files;
}

}  // namespace mlforge::training

#include "app/lineage_command.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdio>
#include <string>

#include "app/server_client.h"
#include "base/json.h"
#include "http/http.h"

namespace mlforge::app {
namespace {

struct LineageArgs {
  CLI::App* command = nullptr;
  std::string model_uri;
  std::string dataset_version;
  std::string remote;
  int max_files = 20;
  bool json = false;
};

LineageArgs& Args() {
  static LineageArgs args;
  return args;
}

const json::Value& Member(const json::Value& v, std::string_view key) {
  static const json::Value kNull;
  const json::Value* f = v.Find(key);
  return f ? *f : kNull;
}

std::string NumberText(const json::Value& v) {
  if (v.is_int64()) return std::to_string(v.as_int64());
  if (v.is_number()) return fmt::format("{:g}", v.as_double());
  return v.is_string() ? v.as_string() : std::string();
}

std::string Joined(const json::Value& list, std::string_view key, std::string_view value) {
  std::string out;
  for (const json::Value& item : list.items()) {
    if (!out.empty()) out += ", ";
    out += StrOf(item, key) + "=" + NumberText(Member(item, value));
  }
  return out.empty() ? "-" : out;
}

std::string Aliases(const json::Value& version) {
  std::string out;
  for (const json::Value& a : Member(version, "aliases").items()) {
    out += (out.empty() ? "@" : ", @") + (a.is_string() ? a.as_string() : "");
  }
  return out;
}

void PrintModelLineage(const json::Value& v) {
  const json::Value& mv = Member(v, "model_version");
  std::printf("%s\n", StrOf(v, "model_uri").c_str());
  std::printf("└─ model version %s v%s  stage %s  %s\n", StrOf(mv, "name").c_str(),
              StrOf(mv, "version").c_str(), StrOf(mv, "current_stage").c_str(),
              Aliases(mv).c_str());
  std::printf("   source %s\n", StrOf(mv, "source").c_str());
  const json::Value* run = v.Find("run");
  if (run == nullptr) {
    std::printf("   (no run recorded)\n");
    return;
  }
  std::string commit = StrOf(*run, "git_commit");
  std::printf("   └─ run %s \"%s\"  experiment %s  %s\n", StrOf(*run, "run_id").c_str(),
              StrOf(*run, "run_name").c_str(), StrOf(*run, "experiment_id").c_str(),
              StrOf(*run, "status").c_str());
  std::printf("      code    %s%s%s\n", commit.empty() ? "(no git commit)" : commit.c_str(),
              StrOf(*run, "source_name").empty() ? "" : "  ",
              StrOf(*run, "source_name").c_str());
  std::printf("      params  %s\n", Joined(Member(*run, "params"), "key", "value").c_str());
  std::printf("      metrics %s\n", Joined(Member(*run, "metrics"), "key", "value").c_str());
  const json::Value& datasets = Member(v, "datasets");
  if (datasets.items().empty()) std::printf("      (no dataset inputs)\n");
  for (const json::Value& d : datasets.items()) {
    std::string context = StrOf(d, "context");
    std::printf("      └─ dataset %s  digest %s%s%s\n", StrOf(d, "name").c_str(),
                StrOf(d, "digest").c_str(), context.empty() ? "" : "  context ",
                context.c_str());
    const json::Value& versions = Member(d, "versions");
    if (versions.items().empty()) std::printf("         (no dataset version with this digest)\n");
    for (const json::Value& dv : versions.items()) {
      std::printf("         └─ version %s v%lld  %s  %lld files, %lld bytes\n",
                  StrOf(dv, "dataset").c_str(), static_cast<long long>(IntOf(dv, "version")),
                  StrOf(dv, "version_id").c_str(), static_cast<long long>(IntOf(dv, "file_count")),
                  static_cast<long long>(IntOf(dv, "size")));
      for (const json::Value& f : Member(dv, "files").items()) {
        std::printf("            %s  %s  %lld\n", StrOf(f, "sha256").c_str(),
                    StrOf(f, "path").c_str(), static_cast<long long>(IntOf(f, "size")));
      }
      const json::Value& truncated = Member(dv, "files_truncated");
      if (truncated.is_bool() && truncated.as_bool()) std::printf("            ...\n");
    }
  }
}

void PrintDatasetLineage(const json::Value& v) {
  for (const json::Value& dv : Member(v, "versions").items()) {
    std::printf("dataset %s v%lld  %s  %lld files, %lld bytes\n", StrOf(dv, "dataset").c_str(),
                static_cast<long long>(IntOf(dv, "version")), StrOf(dv, "version_id").c_str(),
                static_cast<long long>(IntOf(dv, "file_count")),
                static_cast<long long>(IntOf(dv, "size")));
  }
  const json::Value& runs = Member(v, "runs");
  std::printf("used by %zu run(s)\n", runs.items().size());
  for (const json::Value& r : runs.items()) {
    std::printf("└─ run %s \"%s\"  experiment %s  %s\n", StrOf(r, "run_id").c_str(),
                StrOf(r, "run_name").c_str(), StrOf(r, "experiment_id").c_str(),
                StrOf(r, "git_commit").c_str());
  }
  const json::Value& versions = Member(v, "model_versions");
  std::printf("which produced %zu model version(s)\n", versions.items().size());
  for (const json::Value& mv : versions.items()) {
    std::printf("└─ %s v%s  stage %s  %s  (run %s)\n", StrOf(mv, "name").c_str(),
                StrOf(mv, "version").c_str(), StrOf(mv, "current_stage").c_str(),
                Aliases(mv).c_str(), StrOf(mv, "run_id").c_str());
  }
}

int Run() {
  const LineageArgs& a = Args();
  if (a.model_uri.empty() == a.dataset_version.empty()) {
    std::fprintf(stderr, "mlforge lineage: give a models:/ URI or --dataset-version ID (one of them)\n");
    return 2;
  }
  auto server = ServerFromFlagOrEnv(a.remote, "--remote");
  if (!server) {
    std::fprintf(stderr, "mlforge lineage: %s\n", server.error().message().c_str());
    return 1;
  }
  std::string target =
      a.model_uri.empty()
          ? "/api/2.0/mlforge/lineage/dataset-version?version_id=" +
                http::PercentEncode(a.dataset_version)
          : "/api/2.0/mlforge/lineage/model-version?model_uri=" + http::PercentEncode(a.model_uri) +
                "&max_files=" + std::to_string(a.max_files);
  auto v = GetJson(*server, target);
  if (!v) {
    std::fprintf(stderr, "mlforge lineage: %s\n", v.error().message().c_str());
    return 1;
  }
  if (a.json) {
    std::printf("%s\n", json::Serialize(*v).c_str());
  } else if (a.model_uri.empty()) {
    PrintDatasetLineage(*v);
  } else {
    PrintModelLineage(*v);
  }
  return 0;
}

}  // namespace

void AddLineageCommand(CLI::App& app) {
  LineageArgs& a = Args();
  a.command = app.add_subcommand(
      "lineage",
      "Which data and code produced a model version (models:/NAME/VERSION, models:/NAME@ALIAS, "
      "models:/NAME/STAGE), or where a dataset version was used (--dataset-version)");
  a.command->add_option("model_uri", a.model_uri, "models:/ URI of the model version");
  a.command->add_option("--dataset-version", a.dataset_version,
                        "A dataset version id: the runs and model versions that used it");
  a.command->add_option("--remote,-r", a.remote,
                        "Server URL (default: $MLFORGE_TRACKING_URI or $MLFLOW_TRACKING_URI)");
  a.command->add_option("--max-files", a.max_files, "Files listed per dataset version")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000));
  a.command->add_flag("--json", a.json, "Print the API's JSON");
}

bool RunLineageCommand(int* exit_code) {
  if (Args().command == nullptr || !Args().command->parsed()) return false;
  *exit_code = Run();
  return true;
}

}  // namespace mlforge::app

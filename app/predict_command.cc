#include "app/predict_command.h"

#include <fmt/core.h>
#include <stdlib.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "app/server_client.h"
#include "base/json.h"
#include "blob/blob.h"
#include "http/http.h"
#include "serving/batch_predict.h"
#include "serving/runtime.h"

namespace mlforge::app {
namespace {

namespace fs = std::filesystem;

struct PredictArgs {
  CLI::App* command = nullptr;
  std::string model;
  std::string input;
  std::string output = "-";
  std::string format;        // output
  std::string input_format;  // default: from the input's extension
  std::string id_column;
  std::string server;
  int threads = 0;
  int64_t batch_rows = 4096;
  bool quiet = false;
};

PredictArgs& Args() {
  static PredictArgs args;
  return args;
}

Result<serving::LineFormat> FormatByName(std::string_view name, std::string_view flag) {
  if (name == "csv") return serving::LineFormat::kCsv;
  if (name == "jsonl" || name == "ndjson") return serving::LineFormat::kJsonl;
  return Err(InvalidArgument(fmt::format("{} must be csv or jsonl, not '{}'", flag, name)));
}

// From a file name: .csv -> CSV, .jsonl/.ndjson/.json -> JSON Lines.
std::optional<serving::LineFormat> FormatOfPath(std::string_view path) {
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".csv") return serving::LineFormat::kCsv;
  if (ext == ".jsonl" || ext == ".ndjson" || ext == ".json") return serving::LineFormat::kJsonl;
  return std::nullopt;
}

// A temporary directory removed with its contents. Move-only.
class TempDir {
 public:
  static Result<TempDir> Create() {
    std::string pattern = (fs::temp_directory_path() / "mlforge-predict-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      return Err(Internal("Cannot create a temporary directory"));
    TempDir d;
    d.path_ = pattern;
    return d;
  }
  TempDir() = default;
  TempDir(TempDir&& o) noexcept : path_(std::exchange(o.path_, {})) {}
  TempDir& operator=(TempDir&& o) noexcept {
    std::swap(path_, o.path_);
    return *this;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// models:/NAME/VERSION, models:/NAME/STAGE, models:/NAME/latest, models:/NAME@ALIAS.
struct ModelsUri {
  std::string name, version, stage, alias;
};

Result<ModelsUri> ParseModelsUri(std::string_view uri) {
  constexpr std::string_view kScheme = "models:/";
  std::string_view rest = uri.substr(kScheme.size());
  ModelsUri out;
  if (const size_t at = rest.rfind('@');
      at != std::string_view::npos && rest.find('/') == std::string_view::npos) {
    out.name = rest.substr(0, at);
    out.alias = rest.substr(at + 1);
  } else if (const size_t slash = rest.rfind('/'); slash != std::string_view::npos) {
    out.name = rest.substr(0, slash);
    std::string_view tail = rest.substr(slash + 1);
    if (!tail.empty() && tail.find_first_not_of("0123456789") == std::string_view::npos) {
      out.version = tail;
    } else {
      out.stage = tail;
    }
  }
  if (out.name.empty() || (out.version.empty() && out.stage.empty() && out.alias.empty())) {
    return Err(
        InvalidArgument(fmt::format("'{}' is not a model URI: use models:/NAME/VERSION, "
                                    "models:/NAME/STAGE or models:/NAME@ALIAS",
                                    uri)));
  }
  return out;
}

std::string Query(std::initializer_list<std::pair<std::string_view, std::string_view>> params) {
  std::string q;
  for (const auto& [k, v] : params)
    q += fmt::format("{}{}={}", q.empty() ? "?" : "&", k, http::PercentEncode(v));
  return q;
}

// The version number a models:/ URI names, through the registry REST API.
Result<std::string> ResolveVersion(const data::RemoteOptions& server, const ModelsUri& uri) {
  constexpr std::string_view kApi = "/api/2.0/mlflow";
  if (!uri.version.empty()) {
    ASSIGN_OR_RETURN(
        json::Value v,
        GetJson(server, fmt::format("{}/model-versions/get{}", kApi,
                                    Query({{"name", uri.name}, {"version", uri.version}}))));
    return uri.version;
  }
  if (!uri.alias.empty()) {
    ASSIGN_OR_RETURN(
        json::Value v,
        GetJson(server, fmt::format("{}/registered-models/alias{}", kApi,
                                    Query({{"name", uri.name}, {"alias", uri.alias}}))));
    const json::Value* mv = v.Find("model_version");
    if (mv == nullptr || StrOf(*mv, "version").empty()) {
      return Err(
          NotFound(fmt::format("No version of '{}' has the alias '{}'", uri.name, uri.alias)));
    }
    return StrOf(*mv, "version");
  }
  std::string target =
      fmt::format("{}/registered-models/get-latest-versions{}", kApi, Query({{"name", uri.name}}));
  if (uri.stage != "latest") target += "&stages=" + http::PercentEncode(uri.stage);
  ASSIGN_OR_RETURN(json::Value v, GetJson(server, target));
  const json::Value* versions = v.Find("model_versions");
  int64_t best = -1;
  if (versions && versions->is_array()) {
    for (const json::Value& mv : versions->items())
      best = std::max<int64_t>(best, std::atoll(StrOf(mv, "version").c_str()));
  }
  if (best < 0)
    return Err(NotFound(fmt::format("'{}' has no version in stage '{}'", uri.name, uri.stage)));
  return std::to_string(best);
}

// Lists the version's files (recursively) through the artifact API and
// downloads each into dir. Every name is checked as a relative path first.
Status DownloadVersion(const data::RemoteOptions& server, const std::string& name,
                       const std::string& version, const fs::path& dir) {
  ASSIGN_OR_RETURN(json::Value uri_json,
                   GetJson(server, "/api/2.0/mlflow/model-versions/get-download-uri" +
                                       Query({{"name", name}, {"version", version}})));
  std::string root = StrOf(uri_json, "artifact_uri");
  constexpr std::string_view kScheme = "mlflow-artifacts:/";
  if (!root.starts_with(kScheme)) {
    return InvalidArgument(
        fmt::format("The version's files are at '{}', which this client cannot read", root));
  }
  root.erase(0, kScheme.size());
  http::Client client(server.host, server.port);
  std::vector<std::string> pending{""};  // directories relative to root
  int files = 0;
  while (!pending.empty()) {
    const std::string sub = pending.back();
    pending.pop_back();
    ASSIGN_OR_RETURN(json::Value listing,
                     GetJson(server, "/api/2.0/mlflow-artifacts/artifacts" +
                                         Query({{"path", sub.empty() ? root : root + "/" + sub}})));
    const json::Value* entries = listing.Find("files");
    if (entries == nullptr) continue;
    for (const json::Value& e : entries->items()) {
      ASSIGN_OR_RETURN(std::string rel,
                       blob::NormalizeRelativePath(sub.empty() ? StrOf(e, "path")
                                                               : sub + "/" + StrOf(e, "path")));
      const json::Value* is_dir = e.Find("is_dir");
      if (is_dir && is_dir->is_bool() && is_dir->as_bool()) {
        pending.push_back(rel);
        continue;
      }
      if (++files > 10000) return InvalidArgument("The model version has more than 10000 files");
      ASSIGN_OR_RETURN(http::ClientResponse r,
                       client.Get("/model-versions/get-artifact" +
                                  Query({{"name", name}, {"version", version}, {"path", rel}})));
      if (r.status != 200) {
        return InvalidArgument(fmt::format("Downloading '{}' failed: HTTP {}", rel, r.status));
      }
      const fs::path file = dir / rel;
      std::error_code ec;
      fs::create_directories(file.parent_path(), ec);
      std::ofstream out(file, std::ios::binary);
      out.write(r.body.data(), static_cast<std::streamsize>(r.body.size()));
      if (!out) return Internal(fmt::format("Cannot write '{}'", rel));
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<serving::ModelRuntime>> LoadModel(std::optional<TempDir>* download) {
  const std::string& model = Args().model;
  if (!model.starts_with("models:/")) return serving::LoadModelPackage(model);
  ASSIGN_OR_RETURN(ModelsUri uri, ParseModelsUri(model));
  ASSIGN_OR_RETURN(data::RemoteOptions server, ServerFromFlagOrEnv(Args().server, "--server"));
  ASSIGN_OR_RETURN(std::string version, ResolveVersion(server, uri));
  ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  RETURN_IF_ERROR(DownloadVersion(server, uri.name, version, dir.path()));
  *download = std::move(dir);
  return serving::LoadModelPackage((*download)->path());
}

int Fail(const Status& s) {
  std::fprintf(stderr, "mlforge predict: %s\n", s.message().c_str());
  return 1;
}

int RunPredict() {
  const PredictArgs& a = Args();
  serving::BatchPredictOptions options;
  options.threads = a.threads > 0
                        ? a.threads
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.batch_rows = a.batch_rows;
  options.id_column = a.id_column;
  if (!a.input_format.empty()) {
    auto f = FormatByName(a.input_format, "--input-format");
    if (!f) return Fail(f.error());
    options.input_format = *f;
  } else if (auto f = FormatOfPath(a.input)) {
    options.input_format = *f;
  } else if (a.input != "-") {
    return Fail(InvalidArgument(
        "Cannot tell the input's format from its name: pass --input-format csv|jsonl"));
  }
  if (!a.format.empty()) {
    auto f = FormatByName(a.format, "--format");
    if (!f) return Fail(f.error());
    options.output_format = *f;
  } else if (auto f = FormatOfPath(a.output); a.output != "-" && f) {
    options.output_format = *f;
  } else {
    options.output_format = options.input_format;
  }

  std::optional<TempDir> download;
  auto runtime = LoadModel(&download);
  if (!runtime) return Fail(runtime.error());

  std::ifstream in_file;
  if (a.input != "-") {
    in_file.open(a.input, std::ios::binary);
    if (!in_file) return Fail(InvalidArgument(fmt::format("Cannot open the input '{}'", a.input)));
  }
  std::istream& in = a.input == "-" ? std::cin : in_file;
  std::ofstream out_file;
  if (a.output != "-") {
    out_file.open(a.output, std::ios::binary | std::ios::trunc);
    if (!out_file)
      return Fail(InvalidArgument(fmt::format("Cannot write the output '{}'", a.output)));
  }
  std::ostream& out = a.output == "-" ? std::cout : out_file;
  std::ios::sync_with_stdio(false);

  // Progress on a terminal only: one line rewritten at most 10 times a second.
  const bool tty = !a.quiet && ::isatty(STDERR_FILENO) == 1;
  auto last = std::chrono::steady_clock::now();
  bool shown = false;
  if (tty) {
    options.progress = [&](int64_t rows) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last < std::chrono::milliseconds(100)) return;
      last = now;
      std::fprintf(stderr, "\r%lld rows predicted", static_cast<long long>(rows));
      shown = true;
    };
  }
  const auto start = std::chrono::steady_clock::now();
  auto stats = serving::BatchPredict(**runtime, in, out, options);
  if (shown) std::fprintf(stderr, "\r%-40s\r", "");
  if (!stats) return Fail(stats.error());
  if (!a.quiet) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "%lld rows predicted in %.2f s (%s)\n",
                 static_cast<long long>(stats->rows), seconds,
                 std::string((*runtime)->flavor()).c_str());
  }
  return 0;
}

}  // namespace

void AddPredictCommand(CLI::App& app) {
  PredictArgs& a = Args();
  a.command = app.add_subcommand("predict", "Batch prediction of a CSV or JSON Lines file");
  a.command
      ->add_option("--model,-m", a.model,
                   "Model package directory, or models:/NAME/VERSION, models:/NAME/STAGE, "
                   "models:/NAME@ALIAS")
      ->required();
  a.command->add_option("--input,-i", a.input, "Input file (.csv, .jsonl) or - for stdin")
      ->required();
  a.command->add_option("--output,-o", a.output, "Output file or - for stdout")
      ->capture_default_str();
  a.command->add_option("--format", a.format,
                        "Output format: csv or jsonl (default: from --output, else the input's)");
  a.command->add_option("--input-format", a.input_format,
                        "Input format: csv or jsonl (default: from --input's name)");
  a.command->add_option("--id-column", a.id_column,
                        "Input column copied to the output before the predictions");
  a.command->add_option("--threads", a.threads, "Worker threads (default: cores)");
  a.command->add_option("--batch-rows", a.batch_rows, "Rows per chunk")->capture_default_str();
  a.command->add_option("--server", a.server,
                        "mlforge server for models:/ URIs (default: $MLFORGE_TRACKING_URI or $MLFLOW_TRACKING_URI)");
  a.command->add_flag("-q,--quiet", a.quiet, "No progress or summary on stderr");
}

bool RunPredictCommand(int* exit_code) {
  if (Args().command == nullptr || !Args().command->parsed()) return false;
  *exit_code = RunPredict();
  return true;
}

}  // namespace mlforge::app

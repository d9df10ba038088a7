#include "app/train_command.h"

#include <fmt/core.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "app/server_client.h"
#include "app/training_client.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/ids.h"
#include "base/json.h"
#include "data/data.h"
#include "http/http.h"
#include "training/training.h"

namespace mlforge::app {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDatasetPrefix = "dataset:";

struct TrainArgs {
  CLI::App* command = nullptr;
  std::string data;
  std::string data_file;
  std::string dataset_name;
  std::string target;
  std::string flavor = "xgboost";
  std::vector<std::string> params;
  std::vector<std::string> features;
  std::vector<std::string> exclude;
  int rounds = 0;
  std::string experiment;
  std::string run_name;
  std::string register_model;
  std::string server;
  uint64_t seed = 42;
  double validation_fraction = 0.2;
  bool quiet = false;
};

TrainArgs& Args() {
  static TrainArgs args;
  return args;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "mlforge train: %s\n", s.message().c_str());
  return 1;
}

// ---------------------------------------------------------------------------
// Training data: a local CSV or a dataset version on the server.

struct TrainingData {
  std::string text;
  training::DatasetRef ref;
  std::string sha256;  // of the CSV bytes
  std::string description;
};

Result<std::string> ReadLocalFile(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return Err(NotFound("No file '" + path.string() + "'"));
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  if (!in && !in.eof()) return Err(InvalidArgument("Cannot read '" + path.string() + "'"));
  return s.str();
}

Result<TrainingData> LocalData(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadLocalFile(path));
  TrainingData d;
  d.sha256 = Sha256::HexOf(text);
  const std::string base = fs::path(path).filename().string();
  // The digest is the version id `mlforge data add` gives this file (a
  // one-entry manifest), so lineage links the run to that dataset version.
  ASSIGN_OR_RETURN(data::Manifest manifest,
                   data::MakeManifest({{base, d.sha256, static_cast<int64_t>(text.size())}}));
  d.ref.name = Args().dataset_name.empty() ? base : Args().dataset_name;
  d.ref.digest = data::ManifestId(manifest);
  d.ref.source_type = "local";
  d.ref.source = BuildJson([&](json::Writer& w) {
    w.StartObject().Field("uri", fs::absolute(path).lexically_normal().string()).EndObject();
  });
  d.description = fmt::format("{} ({} bytes)", path, text.size());
  d.text = std::move(text);
  return d;
}

// dataset:NAME[@VERSION]: VERSION is a number or a version id; absent, the
// newest version.
Result<TrainingData> DatasetData(ServerApi& api, std::string_view spec) {
  std::string_view rest = spec.substr(kDatasetPrefix.size());
  size_t at = rest.rfind('@');
  std::string name(rest.substr(0, at));
  std::string version = at == std::string_view::npos ? "" : std::string(rest.substr(at + 1));
  if (name.empty()) return Err(InvalidArgument("--data dataset:NAME[@VERSION] names no dataset"));
  json::Value v;
  const std::string base = "/api/2.0/mlforge/datasets/versions/";
  if (version.empty() || version == "latest") {
    ASSIGN_OR_RETURN(json::Value list,
                     api.Must(http::Method::kGet, base + "list?name=" + http::PercentEncode(name)));
    const json::Value* versions = list.Find("versions");
    if (versions == nullptr || !versions->is_array() || versions->items().empty()) {
      return Err(NotFound("Dataset '" + name + "' has no versions"));
    }
    v = versions->items().back();
  } else {
    ASSIGN_OR_RETURN(json::Value got,
                     api.Must(http::Method::kGet, base + "get?name=" + http::PercentEncode(name) +
                                                      "&version=" + http::PercentEncode(version)));
    if (const json::Value* inner = got.Find("version")) v = *inner;
  }
  const std::string version_id = StrOf(v, "version_id");
  if (!IsSha256Hex(version_id)) return Err(Internal("The server answered no version id"));

  // The manifest, page by page, then the one CSV file it holds.
  std::vector<std::pair<std::string, std::string>> files;  // path, sha256
  std::vector<int64_t> sizes;
  std::string token;
  do {
    std::string target = base + "manifest?max_results=10000&version_id=" + version_id;
    if (!token.empty()) target += "&page_token=" + http::PercentEncode(token);
    ASSIGN_OR_RETURN(json::Value page, api.Must(http::Method::kGet, target));
    if (const json::Value* entries = page.Find("entries"); entries && entries->is_array()) {
      for (const json::Value& e : entries->items()) {
        files.emplace_back(StrOf(e, "path"), StrOf(e, "sha256"));
        sizes.push_back(IntOf(e, "size"));
      }
    }
    token = StrOf(page, "next_page_token");
  } while (!token.empty());
  size_t chosen = files.size();
  std::string csvs;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& path = files[i].first;
    bool is_csv = path.size() > 4 && (path.ends_with(".csv") || path.ends_with(".CSV"));
    if (is_csv) csvs += (csvs.empty() ? "" : ", ") + path;
    if (Args().data_file.empty() ? is_csv : path == Args().data_file) {
      if (chosen != files.size()) {
        return Err(InvalidArgument(fmt::format(
            "Dataset version {} holds several CSV files ({}); choose one with --data-file",
            version_id, csvs)));
      }
      chosen = i;
    }
  }
  if (chosen == files.size()) {
    return Err(
        NotFound(Args().data_file.empty()
                     ? fmt::format("Dataset version {} holds no .csv file", version_id)
                     : fmt::format("Dataset version {} has no file '{}' (CSV files: {})",
                                   version_id, Args().data_file, csvs.empty() ? "none" : csvs)));
  }
  const auto& [path, sha256] = files[chosen];
  if (!IsSha256Hex(sha256)) return Err(Internal("The manifest lists a bad sha256 for " + path));
  ASSIGN_OR_RETURN(std::string bytes, api.Bytes("/api/2.0/mlforge/datasets/objects/" + sha256));
  TrainingData d;
  d.sha256 = Sha256::HexOf(bytes);
  if (d.sha256 != sha256 || static_cast<int64_t>(bytes.size()) != sizes[chosen]) {
    return Err(
        InvalidArgument(fmt::format("The server sent '{}' of dataset version {} with the wrong "
                                    "content (sha256 {}, expected {})",
                                    path, version_id, d.sha256, sha256)));
  }
  d.ref.name = name;
  d.ref.digest = version_id;
  d.ref.source_type = "mlforge_dataset";
  d.ref.source = BuildJson([&](json::Writer& w) {
    w.StartObject()
        .Field("dataset", name)
        .Field("version", IntOf(v, "version"))
        .Field("version_id", version_id)
        .Field("path", path)
        .EndObject();
  });
  d.description =
      fmt::format("{} v{} ({}, {} bytes)", name, IntOf(v, "version"), path, bytes.size());
  d.text = std::move(bytes);
  return d;
}

// ---------------------------------------------------------------------------
// Progress and tags.

// One line rewritten in place on a terminal (at most 10 times a second); a
// plain line every 10 seconds otherwise.
class ConsoleProgress final : public training::TrainingObserver {
 public:
  explicit ConsoleProgress(bool quiet)
      : quiet_(quiet),
        tty_(::isatty(STDERR_FILENO) == 1),
        last_(std::chrono::steady_clock::now()) {}
  ~ConsoleProgress() override { Clear(); }

  Status OnIteration(int iteration, int total,
                     std::span<const training::MetricPoint> metrics) override {
    if (quiet_) return Status::Ok();
    auto now = std::chrono::steady_clock::now();
    auto interval = tty_ ? std::chrono::milliseconds(100) : std::chrono::seconds(10);
    if (now - last_ < interval && iteration != total) return Status::Ok();
    if (!tty_ && iteration == total) return Status::Ok();  // the summary says it
    last_ = now;
    std::string line = fmt::format("training: iteration {}/{}", iteration, total);
    for (const training::MetricPoint& m : metrics)
      line += fmt::format("  {} {:.6g}", m.key, m.value);
    if (tty_) {
      // Padded to the previous line's width, so nothing of it is left over.
      std::fprintf(stderr, "\r%-*s", static_cast<int>(shown_), line.c_str());
      shown_ = line.size();
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    return Status::Ok();
  }

  void Clear() {
    if (shown_ > 0) std::fprintf(stderr, "\r%-*s\r", static_cast<int>(shown_), "");
    shown_ = 0;
  }

 private:
  const bool quiet_;
  const bool tty_;
  std::chrono::steady_clock::time_point last_;
  size_t shown_ = 0;  // width of the line on screen
};

// HEAD of the git checkout around the working directory, or "".
std::string GitCommit() {
  FILE* p = ::popen("git rev-parse HEAD 2>/dev/null", "r");
  if (p == nullptr) return "";
  char buf[128] = {};
  size_t n = std::fread(buf, 1, sizeof(buf) - 1, p);
  ::pclose(p);
  std::string out(buf, n);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  bool hex = out.size() == 40 && out.find_first_not_of("0123456789abcdef") == std::string::npos;
  return hex ? out : "";
}

Result<std::vector<std::pair<std::string, std::string>>> ParseParams(
    const std::vector<std::string>& raw) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& p : raw) {
    size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Err(InvalidArgument("Bad --param '" + p + "': expected KEY=VALUE"));
    }
    out.emplace_back(p.substr(0, eq), p.substr(eq + 1));
  }
  return out;
}

int Run() {
  const TrainArgs& a = Args();
  PreferPassiveOpenMpWaits();
  auto flavor = training::ParseFlavor(a.flavor);
  if (!flavor) return Fail(flavor.error());
  auto params = ParseParams(a.params);
  if (!params) return Fail(params.error());
  auto server = ServerFromFlagOrEnv(a.server, "--server");
  if (!server) return Fail(server.error());
  ServerApi api(*server);

  // Everything local is checked before the server records anything.
  auto data = a.data.starts_with(kDatasetPrefix) ? DatasetData(api, a.data) : LocalData(a.data);
  if (!data) return Fail(data.error());
  training::TrainOptions options{.flavor = *flavor,
                                 .target = a.target,
                                 .features = a.features,
                                 .exclude = a.exclude,
                                 .params = std::move(*params),
                                 .rounds = a.rounds,
                                 .seed = a.seed,
                                 .validation_fraction = a.validation_fraction};
  auto header = training::ReadCsvHeader(data->text);
  if (!header) return Fail(header.error());
  auto columns = training::ColumnsToLoad(*header, options);
  if (!columns) return Fail(columns.error());
  auto table = training::ParseCsv(data->text, *columns);
  if (!table) return Fail(table.error());
  data->text.clear();
  data->text.shrink_to_fit();
  auto trainer = training::PrepareTraining(*table, options);
  if (!trainer) return Fail(trainer.error());

  training::RunRequest request;
  request.experiment_name = a.experiment;
  request.run_name = a.run_name;
  request.dataset = data->ref;
  request.model_uuid = MakeRandomIdGenerator()->NewHexId();
  request.tags = {{"mlflow.source.name", "mlforge train"},
                  {"mlflow.source.type", "LOCAL"},
                  {"mlflow.user", UserName()},
                  {"mlforge.training.data_sha256", data->sha256}};
  if (std::string commit = GitCommit(); !commit.empty()) {
    request.tags.push_back({"mlflow.source.git.commit", commit});
  }
  if (!a.quiet) {
    std::fprintf(stderr, "training %s on %s: %zu train rows, %zu validation rows, %zu features\n",
                 a.flavor.c_str(), data->description.c_str(), (*trainer)->split().train.size(),
                 (*trainer)->split().validation.size(), (*trainer)->features().size());
  }
  std::unique_ptr<training::RunLogger> logger = MakeHttpRunLogger(api, SystemClock::Get());
  ConsoleProgress progress(a.quiet);
  auto outcome =
      training::RunTraining(**trainer, *table, request, *logger, &progress, SystemClock::Get());
  progress.Clear();
  if (!outcome) return Fail(outcome.error());
  for (const std::string& w : outcome->model->warnings())
    std::fprintf(stderr, "note: %s\n", w.c_str());
  std::printf("run %s (experiment '%s', id %s) finished\n", outcome->run_id.c_str(),
              a.experiment.c_str(), outcome->experiment_id.c_str());
  for (const training::NamedValue& m : outcome->model->final_metrics()) {
    std::printf("  %-24s %.6g\n", m.name.c_str(), m.value);
  }
  std::printf("model: runs:/%s/%s\n", outcome->run_id.c_str(), outcome->model_path.c_str());
  if (!a.register_model.empty()) {
    int64_t version = 0;
    Status s = RegisterModelVersion(api, a.register_model, outcome->run_id, &version);
    if (!s.ok()) {
      return Fail(Status(s.code(),
                         "the run is recorded, but registering the model failed: " + s.message()));
    }
    std::printf("registered model '%s' version %lld\n", a.register_model.c_str(),
                static_cast<long long>(version));
  }
  return 0;
}

}  // namespace

void AddTrainCommand(CLI::App& app) {
  TrainArgs& a = Args();
  a.command = app.add_subcommand(
      "train",
      "Train a model (xgboost or linear) on a CSV or a dataset version and record the run");
  a.command
      ->add_option("--data", a.data,
                   "A CSV file, or dataset:NAME[@VERSION] (a version number or id; "
                   "default: the newest) on the server")
      ->required();
  a.command->add_option("--data-file", a.data_file,
                        "Which file of the dataset version (when it holds several CSV files)");
  a.command->add_option("--dataset-name", a.dataset_name,
                        "Name of a local CSV in the run's inputs (default: its file name)");
  a.command->add_option("--target", a.target, "The label column")->required();
  a.command->add_option("--flavor", a.flavor, "xgboost or linear")->capture_default_str();
  a.command->add_option("--param", a.params,
                        "KEY=VALUE, repeatable: xgboost parameters (max_depth, eta, objective, "
                        "num_boost_round, early_stopping_rounds, ...) or linear ones (alpha, "
                        "max_iter, tol, task)");
  a.command->add_option("--rounds", a.rounds, "xgboost boosting rounds (default 100)");
  a.command
      ->add_option("--features", a.features,
                   "Feature columns, comma-separated, in order (default: all but the target)")
      ->delimiter(',');
  a.command->add_option("--exclude", a.exclude, "Columns that are not features (comma-separated)")
      ->delimiter(',');
  a.command->add_option("--experiment", a.experiment, "Experiment name (created if missing)")
      ->required();
  a.command->add_option("--run-name", a.run_name, "Run name (default: the server picks one)");
  a.command->add_option("--register", a.register_model,
                        "Register the model under this name (created if missing)");
  a.command->add_option("--server", a.server,
                        "Tracking server URL (default: $MLFORGE_TRACKING_URI or $MLFLOW_TRACKING_URI)");
  a.command->add_option("--seed", a.seed, "Seed of the split and of xgboost")
      ->capture_default_str();
  a.command
      ->add_option("--validation-fraction", a.validation_fraction,
                   "Share of rows held out for validation, in [0, 1)")
      ->capture_default_str();
  a.command->add_flag("-q,--quiet", a.quiet, "No progress output");
}

bool RunTrainCommand(int* exit_code) {
  if (Args().command == nullptr || !Args().command->parsed()) return false;
  *exit_code = Run();
  return true;
}

}  // namespace mlforge::app

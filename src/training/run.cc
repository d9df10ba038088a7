// RunTraining: one training recorded as one run, through a RunLogger.
#include <fmt/core.h>

#include <map>

#include "base/clock.h"
#include "base/json.h"
#include "training/internal.h"
#include "training/training.h"

namespace mlforge::training {
namespace {

// MLflow's limits on a param (mlflow/utils/validation.py).
constexpr size_t kMaxParamKey = 250;
constexpr size_t kMaxParamValue = 6000;

// A key given twice (xgboost's eval_metric) becomes one param "a,b": MLflow
// refuses a batch holding one key with two values.
std::vector<std::pair<std::string, std::string>> MergedParams(
    const std::vector<std::pair<std::string, std::string>>& params) {
  std::vector<std::pair<std::string, std::string>> out;
  std::map<std::string, size_t, std::less<>> index;
  for (const auto& [k, v] : params) {
    auto [it, fresh] = index.emplace(k, out.size());
    if (fresh) {
      out.emplace_back(k, v);
    } else if (out[it->second].second != v) {
      out[it->second].second += "," + v;
    }
  }
  return out;
}

// Buffers per-iteration metrics and uploads them every `flush_every`
// iterations; forwards every iteration to the progress observer.
class MetricRecorder final : public TrainingObserver {
 public:
  MetricRecorder(RunLogger& logger, TrainingObserver* progress, int flush_every)
      : logger_(logger), progress_(progress), flush_every_(std::max(1, flush_every)) {}

  Status OnIteration(int iteration, int total, std::span<const MetricPoint> metrics) override {
    pending_.insert(pending_.end(), metrics.begin(), metrics.end());
    if (iteration % flush_every_ == 0) RETURN_IF_ERROR(Flush());
    if (progress_) RETURN_IF_ERROR(progress_->OnIteration(iteration, total, metrics));
    return Status::Ok();
  }

  Status Flush() {
    if (pending_.empty()) return Status::Ok();
    Status s = logger_.LogMetrics(pending_);
    pending_.clear();
    return s;
  }

 private:
  RunLogger& logger_;
  TrainingObserver* progress_;
  const int flush_every_;
  std::vector<MetricPoint> pending_;
};

std::string DatasetSchema(const Table& table) {
  std::string out = R"({"mlflow_colspec": [)";
  for (size_t i = 0; i < table.columns.size(); ++i) {
    if (i) out += ", ";
    out += R"({"type": "double", "name": )";
    json::AppendQuoted(out, table.columns[i]);
    out += R"(, "required": true})";
  }
  return out + "]}";
}

std::string DatasetProfile(const Table& table) {
  return fmt::format(R"({{"num_rows": {}, "num_elements": {}}})", table.rows,
                     table.rows * static_cast<int64_t>(table.columns.size()));
}

// Everything after StartRun; any error here ends the run FAILED.
Status RecordRun(Trainer& trainer, const Table& table, const RunRequest& request,
                 const std::vector<std::pair<std::string, std::string>>& params, RunLogger& logger,
                 TrainingObserver* progress, const Clock& clock, RunOutcome& outcome) {
  RETURN_IF_ERROR(logger.LogParams(params));
  RETURN_IF_ERROR(logger.LogInput(request.dataset, DatasetSchema(table), DatasetProfile(table)));
  MetricRecorder recorder(logger, progress, request.metric_flush_every);
  ASSIGN_OR_RETURN(outcome.model, trainer.Train(&recorder, clock));
  RETURN_IF_ERROR(recorder.Flush());
  const TrainedModel& model = *outcome.model;
  std::vector<MetricPoint> finals;
  const int64_t now = clock.NowMillis();
  for (const NamedValue& m : model.final_metrics()) finals.push_back({m.name, m.value, 0, now});
  RETURN_IF_ERROR(logger.LogMetrics(finals));
  PackageInfo info{.run_id = outcome.run_id,
                   .artifact_path = outcome.model_path,
                   .model_uuid = request.model_uuid,
                   .created_millis = now,
                   .dataset = request.dataset};
  ASSIGN_OR_RETURN(std::vector<PackageFile> files, BuildPackage(model, info));
  // MLmodel last: a package with an MLmodel file is a complete one.
  std::stable_partition(files.begin(), files.end(),
                        [](const PackageFile& f) { return f.path != "MLmodel"; });
  for (const PackageFile& f : files) {
    RETURN_IF_ERROR(logger.UploadArtifact(outcome.model_path + "/" + f.path, f.bytes));
  }
  return logger.EndRun(RunEnd::kFinished);
}

}  // namespace

Result<RunOutcome> RunTraining(Trainer& trainer, const Table& table, const RunRequest& request,
                               RunLogger& logger, TrainingObserver* progress, const Clock& clock) {
  // Checked before the run exists, so a refused param leaves nothing behind.
  std::vector<std::pair<std::string, std::string>> params = MergedParams(trainer.params());
  for (const auto& [k, v] : params) {
    if (k.empty() || k.size() > kMaxParamKey || v.size() > kMaxParamValue) {
      return Err(
          InvalidArgument(fmt::format("--param {}: keys are 1 to {} characters, values at most {}",
                                      k.substr(0, 40), kMaxParamKey, kMaxParamValue)));
    }
  }
  std::vector<Tag> tags = request.tags;
  tags.push_back({"mlforge.flavor", trainer.flavor() == Flavor::kXgboost ? "xgboost" : "linear"});
  tags.push_back({"mlforge.training.dataset", request.dataset.name + "@" + request.dataset.digest});
  ASSIGN_OR_RETURN(RunLogger::Started started,
                   logger.StartRun(request.experiment_name, request.run_name, tags));
  RunOutcome outcome;
  outcome.run_id = started.run_id;
  outcome.experiment_id = started.experiment_id;
  outcome.model_path = "model";
  Status s = RecordRun(trainer, table, request, params, logger, progress, clock, outcome);
  if (!s.ok()) {
    // The original error is what the user needs; a failure to mark the run is secondary.
    (void)logger.EndRun(RunEnd::kFailed);
    return Err(std::move(s));
  }
  return outcome;
}

}  // namespace mlforge::training

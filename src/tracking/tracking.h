// Experiment tracking: experiments, runs, params, metric histories, tags,
// dataset inputs. MLflow's tracking semantics (validation, limits, NaN/inf
// handling, search) over the sql layer. Facade of the subsystem: everything
// else in src/tracking is private.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mlforge {
class Clock;
class IdGenerator;
namespace sql {
class Database;
}
}  // namespace mlforge

namespace mlforge::tracking {

// MLflow's documented limits (mlflow/utils/validation.py, 2.x).
inline constexpr int kMaxEntitiesPerBatch = 1000;
inline constexpr int kMaxMetricsPerBatch = 1000;
inline constexpr int kMaxParamsTagsPerBatch = 100;
inline constexpr size_t kMaxParamValueLength = 6000;
inline constexpr size_t kMaxTagValueLength = 5000;
inline constexpr size_t kMaxEntityKeyLength = 250;
inline constexpr size_t kMaxExperimentNameLength = 256;  // MLflow's column width
inline constexpr size_t kMaxRunNameLength = 250;
inline constexpr size_t kMaxDescriptionLength = 65'536;
inline constexpr int kMaxResultsSearchRuns = 50'000;
inline constexpr int kMaxResultsSearchExperiments = 50'000;
inline constexpr int kMaxResultsMetricHistory = 100'000'000;

enum class ViewType { kActiveOnly, kDeletedOnly, kAll };

// MLflow's rule for tag keys (_validate_tag_name: characters, no aliasing as
// a path) and the 250-character key limit; shared with the registry's tags.
Status ValidateTagKey(std::string_view key);

struct Tag {
  std::string key;
  std::string value;
};
using Param = Tag;

struct Metric {
  std::string key;
  double value = 0;  // NaN and ±inf as MLflow: NaN kept, ±inf -> ±DBL_MAX
  int64_t timestamp = 0;
  int64_t step = 0;
};

struct Experiment {
  std::string experiment_id;
  std::string name;
  std::string artifact_location;
  std::string lifecycle_stage;  // "active" | "deleted"
  int64_t creation_time = 0;
  int64_t last_update_time = 0;
  std::vector<Tag> tags;
};

struct RunInfo {
  std::string run_id;
  std::string run_name;
  std::string experiment_id;
  std::string user_id;
  std::string status;  // RUNNING | SCHEDULED | FINISHED | FAILED | KILLED
  int64_t start_time = 0;
  std::optional<int64_t> end_time;
  std::string artifact_uri;
  std::string lifecycle_stage;
};

struct Dataset {
  std::string name;
  std::string digest;
  std::string source_type;
  std::string source;
  std::string schema;   // optional
  std::string profile;  // optional
};

struct DatasetInput {
  std::vector<Tag> tags;
  Dataset dataset;
};

struct Run {
  RunInfo info;
  std::vector<Metric> metrics;  // latest value per key
  std::vector<Param> params;
  std::vector<Tag> tags;
  std::vector<DatasetInput> inputs;
};

struct CreateExperimentRequest {
  std::string name;
  std::string artifact_location;  // empty: the server chooses
  std::vector<Tag> tags;
};

struct SearchExperimentsRequest {
  int max_results = 1000;
  std::string page_token;
  std::string filter;
  std::vector<std::string> order_by;
  ViewType view_type = ViewType::kActiveOnly;
};

struct ExperimentPage {
  std::vector<Experiment> experiments;
  std::string next_page_token;
};

struct CreateRunRequest {
  std::string experiment_id;  // empty: "0"
  std::string user_id;
  std::string run_name;       // empty: generated (or from an mlflow.runName tag)
  std::optional<int64_t> start_time;
  std::vector<Tag> tags;
};

struct UpdateRunRequest {
  std::string run_id;
  std::optional<std::string> status;
  std::optional<int64_t> end_time;
  std::optional<std::string> run_name;
};

struct SearchRunsRequest {
  std::vector<std::string> experiment_ids;
  std::string filter;
  ViewType run_view_type = ViewType::kActiveOnly;
  int max_results = 1000;
  std::vector<std::string> order_by;
  std::string page_token;
};

struct RunPage {
  std::vector<Run> runs;
  std::string next_page_token;
};

struct MetricHistoryRequest {
  std::string run_id;
  std::string metric_key;
  int max_results = 0;  // 0: everything in one page
  std::string page_token;
};

struct MetricHistoryPage {
  std::vector<Metric> metrics;
  std::string next_page_token;
};

struct BulkIntervalRequest {
  std::vector<std::string> run_ids;  // 1..100
  std::string metric_key;
  std::optional<int64_t> start_step;  // both or neither
  std::optional<int64_t> end_step;
  int max_results = 2500;  // 1..2500 sampled steps (MLflow's MAX_RESULTS_PER_RUN)
};

struct MetricWithRunId {
  Metric metric;
  std::string run_id;
};

struct TrackingOptions {
  // Root URI of run artifacts; experiments get "<root>/<experiment_id>" and
  // runs "<root>/<experiment_id>/<run_id>/artifacts".
  std::string artifact_root = "mlflow-artifacts:";
};

// Thread-safe: every call is one database transaction.
class TrackingService {
 public:
  // Applies the tracking schema migrations and creates experiment "0"
  // ("Default") if missing. The database, clock and ids must outlive it.
  static Result<std::unique_ptr<TrackingService>> Open(sql::Database& db, const Clock& clock,
                                                       IdGenerator& ids,
                                                       TrackingOptions options = {});
  virtual ~TrackingService() = default;

  // Experiments.
  virtual Result<std::string> CreateExperiment(const CreateExperimentRequest& req) = 0;
  virtual Result<Experiment> GetExperiment(std::string_view experiment_id) = 0;
  virtual Result<Experiment> GetExperimentByName(std::string_view name) = 0;
  virtual Result<ExperimentPage> SearchExperiments(const SearchExperimentsRequest& req) = 0;
  virtual Status DeleteExperiment(std::string_view experiment_id) = 0;
  virtual Status RestoreExperiment(std::string_view experiment_id) = 0;
  virtual Status RenameExperiment(std::string_view experiment_id, std::string_view new_name) = 0;
  virtual Status SetExperimentTag(std::string_view experiment_id, const Tag& tag) = 0;
  virtual Status DeleteExperimentTag(std::string_view experiment_id, std::string_view key) = 0;

  // Runs.
  virtual Result<Run> CreateRun(const CreateRunRequest& req) = 0;
  virtual Result<Run> GetRun(std::string_view run_id) = 0;
  virtual Result<RunInfo> UpdateRun(const UpdateRunRequest& req) = 0;
  virtual Status DeleteRun(std::string_view run_id) = 0;
  virtual Status RestoreRun(std::string_view run_id) = 0;
  virtual Result<RunPage> SearchRuns(const SearchRunsRequest& req) = 0;

  // Run data. All writes require an active run.
  virtual Status LogMetric(std::string_view run_id, const Metric& metric) = 0;
  virtual Status LogParam(std::string_view run_id, const Param& param) = 0;
  virtual Status SetTag(std::string_view run_id, const Tag& tag) = 0;
  virtual Status DeleteTag(std::string_view run_id, std::string_view key) = 0;
  // Atomic: all or nothing. Limits as MLflow's log-batch.
  virtual Status LogBatch(std::string_view run_id, std::span<const Metric> metrics,
                          std::span<const Param> params, std::span<const Tag> tags) = 0;
  virtual Status LogInputs(std::string_view run_id, std::span<const DatasetInput> inputs) = 0;

  // Metric history, ordered by step, then timestamp, then value.
  virtual Result<MetricHistoryPage> GetMetricHistory(const MetricHistoryRequest& req) = 0;
  virtual Result<std::vector<MetricWithRunId>> GetMetricHistoryBulkInterval(
      const BulkIntervalRequest& req) = 0;
};

}  // namespace mlforge::tracking

// Built-in training (`mlforge train`, docs/training.md): CSV tables, a seeded
// train/validation split, xgboost (libxgboost) and linear/logistic models
// (Eigen), evaluation metrics, and the MLflow model package. Facade of the
// subsystem: everything else in src/training is private; libxgboost and Eigen
// stay in its .cc files.
//
// Training never talks to another domain. Where a run is recorded is the
// caller's business: RunTraining reports through a RunLogger, which app/
// implements over the tracking server's REST API.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace mlforge {
class Clock;
}

namespace mlforge::training {

// ---------------------------------------------------------------------------
// Tables (pure functions; thread-safe).

// Numeric columns, row-major; NaN marks a missing value. Immutable value type.
struct Table {
  std::vector<std::string> columns;
  int64_t rows = 0;
  std::vector<double> values;  // rows * columns.size()
  double at(int64_t row, size_t col) const {
    return values[static_cast<size_t>(row) * columns.size() + col];
  }
};

// The header row of a CSV text: the column names, in order. Errors
// (kInvalidParameterValue): no header, an empty or duplicate name.
Result<std::vector<std::string>> ReadCsvHeader(std::string_view text);

// Parses CSV text (header row, then one row per line; RFC 4180 quoting; LF or
// CRLF; blank lines skipped) keeping `columns` (all when empty) in the
// header's order. Cells are decimal numbers; an empty cell (or "nan") is
// missing (NaN). Errors (kInvalidParameterValue) name the line and column:
// a non-numeric or infinite value, a row whose field count differs from the
// header's, an unknown column. Only kept columns are parsed as numbers.
Result<Table> ParseCsv(std::string_view text, std::span<const std::string> columns = {});

// ---------------------------------------------------------------------------
// Split.

struct Split {
  std::vector<int64_t> train;       // row indices, ascending
  std::vector<int64_t> validation;  // row indices, ascending
};

// A seeded random split: round(rows * validation_fraction) validation rows,
// at least one on each side when the fraction is above 0 and rows >= 2. The
// same (rows, fraction, seed) gives the same split on every platform (the
// generator is our own, not the standard library's distributions).
// Errors: no rows; fraction outside [0, 1).
Result<Split> SplitRows(int64_t rows, double validation_fraction, uint64_t seed);

// ---------------------------------------------------------------------------
// Metrics (pure functions). `y` and `pred` have the same length; binary
// predictions are probabilities of class 1, thresholded at 0.5.

double Rmse(std::span<const double> y, std::span<const double> pred);
double Mae(std::span<const double> y, std::span<const double> pred);
// 1 - SS_res / SS_tot; for a constant y: 1 if the fit is perfect, else 0.
double R2(std::span<const double> y, std::span<const double> pred);
double Accuracy(std::span<const double> y, std::span<const double> prob);
// Mean negative log-likelihood, probabilities clipped to [1e-15, 1 - 1e-15].
double LogLoss(std::span<const double> y, std::span<const double> prob);
// Area under the ROC curve (ties count half); NaN when y has one class only.
double RocAuc(std::span<const double> y, std::span<const double> prob);
// 0 when undefined (no positive prediction / no positive label).
double Precision(std::span<const double> y, std::span<const double> prob);
double Recall(std::span<const double> y, std::span<const double> prob);
double F1(std::span<const double> y, std::span<const double> prob);
// Multiclass: `prob` holds y.size() rows of `classes` probabilities.
double MultiAccuracy(std::span<const double> y, std::span<const double> prob, int classes);
double MultiLogLoss(std::span<const double> y, std::span<const double> prob, int classes);

enum class Task { kRegression, kBinary, kMulticlass };
std::string_view TaskName(Task task);  // "regression", "binary", "multiclass"

struct NamedValue {
  std::string name;
  double value = 0;
};
// The final metrics of a task, each named prefix + "rmse" etc.: regression
// rmse, mae, r2; binary accuracy, log_loss, roc_auc (when defined),
// precision, recall, f1; multiclass accuracy, log_loss.
std::vector<NamedValue> EvaluateTask(Task task, int classes, std::span<const double> y,
                                     std::span<const double> pred, std::string_view prefix);

// ---------------------------------------------------------------------------
// Linear models (Eigen inside linear.cc).

// A fitted linear model: score = intercept + coef . x. For kBinary the
// prediction is sigmoid(score).
struct LinearModel {
  Task task = Task::kRegression;
  std::vector<std::string> features;
  std::vector<double> coef;
  double intercept = 0;
};

// Row-major design matrix view: rows x cols, no missing values.
struct MatrixView {
  const double* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

// Least squares with an unpenalized intercept: minimizes
// sum (y - Xb - c)^2 + alpha * |b|^2 (alpha >= 0; 0 = ordinary least squares,
// solved by column-pivoting QR so collinear columns still give a solution).
Result<LinearModel> FitLeastSquares(MatrixView x, std::span<const double> y, double alpha);

struct LogisticOptions {
  double alpha = 1.0;  // L2 strength: minimizes sum logloss + alpha/2 |b|^2 (sklearn's 1/C)
  int max_iter = 100;
  double tol = 1e-8;  // stop when the objective improves by less than tol * objective
};
struct LogisticFit {
  LinearModel model;
  int iterations = 0;
  bool converged = false;
};
// Logistic regression for y in {0, 1} by Newton's method (IRLS) with a
// backtracking line search, intercept unpenalized. `on_iteration` (may be
// empty) sees the model after each iteration (1-based); returning a non-ok
// Status stops the fit with it.
Result<LogisticFit> FitLogistic(MatrixView x, std::span<const double> y,
                                const LogisticOptions& options,
                                const std::function<Status(int, const LinearModel&)>& on_iteration);

// Predictions (the response: value or probability) for each row of x.
std::vector<double> PredictLinear(const LinearModel& model, MatrixView x);

// The mlforge.linear flavor's model file (docs/training.md):
// {"format": "mlforge.linear/1", "task": "regression" | "binary_logistic",
//  "features": [...], "coef": [...], "intercept": x}.
std::string EncodeLinearModel(const LinearModel& model);

// ---------------------------------------------------------------------------
// Training.

enum class Flavor { kXgboost, kLinear };
// "xgboost" | "linear"; kInvalidParameterValue otherwise.
Result<Flavor> ParseFlavor(std::string_view name);

struct TrainOptions {
  Flavor flavor = Flavor::kXgboost;
  std::string target;
  // Feature columns in order; empty: every column but the target and `exclude`.
  std::vector<std::string> features;
  std::vector<std::string> exclude;
  // --param k=v, in order (xgboost: passed through; a key may repeat, e.g.
  // eval_metric). Keys training itself reads: num_boost_round,
  // early_stopping_rounds (xgboost); alpha, max_iter, tol, task (linear).
  std::vector<std::pair<std::string, std::string>> params;
  int rounds = 0;  // xgboost rounds; 0: num_boost_round param, else 100
  uint64_t seed = 42;
  double validation_fraction = 0.2;
};

struct MetricPoint {
  std::string key;
  double value = 0;
  int64_t step = 0;
  int64_t timestamp = 0;  // ms since the epoch
};

// One file of a model package, relative to the package root ("MLmodel").
struct PackageFile {
  std::string path;
  std::string bytes;
};

// What the package records about the data it was trained on.
struct DatasetRef {
  std::string name;
  std::string digest;       // dataset version id, or the would-be one of a local file
  std::string source_type;  // MLflow's: "local", "mlforge_dataset", ...
  std::string source;       // JSON text, e.g. {"uri": "..."}
};

// Sees training progress; called on the training thread.
class TrainingObserver {
 public:
  virtual ~TrainingObserver() = default;
  // After iteration `iteration` (1-based) of at most `total`, with the
  // iteration's metrics (step = iteration). A non-ok Status stops training.
  virtual Status OnIteration(int iteration, int total, std::span<const MetricPoint> metrics) = 0;
};

// A model trained and evaluated, not yet packaged. Immutable; thread-safe.
class TrainedModel {
 public:
  virtual ~TrainedModel() = default;
  virtual Flavor flavor() const = 0;
  virtual Task task() const = 0;
  virtual const std::vector<std::string>& features() const = 0;
  // train_* and validation_* metrics of the final model.
  virtual const std::vector<NamedValue>& final_metrics() const = 0;
  // The predictions training computed for the validation rows (Split order),
  // `outputs()` values per row.
  virtual const std::vector<double>& validation_predictions() const = 0;
  virtual int outputs() const = 0;
  // Iterations run (boosting rounds kept, Newton steps; 1 for least squares).
  virtual int iterations() const = 0;
  // Notes for the user (e.g. "did not converge"); empty when none.
  virtual const std::vector<std::string>& warnings() const = 0;
  // Flavor files of the package (model.json), without MLmodel.
  virtual Result<std::vector<PackageFile>> ModelFiles() const = 0;
  // The MLmodel flavors block, as YAML lines indented by two spaces.
  virtual std::string FlavorsYaml() const = 0;
};

// Prepared training: data, split and parameters checked, nothing run yet.
// Externally synchronized.
class Trainer {
 public:
  virtual ~Trainer() = default;
  virtual Flavor flavor() const = 0;
  // Every effective parameter (given, inferred and defaulted), for the run.
  virtual const std::vector<std::pair<std::string, std::string>>& params() const = 0;
  virtual const Split& split() const = 0;
  virtual const std::vector<std::string>& features() const = 0;
  virtual Task task() const = 0;
  // Trains; observer may be null. May be called once.
  virtual Result<std::unique_ptr<TrainedModel>> Train(TrainingObserver* observer,
                                                      const Clock& clock) = 0;
};

// Checks everything that can be checked before training starts (columns,
// target values, missing values for linear, parameters — xgboost configures
// a booster and evaluates it once), so a bad invocation fails before any run
// exists. Errors are kInvalidParameterValue with a message for the user.
Result<std::unique_ptr<Trainer>> PrepareTraining(const Table& table, const TrainOptions& options);

// The columns a table needs for these options, in the order ParseCsv keeps
// them, given the CSV header: the features and the target. Errors: unknown
// target, feature or excluded column; no feature left.
Result<std::vector<std::string>> ColumnsToLoad(std::span<const std::string> header,
                                               const TrainOptions& options);

// ---------------------------------------------------------------------------
// Model package (MLflow's MLmodel layout).

struct PackageInfo {
  std::string run_id;
  std::string artifact_path = "model";
  std::string model_uuid;      // 32 hex chars
  int64_t created_millis = 0;  // utc_time_created
  DatasetRef dataset;          // recorded in MLmodel metadata
};

// The MLmodel YAML as MLflow 2.12 writes it: artifact_path, flavors,
// metadata (the training dataset), mlflow_version, model_uuid, run_id,
// signature (inputs: the feature columns as doubles, in order; outputs),
// utc_time_created.
std::string MLmodelYaml(const TrainedModel& model, const PackageInfo& info);
// MLmodel plus the model files.
Result<std::vector<PackageFile>> BuildPackage(const TrainedModel& model, const PackageInfo& info);

// MLflow's column signature JSON (what MLmodel's signature inputs/outputs
// hold), e.g. [{"type": "double", "name": "x1", "required": true}].
std::string SignatureInputsJson(std::span<const std::string> features);
std::string SignatureOutputsJson(const TrainedModel& model);

// ---------------------------------------------------------------------------
// Recording a training run.

struct Tag {
  std::string key;
  std::string value;
};

enum class RunEnd { kFinished, kFailed };

// Where RunTraining records its run (app/ implements it over the tracking
// server's REST API). Externally synchronized; calls come in this order:
// StartRun, then any of the others, EndRun last.
class RunLogger {
 public:
  virtual ~RunLogger() = default;
  struct Started {
    std::string run_id;
    std::string experiment_id;
  };
  // Creates the run (and its experiment when missing).
  virtual Result<Started> StartRun(std::string_view experiment_name, std::string_view run_name,
                                   std::span<const Tag> tags) = 0;
  virtual Status LogParams(std::span<const std::pair<std::string, std::string>> params) = 0;
  virtual Status LogMetrics(std::span<const MetricPoint> metrics) = 0;
  // MLflow log-inputs with context "training"; `schema` is MLflow's
  // {"mlflow_colspec": [...]}, `profile` {"num_rows": ..., ...}.
  virtual Status LogInput(const DatasetRef& dataset, std::string_view schema,
                          std::string_view profile) = 0;
  // Stores one run artifact at `path` (run-relative, e.g. "model/MLmodel").
  virtual Status UploadArtifact(std::string_view path, std::string_view bytes) = 0;
  virtual Status EndRun(RunEnd end) = 0;
};

struct RunRequest {
  std::string experiment_name;
  std::string run_name;   // empty: the server picks one
  std::vector<Tag> tags;  // added to the run's tags (source, user, git commit)
  DatasetRef dataset;
  std::string model_uuid;       // for MLmodel
  int metric_flush_every = 50;  // iterations between metric uploads
};

struct RunOutcome {
  std::string run_id;
  std::string experiment_id;
  std::string model_path;  // run-relative artifact folder of the package ("model")
  std::unique_ptr<TrainedModel> model;
};

// Records one training: creates the run (tags, params, dataset input), trains
// with per-iteration metrics, uploads the package under model/ and the final
// metrics, and ends the run FINISHED. If training or recording fails once the
// run exists, the run is ended FAILED and the error returned. `progress` (may
// be null) sees every iteration too.
Result<RunOutcome> RunTraining(Trainer& trainer, const Table& table, const RunRequest& request,
                               RunLogger& logger, TrainingObserver* progress, const Clock& clock);

}  // namespace mlforge::training

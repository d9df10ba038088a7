// The `linear` flavor: least squares for a numeric target, logistic
// regression for a 0/1 target; packaged as mlforge.linear.
#include <fmt/core.h>

#include <optional>

#include "base/clock.h"
#include "training/internal.h"
#include "training/training.h"

namespace mlforge::training::internal {
namespace {

class LinearTrained final : public TrainedModelBase {
 public:
  LinearModel model;

  Result<std::vector<PackageFile>> ModelFiles() const override {
    return std::vector<PackageFile>{{"model.json", EncodeLinearModel(model)}};
  }
  std::string FlavorsYaml() const override {
    return fmt::format(
        "  mlforge.linear:\n"
        "    data: model.json\n"
        "    format: mlforge.linear/1\n"
        "    task: {}\n",
        model.task == Task::kBinary ? "binary_logistic" : "regression");
  }
};

class LinearTrainer final : public TrainerBase {
 public:
  LinearTrainer(PreparedData data, Task task, LogisticOptions logistic, double alpha)
      : TrainerBase(Flavor::kLinear, std::move(data), task), logistic_(logistic), alpha_(alpha) {
    params_.emplace_back("task", task_ == Task::kBinary ? "binary_logistic" : "regression");
    params_.emplace_back("alpha", NumberText(task_ == Task::kBinary ? logistic_.alpha : alpha_));
    if (task_ == Task::kBinary) {
      params_.emplace_back("solver", "newton");
      params_.emplace_back("max_iter", std::to_string(logistic_.max_iter));
      params_.emplace_back("tol", NumberText(logistic_.tol));
    } else {
      params_.emplace_back("solver", alpha_ == 0 ? "least_squares" : "ridge");
    }
  }

  Result<std::unique_ptr<TrainedModel>> Train(TrainingObserver* observer,
                                              const Clock& clock) override {
    const MatrixView train{data_.x_train.data(), static_cast<int64_t>(data_.y_train.size()),
                           static_cast<int64_t>(data_.features.size())};
    const MatrixView valid{data_.x_valid.data(), static_cast<int64_t>(data_.y_valid.size()),
                           train.cols};
    auto trained = std::make_unique<LinearTrained>();
    // Per-iteration metrics: the loss on both splits, keyed like xgboost's.
    const std::string loss = task_ == Task::kBinary ? "logloss" : "rmse";
    auto report = [&](int iteration, int total, const LinearModel& m) -> Status {
      if (observer == nullptr) return Status::Ok();
      std::vector<MetricPoint> points;
      int64_t now = clock.NowMillis();
      auto add = [&](const std::string& split, const std::vector<double>& y, MatrixView x) {
        if (y.empty()) return;
        std::vector<double> p = PredictLinear(m, x);
        double v = task_ == Task::kBinary ? LogLoss(y, p) : Rmse(y, p);
        points.push_back({split + "-" + loss, v, iteration, now});
      };
      add("train", data_.y_train, train);
      add("validation", data_.y_valid, valid);
      return observer->OnIteration(iteration, total, points);
    };
    if (task_ == Task::kBinary) {
      ASSIGN_OR_RETURN(LogisticFit fit, FitLogistic(train, data_.y_train, logistic_,
                                                    [&](int it, const LinearModel& m) {
                                                      return report(it, logistic_.max_iter, m);
                                                    }));
      trained->model = std::move(fit.model);
      trained->iterations_ = fit.iterations;
      if (!fit.converged) {
        trained->warnings_.push_back(fmt::format(
            "logistic regression did not converge in {} iterations (separable data? try a larger "
            "--param alpha= or --param max_iter=)",
            fit.iterations));
      }
    } else {
      ASSIGN_OR_RETURN(trained->model, FitLeastSquares(train, data_.y_train, alpha_));
      trained->iterations_ = 1;
      RETURN_IF_ERROR(report(1, 1, trained->model));
    }
    trained->model.features = data_.features;
    Describe(*trained);
    trained->outputs_ = 1;
    trained->Evaluate(data_, PredictLinear(trained->model, train),
                      PredictLinear(trained->model, valid));
    return std::unique_ptr<TrainedModel>(std::move(trained));
  }

 private:
  const LogisticOptions logistic_;
  const double alpha_;
};

}  // namespace

Result<std::unique_ptr<Trainer>> PrepareLinear(PreparedData data, const TrainOptions& options) {
  LogisticOptions logistic;
  std::optional<double> alpha;
  std::string task_name;
  for (const auto& [key, value] : options.params) {
    if (key == "alpha") {
      ASSIGN_OR_RETURN(alpha, ParseDoubleParam(key, value));
      if (*alpha < 0) return Err(InvalidArgument("--param alpha must be >= 0"));
    } else if (key == "max_iter") {
      ASSIGN_OR_RETURN(int64_t v, ParseIntParam(key, value));
      if (v < 1 || v > 100'000)
        return Err(InvalidArgument("--param max_iter must be in [1, 100000]"));
      logistic.max_iter = static_cast<int>(v);
    } else if (key == "tol") {
      ASSIGN_OR_RETURN(logistic.tol, ParseDoubleParam(key, value));
      if (logistic.tol < 0) return Err(InvalidArgument("--param tol must be >= 0"));
    } else if (key == "task") {
      task_name = value;
    } else {
      return Err(InvalidArgument(fmt::format(
          "Unknown --param '{}' for the linear flavor (known: alpha, max_iter, tol, task)", key)));
    }
  }
  if (options.rounds != 0) return Err(InvalidArgument("--rounds applies to the xgboost flavor"));
  Task task = data.labels_binary ? Task::kBinary : Task::kRegression;
  if (task_name == "regression") {
    task = Task::kRegression;
  } else if (task_name == "binary_logistic" || task_name == "binary") {
    if (!data.labels_binary) {
      return Err(InvalidArgument("--param task=binary_logistic needs a target of 0 and 1 only"));
    }
    task = Task::kBinary;
  } else if (!task_name.empty()) {
    return Err(
        InvalidArgument("--param task=" + task_name + ": expected regression or binary_logistic"));
  }
  if (data.has_missing) {
    return Err(InvalidArgument(fmt::format(
        "Column '{}' is empty in data row {}: the linear flavor needs every feature value (fill "
        "the missing values, or use --flavor xgboost, which handles them)",
        data.first_missing_column, data.first_missing_row + 1)));
  }
  // sklearn's defaults: plain least squares; logistic with C = 1.
  if (task == Task::kBinary) logistic.alpha = alpha.value_or(1.0);
  return std::unique_ptr<Trainer>(
      std::make_unique<LinearTrainer>(std::move(data), task, logistic, alpha.value_or(0.0)));
}

}  // namespace mlforge::training::internal

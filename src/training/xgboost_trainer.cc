// The `xgboost` flavor through libxgboost's C API; packaged in MLflow's
// xgboost flavor layout (model.json) with a python_function flavor.
#include <fmt/core.h>
#include <xgboost/c_api.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>

#include "base/clock.h"
#include "training/internal.h"
#include "training/training.h"

namespace mlforge::training::internal {
namespace {

// libxgboost's last error, without the stack trace it appends.
Status XgbStatus(int rc, std::string_view what) {
  if (rc == 0) return Status::Ok();
  std::string msg = XGBGetLastError();
  if (size_t cut = msg.find("\nStack trace:"); cut != std::string::npos) msg.resize(cut);
  // "[10:32:32] ./src/objective/objective.cc:26: Unknown objective ..." -> the message.
  if (msg.starts_with('[')) {
    if (size_t src = msg.find(": "); src != std::string::npos && msg.find(".cc:") < src + 2) {
      msg = msg.substr(src + 2);
    }
  }
  // Only the first line: some errors append long lists of candidates.
  if (size_t eol = msg.find('\n'); eol != std::string::npos) msg.resize(eol);
  while (!msg.empty() && msg.back() == ' ') msg.pop_back();
  return InvalidArgument(fmt::format("xgboost: {}: {}", what, msg));
}

struct DMatrixFree {
  void operator()(void* h) const { XGDMatrixFree(h); }
};
struct BoosterFree {
  void operator()(void* h) const { XGBoosterFree(h); }
};
using DMatrix = std::unique_ptr<void, DMatrixFree>;
using Booster = std::unique_ptr<void, BoosterFree>;

// xgboost's Python package refuses these characters in feature names.
bool NamesUsable(const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    if (n.find_first_of("[]<") != std::string::npos) return false;
  }
  return true;
}

std::vector<const char*> CStrings(const std::vector<std::string>& names) {
  std::vector<const char*> out;
  for (const std::string& n : names) out.push_back(n.c_str());
  return out;
}

// nthread: the booster's --param nthread (0: every core), so a user who
// limits threads limits them everywhere.
Result<DMatrix> MakeDMatrix(const std::vector<double>& x, const std::vector<double>& y,
                            const std::vector<std::string>& features, int nthread) {
  std::vector<float> values(x.begin(), x.end());
  DMatrixHandle h = nullptr;
  RETURN_IF_ERROR(
      XgbStatus(XGDMatrixCreateFromMat_omp(values.data(), y.size(), features.size(),
                                           std::numeric_limits<float>::quiet_NaN(), &h, nthread),
                "creating the data matrix"));
  DMatrix m(h);
  std::vector<float> labels(y.begin(), y.end());
  RETURN_IF_ERROR(
      XgbStatus(XGDMatrixSetFloatInfo(h, "label", labels.data(), labels.size()), "setting labels"));
  if (NamesUsable(features)) {
    auto names = CStrings(features);
    RETURN_IF_ERROR(
        XgbStatus(XGDMatrixSetStrFeatureInfo(h, "feature_name", names.data(), names.size()),
                  "feature names"));
  }
  return m;
}

// Metrics where a larger value is better (xgboost's own rule for early stopping).
bool Maximized(std::string_view metric) {
  for (std::string_view p : {"auc", "aucpr", "map", "ndcg", "pre"}) {
    if (metric.starts_with(p)) return true;
  }
  return false;
}

// "[3]\ttrain-rmse:0.12\tvalidation-rmse:0.2" -> (train-rmse, 0.12), ...
std::vector<NamedValue> ParseEval(std::string_view text) {
  std::vector<NamedValue> out;
  size_t pos = text.find('\t');
  while (pos != std::string_view::npos) {
    size_t next = text.find('\t', pos + 1);
    std::string_view item =
        text.substr(pos + 1, next == std::string_view::npos ? next : next - pos - 1);
    size_t colon = item.rfind(':');
    if (colon != std::string_view::npos) {
      out.push_back({std::string(item.substr(0, colon)),
                     std::strtod(std::string(item.substr(colon + 1)).c_str(), nullptr)});
    }
    pos = next;
  }
  return out;
}

std::string XgbVersion() {
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  return fmt::format("{}.{}.{}", major, minor, patch);
}

class XgboostTrained final : public TrainedModelBase {
 public:
  std::string model_json;

  Result<std::vector<PackageFile>> ModelFiles() const override {
    return std::vector<PackageFile>{{"model.json", model_json}};
  }
  // MLflow's xgboost flavor (model_format json) and the python_function
  // entry that lets mlflow.pyfunc load it.
  std::string FlavorsYaml() const override {
    return fmt::format(
        "  python_function:\n"
        "    data: model.json\n"
        "    loader_module: mlflow.xgboost\n"
        "  xgboost:\n"
        "    code: null\n"
        "    data: model.json\n"
        "    model_class: xgboost.core.Booster\n"
        "    model_format: json\n"
        "    xgb_version: {}\n",
        YamlScalar(XgbVersion()));
  }
};

class XgboostTrainer final : public TrainerBase {
 public:
  // extra_params: the booster's parameters and training's own, after the common ones.
  XgboostTrainer(PreparedData data, Task task, int classes, int rounds,
                 std::optional<int> early_stopping, DMatrix train, DMatrix valid, Booster booster,
                 const std::vector<std::pair<std::string, std::string>>& extra_params)
      : TrainerBase(Flavor::kXgboost, std::move(data), task),
        classes_(classes),
        rounds_(rounds),
        early_stopping_(early_stopping),
        train_(std::move(train)),
        valid_(std::move(valid)),
        booster_(std::move(booster)) {
    params_.insert(params_.end(), extra_params.begin(), extra_params.end());
  }

  Result<std::unique_ptr<TrainedModel>> Train(TrainingObserver* observer,
                                              const Clock& clock) override {
    DMatrixHandle dmats[2] = {train_.get(), valid_.get()};
    const char* names[2] = {"train", "validation"};
    const bst_ulong n_eval = valid_ ? 2 : 1;
    int best_iteration = -1;  // 0-based
    double best_score = 0;
    int ran = 0;
    for (int iter = 0; iter < rounds_; ++iter) {
      RETURN_IF_ERROR(XgbStatus(XGBoosterUpdateOneIter(booster_.get(), iter, train_.get()),
                                fmt::format("boosting round {}", iter + 1)));
      ran = iter + 1;
      const char* eval = nullptr;
      RETURN_IF_ERROR(XgbStatus(
          XGBoosterEvalOneIter(booster_.get(), iter, dmats, names, n_eval, &eval), "evaluating"));
      std::vector<NamedValue> values = ParseEval(eval);
      std::vector<MetricPoint> points;
      const int64_t now = clock.NowMillis();
      for (const NamedValue& v : values) points.push_back({v.name, v.value, iter + 1, now});
      if (observer) RETURN_IF_ERROR(observer->OnIteration(iter + 1, rounds_, points));
      if (!early_stopping_ || values.empty()) continue;
      // xgboost's rule: the last metric on the last evaluation set decides.
      const NamedValue& decisive = values.back();
      const std::string metric = decisive.name.substr(decisive.name.find('-') + 1);
      if (best_iteration < 0 ||
          (Maximized(metric) ? decisive.value > best_score : decisive.value < best_score)) {
        best_iteration = iter;
        best_score = decisive.value;
      } else if (iter - best_iteration >= *early_stopping_) {
        break;
      }
    }
    auto trained = std::make_unique<XgboostTrained>();
    int kept = ran;
    if (early_stopping_ && best_iteration >= 0 && best_iteration + 1 < ran) {
      // Keep the best rounds only, so every consumer of model.json predicts
      // with the model the validation metric chose.
      kept = best_iteration + 1;
      BoosterHandle sliced = nullptr;
      RETURN_IF_ERROR(XgbStatus(XGBoosterSlice(booster_.get(), 0, kept, 1, &sliced),
                                "keeping the best rounds"));
      booster_.reset(sliced);
      trained->warnings_.push_back(
          fmt::format("early stopping: kept the best {} of {} rounds run", kept, ran));
    }
    Describe(*trained);
    trained->iterations_ = kept;
    trained->outputs_ = task_ == Task::kMulticlass ? classes_ : 1;
    ASSIGN_OR_RETURN(std::vector<double> train_pred, Predict(train_.get()));
    std::vector<double> valid_pred;
    if (valid_) {
      ASSIGN_OR_RETURN(valid_pred, Predict(valid_.get()));
    }
    trained->Evaluate(data_, train_pred, std::move(valid_pred));
    if (early_stopping_) {
      trained->final_metrics_.push_back({"best_iteration", static_cast<double>(kept)});
      trained->final_metrics_.push_back({"stopped_iteration", static_cast<double>(ran)});
    }
    const char* config = R"({"format": "json"})";
    bst_ulong len = 0;
    const char* bytes = nullptr;
    RETURN_IF_ERROR(XgbStatus(XGBoosterSaveModelToBuffer(booster_.get(), config, &len, &bytes),
                              "saving the model"));
    trained->model_json.assign(bytes, len);
    return std::unique_ptr<TrainedModel>(std::move(trained));
  }

 private:
  Result<std::vector<double>> Predict(DMatrixHandle m) {
    const char* config =
        R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})";
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* result = nullptr;
    RETURN_IF_ERROR(
        XgbStatus(XGBoosterPredictFromDMatrix(booster_.get(), m, config, &shape, &dim, &result),
                  "predicting"));
    bst_ulong n = 1;
    for (bst_ulong i = 0; i < dim; ++i) n *= shape[i];
    return std::vector<double>(result, result + n);
  }

  const int classes_;
  const int rounds_;
  const std::optional<int> early_stopping_;
  DMatrix train_, valid_;
  Booster booster_;
};

}  // namespace

Result<std::unique_ptr<Trainer>> PrepareXgboost(PreparedData data, const TrainOptions& options) {
  std::optional<int> rounds;
  std::optional<int> early_stopping;
  std::string objective;
  std::optional<int64_t> num_class;
  bool has_seed = false;
  int nthread = 0;
  std::vector<std::pair<std::string, std::string>> passed;  // to XGBoosterSetParam, in order
  for (const auto& [key, value] : options.params) {
    if (key == "num_boost_round" || key == "n_estimators") {
      ASSIGN_OR_RETURN(int64_t v, ParseIntParam(key, value));
      if (v < 1 || v > 1'000'000) {
        return Err(InvalidArgument(fmt::format("--param {} must be in [1, 1000000]", key)));
      }
      rounds = static_cast<int>(v);
      continue;
    }
    if (key == "early_stopping_rounds") {
      ASSIGN_OR_RETURN(int64_t v, ParseIntParam(key, value));
      if (v < 1) return Err(InvalidArgument("--param early_stopping_rounds must be >= 1"));
      early_stopping = static_cast<int>(std::min<int64_t>(v, 1'000'000));
      continue;
    }
    if (key == "objective") objective = value;
    if (key == "num_class") {
      ASSIGN_OR_RETURN(num_class, ParseIntParam(key, value));
    }
    if (key == "seed" || key == "random_state") has_seed = true;
    if (key == "nthread") {
      ASSIGN_OR_RETURN(int64_t v, ParseIntParam(key, value));
      nthread = static_cast<int>(std::clamp<int64_t>(v, 0, 4096));
    }
    passed.emplace_back(key, value);
  }
  if (options.rounds != 0) {
    if (options.rounds < 1 || options.rounds > 1'000'000) {
      return Err(InvalidArgument("--rounds must be in [1, 1000000]"));
    }
    if (rounds && *rounds != options.rounds) {
      return Err(InvalidArgument("--rounds and --param num_boost_round disagree"));
    }
    rounds = options.rounds;
  }
  if (early_stopping && data.y_valid.empty()) {
    return Err(
        InvalidArgument("early_stopping_rounds needs validation rows (--validation-fraction > 0)"));
  }
  // Inferred objective: a 0/1 target is a binary classification; multiclass
  // only when asked for (a few integer values may as well be a count).
  if (objective.empty()) {
    objective = data.labels_binary ? "binary:logistic" : "reg:squarederror";
    passed.insert(passed.begin(), {"objective", objective});
  }
  Task task = Task::kRegression;
  int classes = 1;
  if (objective == "binary:logistic") {
    if (!data.labels_binary) {
      return Err(InvalidArgument("objective binary:logistic needs a target of 0 and 1 only"));
    }
    task = Task::kBinary;
  } else if (objective == "multi:softprob") {
    if (!data.labels_integer) {
      return Err(
          InvalidArgument("objective multi:softprob needs integer class labels 0, 1, 2, ..."));
    }
    int64_t needed = static_cast<int64_t>(data.max_label) + 1;
    if (!num_class) {
      num_class = needed;
      passed.emplace_back("num_class", std::to_string(needed));
    }
    if (*num_class < 2 || *num_class > 10'000 || *num_class < needed) {
      return Err(InvalidArgument(fmt::format(
          "num_class={} does not fit the labels (largest label {})", *num_class, needed - 1)));
    }
    task = Task::kMulticlass;
    classes = static_cast<int>(*num_class);
  } else if (objective == "multi:softmax") {
    return Err(InvalidArgument(
        "objective multi:softmax predicts labels only; use multi:softprob (class probabilities)"));
  }
  if (!has_seed) passed.emplace_back("seed", std::to_string(options.seed));

  ASSIGN_OR_RETURN(DMatrix train, MakeDMatrix(data.x_train, data.y_train, data.features, nthread));
  DMatrix valid;
  if (!data.y_valid.empty()) {
    ASSIGN_OR_RETURN(valid, MakeDMatrix(data.x_valid, data.y_valid, data.features, nthread));
  }
  DMatrixHandle cache[2] = {train.get(), valid.get()};
  BoosterHandle bh = nullptr;
  RETURN_IF_ERROR(XgbStatus(XGBoosterCreate(cache, valid ? 2 : 1, &bh), "creating the booster"));
  Booster booster(bh);
  for (const auto& [key, value] : passed) {
    RETURN_IF_ERROR(XgbStatus(XGBoosterSetParam(bh, key.c_str(), value.c_str()),
                              fmt::format("--param {}={}", key, value)));
  }
  if (NamesUsable(data.features)) {
    auto names = CStrings(data.features);
    RETURN_IF_ERROR(
        XgbStatus(XGBoosterSetStrFeatureInfo(bh, "feature_name", names.data(), names.size()),
                  "feature names"));
  }
  // Configuring and evaluating the empty model checks every parameter
  // (names of objectives and metrics, value types) before any run exists.
  bst_ulong len = 0;
  const char* config = nullptr;
  RETURN_IF_ERROR(XgbStatus(XGBoosterSaveJsonConfig(bh, &len, &config), "checking parameters"));
  const char* eval = nullptr;
  const char* names[2] = {"train", "validation"};
  RETURN_IF_ERROR(XgbStatus(XGBoosterEvalOneIter(bh, 0, cache, names, valid ? 2 : 1, &eval),
                            "checking the evaluation metrics"));

  std::vector<std::pair<std::string, std::string>> params = passed;
  const int n_rounds = rounds.value_or(100);
  params.emplace_back("num_boost_round", std::to_string(n_rounds));
  if (early_stopping) params.emplace_back("early_stopping_rounds", std::to_string(*early_stopping));
  return std::unique_ptr<Trainer>(std::make_unique<XgboostTrainer>(
      std::move(data), task, classes, n_rounds, early_stopping, std::move(train), std::move(valid),
      std::move(booster), params));
}

}  // namespace mlforge::training::internal

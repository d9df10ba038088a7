#include <fmt/core.h>
#include <gtest/gtest.h>
#include <xgboost/c_api.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <limits>
#include <map>

#include "base/clock.h"
#include "base/json.h"
#include "training/training.h"

namespace mlforge::training {
namespace {

// A small deterministic generator, so datasets are the same everywhere.
double Uniform(uint64_t& state) {
  state = state * 6364136223846793005ULL + 1442695040888963407ULL;
  return static_cast<double>(state >> 11) / static_cast<double>(1ULL << 53);
}

// y = 1 when a + b > 0 (linearly separable), plus a noise column.
Table Separable(int rows, uint64_t seed = 1) {
  Table t{.columns = {"a", "b", "noise", "y"}, .rows = rows};
  for (int i = 0; i < rows; ++i) {
    double a = Uniform(seed) * 2 - 1, b = Uniform(seed) * 2 - 1, n = Uniform(seed);
    t.values.insert(t.values.end(), {a, b, n, a + b > 0 ? 1.0 : 0.0});
  }
  return t;
}

Table Regression(int rows) {
  uint64_t seed = 3;
  Table t{.columns = {"a", "b", "y"}, .rows = rows};
  for (int i = 0; i < rows; ++i) {
    double a = Uniform(seed) * 4, b = Uniform(seed) * 4;
    t.values.insert(t.values.end(), {a, b, 3 * a - 2 * b + 0.05 * Uniform(seed)});
  }
  return t;
}

class Recorder : public TrainingObserver {
 public:
  Status OnIteration(int iteration, int total, std::span<const MetricPoint> metrics) override {
    iterations.push_back(iteration);
    last_total = total;
    for (const MetricPoint& m : metrics) {
      EXPECT_EQ(m.step, iteration);
      keys[m.key]++;
    }
    return Status::Ok();
  }
  std::vector<int> iterations;
  int last_total = 0;
  std::map<std::string, int> keys;
};

double Metric(const TrainedModel& m, std::string_view name) {
  for (const NamedValue& v : m.final_metrics()) {
    if (v.name == name) return v.value;
  }
  ADD_FAILURE() << "no metric " << name;
  return std::nan("");
}

std::string Param(const Trainer& t, std::string_view key) {
  for (const auto& [k, v] : t.params()) {
    if (k == key) return v;
  }
  return "";
}

// One thread: libgomp's spin-waiting makes multithreaded boosting crawl on
// an oversubscribed machine (a busy CI box); results do not depend on it.
TrainOptions OneThread(TrainOptions o) {
  o.params.insert(o.params.begin(), {"nthread", "1"});
  return o;
}

std::unique_ptr<TrainedModel> MustTrain(const Table& t, const TrainOptions& o,
                                        TrainingObserver* observer = nullptr,
                                        std::unique_ptr<Trainer>* keep = nullptr) {
  FakeClock clock;
  auto trainer = PrepareTraining(t, OneThread(o));
  EXPECT_TRUE(trainer.has_value()) << trainer.error().message();
  if (!trainer) return nullptr;
  auto model = (*trainer)->Train(observer, clock);
  EXPECT_TRUE(model.has_value()) << model.error().message();
  if (keep) *keep = std::move(*trainer);
  return model ? std::move(*model) : nullptr;
}

TEST(XgboostTest, SeparableDataReachesHighAccuracy) {
  Recorder rec;
  std::unique_ptr<Trainer> trainer;
  auto m = MustTrain(Separable(600), {.target = "y", .params = {{"max_depth", "3"}}, .rounds = 40},
                     &rec, &trainer);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(Param(*trainer, "objective"), "binary:logistic");  // inferred from a 0/1 target
  EXPECT_EQ(m->task(), Task::kBinary);
  EXPECT_GT(Metric(*m, "validation_accuracy"), 0.93);
  EXPECT_GT(Metric(*m, "validation_roc_auc"), 0.98);
  EXPECT_LT(Metric(*m, "validation_log_loss"), 0.3);
  EXPECT_EQ(rec.iterations.size(), 40u);
  EXPECT_EQ(rec.last_total, 40);
  EXPECT_EQ(rec.keys["train-logloss"], 40);
  EXPECT_EQ(rec.keys["validation-logloss"], 40);
  EXPECT_EQ(m->validation_predictions().size(), 120u);
}

TEST(XgboostTest, SameSeedSameModel) {
  TrainOptions o{.target = "y",
                 .params = {{"subsample", "0.7"}, {"colsample_bytree", "0.7"}},
                 .rounds = 20,
                 .seed = 5};
  auto a = MustTrain(Separable(300), o);
  auto b = MustTrain(Separable(300), o);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->validation_predictions(), b->validation_predictions());
  EXPECT_EQ((*a->ModelFiles())[0].bytes, (*b->ModelFiles())[0].bytes);
  o.seed = 6;  // another split and other row samples
  auto c = MustTrain(Separable(300), o);
  ASSERT_TRUE(c);
  EXPECT_NE(a->validation_predictions(), c->validation_predictions());
}

TEST(XgboostTest, Regression) {
  auto m = MustTrain(Regression(500), {.target = "y", .rounds = 60});
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->task(), Task::kRegression);
  EXPECT_GT(Metric(*m, "validation_r2"), 0.95);
  EXPECT_GT(Metric(*m, "validation_rmse"), 0.0);
}

TEST(XgboostTest, BadParamsFailBeforeTraining) {
  Table t = Separable(50);
  auto err = [&](std::vector<std::pair<std::string, std::string>> params, int rounds = 0) {
    auto r = PrepareTraining(
        t, OneThread({.target = "y", .params = std::move(params), .rounds = rounds}));
    return r.has_value() ? std::string("ok") : r.error().message();
  };
  EXPECT_NE(err({{"max_depth", "abc"}}).find("max_depth"), std::string::npos)
      << err({{"max_depth", "abc"}});
  EXPECT_NE(err({{"objective", "reg:nonsense"}}).find("Unknown objective"), std::string::npos)
      << err({{"objective", "reg:nonsense"}});
  EXPECT_NE(err({{"eval_metric", "nonsense"}}).find("nonsense"), std::string::npos);
  EXPECT_EQ(err({{"num_boost_round", "0"}}), "--param num_boost_round must be in [1, 1000000]");
  EXPECT_EQ(err({{"num_boost_round", "ten"}}), "--param num_boost_round=ten: expected an integer");
  EXPECT_EQ(err({{"num_boost_round", "10"}}, 20), "--rounds and --param num_boost_round disagree");
  EXPECT_NE(err({{"objective", "multi:softmax"}}).find("multi:softprob"), std::string::npos);
  Table reg = Regression(20);
  auto binary = PrepareTraining(
      reg, OneThread({.target = "y", .params = {{"objective", "binary:logistic"}}}));
  ASSERT_FALSE(binary.has_value());
  EXPECT_EQ(binary.error().message(), "objective binary:logistic needs a target of 0 and 1 only");
  auto early = PrepareTraining(t, OneThread({.target = "y",
                                             .params = {{"early_stopping_rounds", "2"}},
                                             .validation_fraction = 0}));
  EXPECT_FALSE(early.has_value());
}

TEST(XgboostTest, EarlyStoppingKeepsTheBestRounds) {
  // Pure noise labels: validation loss turns up quickly.
  uint64_t seed = 9;
  Table t{.columns = {"a", "b", "y"}, .rows = 200};
  for (int i = 0; i < 200; ++i) {
    t.values.insert(t.values.end(),
                    {Uniform(seed), Uniform(seed), Uniform(seed) > 0.5 ? 1.0 : 0.0});
  }
  Recorder rec;
  auto m =
      MustTrain(t,
                {.target = "y",
                 .params = {{"early_stopping_rounds", "5"}, {"eta", "0.5"}, {"max_depth", "6"}},
                 .rounds = 300},
                &rec);
  ASSERT_NE(m, nullptr);
  EXPECT_LT(rec.iterations.size(), 300u);
  const int best = static_cast<int>(Metric(*m, "best_iteration"));
  EXPECT_EQ(static_cast<size_t>(Metric(*m, "stopped_iteration")), rec.iterations.size());
  EXPECT_EQ(static_cast<size_t>(best + 5), rec.iterations.size());
  EXPECT_EQ(m->iterations(), best);
  // The saved model holds exactly the kept rounds.
  std::string json = (*m->ModelFiles())[0].bytes;
  BoosterHandle h = nullptr;
  ASSERT_EQ(XGBoosterCreate(nullptr, 0, &h), 0);
  ASSERT_EQ(XGBoosterLoadModelFromBuffer(h, json.data(), json.size()), 0);
  int rounds = 0;
  ASSERT_EQ(XGBoosterBoostedRounds(h, &rounds), 0);
  EXPECT_EQ(rounds, best);
  XGBoosterFree(h);
}

TEST(XgboostTest, SavedModelPredictsWhatTrainingComputed) {
  Table t = Separable(200);
  std::unique_ptr<Trainer> trainer;
  auto m = MustTrain(t, {.target = "y", .rounds = 15}, nullptr, &trainer);
  ASSERT_NE(m, nullptr);
  std::vector<float> rows;
  for (int64_t r : trainer->split().validation) {
    for (size_t c = 0; c < 3; ++c) rows.push_back(static_cast<float>(t.at(r, c)));
  }
  std::string json = (*m->ModelFiles())[0].bytes;
  BoosterHandle h = nullptr;
  DMatrixHandle d = nullptr;
  ASSERT_EQ(XGBoosterCreate(nullptr, 0, &h), 0);
  ASSERT_EQ(XGBoosterLoadModelFromBuffer(h, json.data(), json.size()), 0);
  ASSERT_EQ(XGBoosterSetParam(h, "nthread", "1"), 0);
  const bst_ulong n = trainer->split().validation.size();
  ASSERT_EQ(
      XGDMatrixCreateFromMat_omp(rows.data(), n, 3, std::numeric_limits<float>::quiet_NaN(), &d, 1),
      0);
  bst_ulong len = 0;
  const float* out = nullptr;
  ASSERT_EQ(XGBoosterPredict(h, d, 0, 0, 0, &len, &out), 0);
  ASSERT_EQ(len, m->validation_predictions().size());
  for (bst_ulong i = 0; i < len; ++i) EXPECT_FLOAT_EQ(out[i], m->validation_predictions()[i]);
  XGDMatrixFree(d);
  XGBoosterFree(h);
}

TEST(XgboostTest, MissingValuesAreAccepted) {
  Table t = Separable(200);
  for (int64_t r = 0; r < t.rows; r += 3) t.values[static_cast<size_t>(r) * 4 + 2] = std::nan("");
  auto m = MustTrain(t, {.target = "y", .rounds = 10});
  ASSERT_NE(m, nullptr);
  EXPECT_GT(Metric(*m, "validation_accuracy"), 0.8);
}

TEST(XgboostTest, MulticlassWhenAsked) {
  uint64_t seed = 4;
  Table t{.columns = {"a", "y"}, .rows = 300};
  for (int i = 0; i < 300; ++i) {
    double a = Uniform(seed) * 3;
    t.values.insert(t.values.end(), {a, std::floor(a)});
  }
  std::unique_ptr<Trainer> trainer;
  auto m = MustTrain(t, {.target = "y", .params = {{"objective", "multi:softprob"}}, .rounds = 10},
                     nullptr, &trainer);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(Param(*trainer, "num_class"), "3");
  EXPECT_EQ(m->outputs(), 3);
  EXPECT_EQ(m->validation_predictions().size(), 60u * 3);
  EXPECT_GT(Metric(*m, "validation_accuracy"), 0.95);
  auto outputs = json::Parse(SignatureOutputsJson(*m));
  ASSERT_TRUE(outputs.has_value());
  EXPECT_EQ(outputs->items().size(), 3u);
  // Without the objective, integer labels are a regression target.
  auto reg = MustTrain(t, {.target = "y", .rounds = 5});
  ASSERT_NE(reg, nullptr);
  EXPECT_EQ(reg->task(), Task::kRegression);
}

TEST(XgboostTest, PackageIsAnMlflowModel) {
  auto m = MustTrain(Separable(100), {.target = "y", .rounds = 5});
  ASSERT_NE(m, nullptr);
  PackageInfo info{.run_id = "0123456789abcdef0123456789abcdef",
                   .model_uuid = "fedcba9876543210fedcba9876543210",
                   .created_millis = 1'700'000'000'123,
                   .dataset = {.name = "churn's data",
                               .digest = "ab12",
                               .source_type = "local",
                               .source = R"({"uri": "data/x.csv"})"}};
  auto files = BuildPackage(*m, info);
  ASSERT_TRUE(files.has_value());
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].path, "MLmodel");
  EXPECT_EQ((*files)[1].path, "model.json");
  YAML::Node root = YAML::Load((*files)[0].bytes);
  EXPECT_EQ(root["artifact_path"].as<std::string>(), "model");
  EXPECT_EQ(root["run_id"].as<std::string>(), info.run_id);
  EXPECT_EQ(root["model_uuid"].as<std::string>(), info.model_uuid);
  EXPECT_EQ(root["utc_time_created"].as<std::string>(), "2023-11-14 22:13:20.123000");
  EXPECT_EQ(root["mlflow_version"].as<std::string>(), "2.12.1");
  YAML::Node xgb = root["flavors"]["xgboost"];
  EXPECT_EQ(xgb["data"].as<std::string>(), "model.json");
  EXPECT_EQ(xgb["model_class"].as<std::string>(), "xgboost.core.Booster");
  EXPECT_EQ(xgb["model_format"].as<std::string>(), "json");
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  EXPECT_EQ(xgb["xgb_version"].as<std::string>(), fmt::format("{}.{}.{}", major, minor, patch));
  EXPECT_TRUE(xgb["code"].IsNull());
  EXPECT_EQ(root["flavors"]["python_function"]["loader_module"].as<std::string>(),
            "mlflow.xgboost");
  EXPECT_EQ(root["flavors"]["python_function"]["data"].as<std::string>(), "model.json");
  YAML::Node dataset = root["metadata"]["mlforge"]["training_dataset"];
  EXPECT_EQ(dataset["name"].as<std::string>(), "churn's data");
  EXPECT_EQ(dataset["digest"].as<std::string>(), "ab12");
  EXPECT_EQ(dataset["source"].as<std::string>(), info.dataset.source);
  auto inputs = json::Parse(root["signature"]["inputs"].as<std::string>());
  ASSERT_TRUE(inputs.has_value());
  ASSERT_EQ(inputs->items().size(), 3u);
  EXPECT_EQ(inputs->items()[0].Find("name")->as_string(), "a");
  EXPECT_EQ(inputs->items()[2].Find("name")->as_string(), "noise");
  EXPECT_EQ(inputs->items()[2].Find("type")->as_string(), "double");
  auto outputs = json::Parse(root["signature"]["outputs"].as<std::string>());
  ASSERT_TRUE(outputs.has_value());
  EXPECT_EQ(outputs->items()[0].Find("name")->as_string(), "prediction");
}

TEST(XgboostTest, OddColumnNamesSurviveTheYaml) {
  Table t = Separable(60);
  t.columns = {"it's \"a\"", "b: c", "- x", "y"};
  auto m = MustTrain(t, {.target = "y", .rounds = 3});
  ASSERT_NE(m, nullptr);
  std::string yaml = MLmodelYaml(*m, PackageInfo{.run_id = "r", .model_uuid = "u"});
  YAML::Node root = YAML::Load(yaml);
  auto inputs = json::Parse(root["signature"]["inputs"].as<std::string>());
  ASSERT_TRUE(inputs.has_value()) << yaml;
  EXPECT_EQ(inputs->items()[0].Find("name")->as_string(), "it's \"a\"");
  EXPECT_EQ(inputs->items()[1].Find("name")->as_string(), "b: c");
}

}  // namespace
}  // namespace mlforge::training

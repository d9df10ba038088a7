#include <gtest/gtest.h>

#include <algorithm>

#include "base/clock.h"
#include "training/training.h"

namespace mlforge::training {
namespace {

// Records every call; can be told to fail one kind of call.
class FakeLogger : public RunLogger {
 public:
  Result<Started> StartRun(std::string_view experiment, std::string_view run_name,
                           std::span<const Tag> t) override {
    calls.push_back("start");
    if (fail_start) return Err(Unavailable("cannot reach the tracking server"));
    this->experiment = experiment;
    tags.assign(t.begin(), t.end());
    return Started{.run_id = "run1", .experiment_id = "7"};
  }
  Status LogParams(std::span<const std::pair<std::string, std::string>> p) override {
    calls.push_back("params");
    params.assign(p.begin(), p.end());
    return Status::Ok();
  }
  Status LogMetrics(std::span<const MetricPoint> m) override {
    calls.push_back("metrics");
    if (fail_metrics_after >= 0 && metric_batches++ >= fail_metrics_after) {
      return Err(Unavailable("server went away"));
    }
    metrics.insert(metrics.end(), m.begin(), m.end());
    return Status::Ok();
  }
  Status LogInput(const DatasetRef& d, std::string_view schema, std::string_view profile) override {
    calls.push_back("input");
    dataset = d;
    this->schema = schema;
    this->profile = profile;
    return Status::Ok();
  }
  Status UploadArtifact(std::string_view path, std::string_view bytes) override {
    calls.push_back("upload " + std::string(path));
    artifacts.emplace_back(path, bytes);
    return Status::Ok();
  }
  Status EndRun(RunEnd e) override {
    calls.push_back(e == RunEnd::kFinished ? "end FINISHED" : "end FAILED");
    return Status::Ok();
  }

  bool fail_start = false;
  int fail_metrics_after = -1;
  int metric_batches = 0;
  std::vector<std::string> calls;
  std::string experiment;
  std::vector<Tag> tags;
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<MetricPoint> metrics;
  DatasetRef dataset;
  std::string schema, profile;
  std::vector<std::pair<std::string, std::string>> artifacts;
};

Table Data() {
  Table t{.columns = {"a", "b", "y"}, .rows = 100};
  for (int i = 0; i < 100; ++i) {
    double a = (i * 37 % 100) / 50.0 - 1, b = (i * 53 % 100) / 50.0 - 1;
    t.values.insert(t.values.end(), {a, b, a - b > 0 ? 1.0 : 0.0});
  }
  return t;
}

RunRequest Request() {
  return RunRequest{
      .experiment_name = "exp",
      .tags = {{"mlflow.source.name", "test"}},
      .dataset = {.name = "d.csv", .digest = "abcd1234", .source_type = "local", .source = "{}"},
      .model_uuid = "u",
      .metric_flush_every = 4};
}

std::string TagValue(const std::vector<Tag>& tags, std::string_view key) {
  for (const Tag& t : tags) {
    if (t.key == key) return t.value;
  }
  return "";
}

TEST(RunTrainingTest, RecordsEverythingInOrder) {
  Table t = Data();
  FakeClock clock;
  auto trainer = PrepareTraining(
      t, {.target = "y",
          .params = {{"nthread", "1"}, {"eval_metric", "logloss"}, {"eval_metric", "auc"}},
          .rounds = 10});
  ASSERT_TRUE(trainer.has_value()) << trainer.error().message();
  FakeLogger logger;
  auto out = RunTraining(**trainer, t, Request(), logger, nullptr, clock);
  ASSERT_TRUE(out.has_value()) << out.error().message();
  EXPECT_EQ(out->run_id, "run1");
  EXPECT_EQ(out->experiment_id, "7");
  EXPECT_EQ(logger.experiment, "exp");
  EXPECT_EQ(TagValue(logger.tags, "mlforge.flavor"), "xgboost");
  EXPECT_EQ(TagValue(logger.tags, "mlforge.training.dataset"), "d.csv@abcd1234");
  EXPECT_EQ(TagValue(logger.tags, "mlflow.source.name"), "test");
  // Metrics go up every 4 iterations: 10 iterations = 3 batches, then the final metrics.
  std::vector<std::string> expected = {"start",
                                       "params",
                                       "input",
                                       "metrics",
                                       "metrics",
                                       "metrics",
                                       "metrics",
                                       "upload model/model.json",
                                       "upload model/MLmodel",
                                       "end FINISHED"};
  EXPECT_EQ(logger.calls, expected);
  // A key given twice is one param.
  auto eval = std::find_if(logger.params.begin(), logger.params.end(),
                           [](const auto& p) { return p.first == "eval_metric"; });
  ASSERT_NE(eval, logger.params.end());
  EXPECT_EQ(eval->second, "logloss,auc");
  EXPECT_EQ(std::count_if(logger.params.begin(), logger.params.end(),
                          [](const auto& p) { return p.first == "eval_metric"; }),
            1);
  // Per-iteration history: one point per iteration and key, steps 1..10.
  int auc_points = 0;
  for (const MetricPoint& m : logger.metrics) {
    if (m.key == "validation-auc") {
      EXPECT_EQ(m.step, ++auc_points);
      EXPECT_EQ(m.timestamp, clock.NowMillis());
    }
  }
  EXPECT_EQ(auc_points, 10);
  EXPECT_TRUE(std::any_of(logger.metrics.begin(), logger.metrics.end(),
                          [](const MetricPoint& m) { return m.key == "validation_roc_auc"; }));
  EXPECT_EQ(logger.dataset.digest, "abcd1234");
  EXPECT_EQ(logger.profile, R"({"num_rows": 100, "num_elements": 300})");
  EXPECT_NE(logger.schema.find(R"("name": "y")"), std::string::npos);
  EXPECT_NE(logger.artifacts.back().second.find("run_id: run1"), std::string::npos);
}

TEST(RunTrainingTest, FailureAfterStartMarksTheRunFailed) {
  Table t = Data();
  FakeClock clock;
  auto trainer = PrepareTraining(t, {.flavor = Flavor::kLinear, .target = "y"});
  ASSERT_TRUE(trainer.has_value());
  FakeLogger logger;
  logger.fail_metrics_after = 1;  // the second metric upload fails mid-training
  auto out = RunTraining(**trainer, t, Request(), logger, nullptr, clock);
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().message(), "server went away");
  EXPECT_EQ(logger.calls.back(), "end FAILED");
  EXPECT_EQ(std::count(logger.calls.begin(), logger.calls.end(), "end FINISHED"), 0);
  EXPECT_TRUE(std::none_of(logger.calls.begin(), logger.calls.end(),
                           [](const std::string& c) { return c.starts_with("upload"); }));
}

TEST(RunTrainingTest, UnreachableServerLogsNothing) {
  Table t = Data();
  FakeClock clock;
  auto trainer = PrepareTraining(t, {.flavor = Flavor::kLinear, .target = "y"});
  ASSERT_TRUE(trainer.has_value());
  FakeLogger logger;
  logger.fail_start = true;
  auto out = RunTraining(**trainer, t, Request(), logger, nullptr, clock);
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(logger.calls, std::vector<std::string>{"start"});
}

TEST(RunTrainingTest, LinearPackageAndLossHistory) {
  Table t = Data();
  FakeClock clock;
  auto trainer = PrepareTraining(t, {.flavor = Flavor::kLinear, .target = "y"});
  ASSERT_TRUE(trainer.has_value());
  FakeLogger logger;
  auto out = RunTraining(**trainer, t, Request(), logger, nullptr, clock);
  ASSERT_TRUE(out.has_value()) << out.error().message();
  EXPECT_EQ(TagValue(logger.tags, "mlforge.flavor"), "linear");
  int steps = 0;
  for (const MetricPoint& m : logger.metrics) steps += m.key == "train-logloss";
  EXPECT_EQ(steps, out->model->iterations());
  EXPECT_GT(steps, 1);
  ASSERT_EQ(logger.artifacts.size(), 2u);
  EXPECT_NE(logger.artifacts[0].second.find("mlforge.linear/1"), std::string::npos);
  EXPECT_NE(logger.artifacts[1].second.find("  mlforge.linear:\n    data: model.json\n"),
            std::string::npos);
}

TEST(RunTrainingTest, OverlongParamRefusedBeforeTheRun) {
  Table t = Data();
  auto trainer =
      PrepareTraining(t, {.target = "y",
                          .params = {{"nthread", "1"}, {"custom", std::string(7000, 'x')}},
                          .rounds = 1});
  ASSERT_TRUE(trainer.has_value()) << trainer.error().message();
  FakeLogger logger;
  FakeClock clock;
  auto out = RunTraining(**trainer, t, Request(), logger, nullptr, clock);
  ASSERT_FALSE(out.has_value());
  EXPECT_TRUE(logger.calls.empty());
}

}  // namespace
}  // namespace mlforge::training

#include <gtest/gtest.h>

#include <cmath>

#include "training/fixture.h"
#include "training/training.h"

namespace mlforge::training {
namespace {

using testing::Doubles;
using testing::Reference;

TEST(MetricsTest, BinaryMatchesReference) {
  const json::Value& ref = *Reference().Find("binary_metrics");
  std::vector<double> y = Doubles(*ref.Find("y")), p = Doubles(*ref.Find("p"));
  EXPECT_NEAR(Accuracy(y, p), ref.Find("accuracy")->as_double(), 1e-12);
  EXPECT_NEAR(LogLoss(y, p), ref.Find("log_loss")->as_double(), 1e-12);
  EXPECT_NEAR(RocAuc(y, p), ref.Find("roc_auc")->as_double(), 1e-12);
  EXPECT_NEAR(Precision(y, p), ref.Find("precision")->as_double(), 1e-12);
  EXPECT_NEAR(Recall(y, p), ref.Find("recall")->as_double(), 1e-12);
  EXPECT_NEAR(F1(y, p), ref.Find("f1")->as_double(), 1e-12);
}

TEST(MetricsTest, RegressionMatchesReference) {
  const json::Value& ref = *Reference().Find("regression_metrics");
  std::vector<double> y = Doubles(*ref.Find("y")), p = Doubles(*ref.Find("p"));
  EXPECT_NEAR(Rmse(y, p), ref.Find("rmse")->as_double(), 1e-12);
  EXPECT_NEAR(Mae(y, p), ref.Find("mae")->as_double(), 1e-12);
  EXPECT_NEAR(R2(y, p), ref.Find("r2")->as_double(), 1e-12);
}

TEST(MetricsTest, HandCheckedCases) {
  std::vector<double> y = {0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(RocAuc(y, std::vector<double>{0.1, 0.2, 0.8, 0.9}), 1.0);
  EXPECT_DOUBLE_EQ(RocAuc(y, std::vector<double>{0.9, 0.8, 0.2, 0.1}), 0.0);
  EXPECT_DOUBLE_EQ(RocAuc(y, std::vector<double>{0.5, 0.5, 0.5, 0.5}), 0.5);
  EXPECT_TRUE(std::isnan(RocAuc(std::vector<double>{1, 1}, std::vector<double>{0.2, 0.3})));
  // No positive prediction: precision and f1 are 0, not NaN.
  EXPECT_EQ(Precision(y, std::vector<double>{0, 0, 0, 0}), 0.0);
  EXPECT_EQ(F1(y, std::vector<double>{0, 0, 0, 0}), 0.0);
  EXPECT_NEAR(LogLoss(std::vector<double>{1}, std::vector<double>{0.0}), -std::log(1e-15), 1e-9);
  EXPECT_EQ(R2(std::vector<double>{2, 2}, std::vector<double>{2, 2}), 1.0);
  EXPECT_EQ(R2(std::vector<double>{2, 2}, std::vector<double>{1, 3}), 0.0);
  EXPECT_DOUBLE_EQ(Rmse(std::vector<double>{0, 0}, std::vector<double>{3, 4}), std::sqrt(12.5));
  std::vector<double> probs = {0.7, 0.2, 0.1, 0.1, 0.1, 0.8};  // 2 rows x 3 classes
  EXPECT_DOUBLE_EQ(MultiAccuracy(std::vector<double>{0, 1}, probs, 3), 0.5);
  EXPECT_NEAR(MultiLogLoss(std::vector<double>{0, 2}, probs, 3),
              -(std::log(0.7) + std::log(0.8)) / 2, 1e-12);
}

TEST(MetricsTest, EvaluateTaskNamesAndSkipsUndefined) {
  std::vector<double> y = {1, 1, 1}, p = {0.9, 0.8, 0.4};
  std::vector<NamedValue> m = EvaluateTask(Task::kBinary, 1, y, p, "validation_");
  std::vector<std::string> names;
  for (const NamedValue& v : m) names.push_back(v.name);
  // roc_auc is undefined with one class and left out.
  EXPECT_EQ(names, (std::vector<std::string>{"validation_accuracy", "validation_log_loss",
                                             "validation_precision", "validation_recall",
                                             "validation_f1"}));
  EXPECT_DOUBLE_EQ(m[0].value, 2.0 / 3);
  EXPECT_TRUE(EvaluateTask(Task::kRegression, 1, {}, {}, "x_").empty());
}

}  // namespace
}  // namespace mlforge::training

// Windowed performance metrics against numpy/scipy reference values
// (fixtures/performance.json, made by fixtures/make_alert_fixtures.py).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "monitor/monitor.h"
#include "monitor/test_data.h"

namespace mlforge::monitor {
namespace {

using testing::LoadFixture;
using testing::Numbers;

std::vector<std::string> Strings(const json::Value& v) {
  std::vector<std::string> out;
  for (const json::Value& x : v.items()) out.push_back(x.as_string());
  return out;
}

double Expected(const json::Value& c, const char* name) { return c.Find(name)->as_double(); }

// Fills one accumulator per half of the rows (begin, end).
ClassificationMetrics Classify(const json::Value& c, size_t begin, size_t end, bool with_scores) {
  const auto labels = Strings(*c.Find("labels"));
  const auto preds = Strings(*c.Find("predictions"));
  std::vector<double> scores;
  if (with_scores) scores = Numbers(*c.Find("scores"));
  ClassificationMetrics m("1");
  for (size_t i = begin; i < std::min(end, labels.size()); ++i) {
    if (with_scores) {
      m.Add(labels[i], preds[i], scores[i]);
    } else {
      m.Add(labels[i], preds[i]);
    }
  }
  return m;
}

constexpr double kTol = 1e-12;

class BinaryFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(BinaryFixture, MatchesNumpy) {
  const json::Value fx = LoadFixture("performance.json");
  ASSERT_TRUE(fx.is_object());
  const json::Value& c = *fx.Find(GetParam());
  ClassificationMetrics m = Classify(c, 0, SIZE_MAX, true);
  EXPECT_TRUE(m.binary());
  EXPECT_NEAR(m.Accuracy(), Expected(c, "accuracy"), kTol);
  EXPECT_NEAR(m.Precision(), Expected(c, "precision"), kTol);
  EXPECT_NEAR(m.Recall(), Expected(c, "recall"), kTol);
  EXPECT_NEAR(m.F1(), Expected(c, "f1"), kTol);
  EXPECT_NEAR(m.RocAuc(), Expected(c, "roc_auc"), kTol);
  EXPECT_NEAR(m.LogLoss(), Expected(c, "log_loss"), 1e-12 * Expected(c, "log_loss"));
  // Values() names every metric as MetricPoint does.
  std::vector<std::string> names;
  for (const NamedValue& v : m.Values()) names.push_back(v.name);
  EXPECT_EQ(names, (std::vector<std::string>{"accuracy", "precision", "recall", "f1", "roc_auc",
                                             "log_loss"}));
}

TEST_P(BinaryFixture, MergedHalvesEqualTheWhole) {
  const json::Value fx = LoadFixture("performance.json");
  const json::Value& c = *fx.Find(GetParam());
  ClassificationMetrics whole = Classify(c, 0, SIZE_MAX, true);
  ClassificationMetrics a = Classify(c, 0, 137, true);
  ClassificationMetrics b = Classify(c, 137, SIZE_MAX, true);
  ASSERT_TRUE(a.Merge(b).ok());
  EXPECT_EQ(a.count(), whole.count());
  EXPECT_DOUBLE_EQ(a.Accuracy(), whole.Accuracy());
  EXPECT_DOUBLE_EQ(a.F1(), whole.F1());
  EXPECT_DOUBLE_EQ(a.RocAuc(), whole.RocAuc());
  EXPECT_NEAR(a.LogLoss(), whole.LogLoss(), 1e-12);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, BinaryFixture, ::testing::Values("binary", "binary_ties"));

TEST(ClassificationMetricsTest, MulticlassMacroMatchesNumpy) {
  const json::Value fx = LoadFixture("performance.json");
  const json::Value& c = *fx.Find("multiclass");
  ClassificationMetrics m = Classify(c, 0, SIZE_MAX, false);
  EXPECT_FALSE(m.binary());
  EXPECT_NEAR(m.Accuracy(), Expected(c, "accuracy"), kTol);
  EXPECT_NEAR(m.Precision(), Expected(c, "precision"), kTol);
  EXPECT_NEAR(m.Recall(), Expected(c, "recall"), kTol);
  EXPECT_NEAR(m.F1(), Expected(c, "f1"), kTol);
  EXPECT_TRUE(std::isnan(m.RocAuc()));
  // No scores in a multiclass window: neither AUC nor log loss is reported.
  EXPECT_EQ(m.Values().size(), 4u);
}

TEST(ClassificationMetricsTest, HandComputedBinaryAndEdgeCases) {
  ClassificationMetrics empty;
  EXPECT_TRUE(std::isnan(empty.Accuracy()));
  EXPECT_TRUE(empty.Values().empty());

  // 2 TP, 1 FP, 1 FN, 1 TN.
  ClassificationMetrics m("yes");
  m.Add("yes", "yes", 0.9);
  m.Add("yes", "yes", 0.8);
  m.Add("no", "yes", 0.8);
  m.Add("yes", "no", 0.3);
  m.Add("no", "no", 0.1);
  EXPECT_DOUBLE_EQ(m.Accuracy(), 3.0 / 5);
  EXPECT_DOUBLE_EQ(m.Precision(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.Recall(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.F1(), 2.0 / 3);
  // Pairs (pos, neg): (.9,.8) (.9,.1) (.8,.8)=half (.8,.1) (.3,.8)=0 (.3,.1) -> 4.5 / 6.
  EXPECT_DOUBLE_EQ(m.RocAuc(), 4.5 / 6);

  // Only one class has scores: AUC undefined; predictions never positive:
  // precision 0 (zero division), recall 0.
  ClassificationMetrics one("1");
  one.Add("1", "0", 0.2);
  one.Add("1", "0", 0.4);
  EXPECT_TRUE(std::isnan(one.RocAuc()));
  EXPECT_DOUBLE_EQ(one.Precision(), 0.0);
  EXPECT_DOUBLE_EQ(one.Recall(), 0.0);
  EXPECT_DOUBLE_EQ(one.F1(), 0.0);

  // A probability of exactly 0 for a positive is clipped, not infinite.
  ClassificationMetrics clipped("1");
  clipped.Add("1", "0", 0.0);
  EXPECT_NEAR(clipped.LogLoss(), -std::log(1e-15), 1e-9);

  ClassificationMetrics other("yes", Averaging::kMacro);
  EXPECT_FALSE(m.Merge(other).ok());
  ClassificationMetrics different_positive("no");
  EXPECT_FALSE(m.Merge(different_positive).ok());
}

TEST(ClassificationMetricsTest, ForcedAveraging) {
  ClassificationMetrics macro("a", Averaging::kMacro);
  ClassificationMetrics binary("a", Averaging::kBinary);
  for (auto* m : {&macro, &binary}) {
    m->Add("a", "a");
    m->Add("a", "b");
    m->Add("b", "b");
  }
  // class a: P 1, R 1/2; class b: P 1/2, R 1.
  EXPECT_DOUBLE_EQ(binary.Precision(), 1.0);
  EXPECT_DOUBLE_EQ(binary.Recall(), 0.5);
  EXPECT_DOUBLE_EQ(macro.Precision(), 0.75);
  EXPECT_DOUBLE_EQ(macro.Recall(), 0.75);
  EXPECT_DOUBLE_EQ(macro.F1(), 2.0 / 3);
}

TEST(RegressionMetricsTest, MatchesNumpyAndMerges) {
  const json::Value fx = LoadFixture("performance.json");
  const json::Value& c = *fx.Find("regression");
  const auto y = Numbers(*c.Find("labels"));
  const auto yhat = Numbers(*c.Find("predictions"));
  RegressionMetrics whole;
  RegressionMetrics a;
  RegressionMetrics b;
  for (size_t i = 0; i < y.size(); ++i) {
    whole.Add(y[i], yhat[i]);
    (i < 100 ? a : b).Add(y[i], yhat[i]);
  }
  EXPECT_NEAR(whole.Mae(), Expected(c, "mae"), 1e-12);
  EXPECT_NEAR(whole.Rmse(), Expected(c, "rmse"), 1e-12);
  a.Merge(b);
  EXPECT_NEAR(a.Mae(), whole.Mae(), 1e-12);
  EXPECT_NEAR(a.Rmse(), whole.Rmse(), 1e-12);

  RegressionMetrics bad;
  bad.Add(kNaN, 1);
  bad.Add(1, std::numeric_limits<double>::infinity());
  EXPECT_EQ(bad.count(), 0u);
  EXPECT_EQ(bad.skipped(), 2u);
  EXPECT_TRUE(std::isnan(bad.Mae()));
  EXPECT_TRUE(bad.Values().empty());
}

}  // namespace
}  // namespace mlforge::monitor

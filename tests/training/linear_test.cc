#include <gtest/gtest.h>

#include <cmath>

#include "base/clock.h"
#include "base/json.h"
#include "training/fixture.h"
#include "training/training.h"

namespace mlforge::training {
namespace {

using testing::Doubles;
using testing::Reference;
using testing::RowMajor;

TEST(LinearTest, LeastSquaresRecoversKnownCoefficients) {
  const int64_t n = 50, p = 3;
  std::vector<double> x, y;
  for (int64_t i = 0; i < n; ++i) {
    double a = std::sin(0.7 * i), b = std::cos(1.3 * i) * 4, c = 0.1 * i;
    x.insert(x.end(), {a, b, c});
    y.push_back(1.5 + 2 * a - 3 * b + 0.5 * c);
  }
  auto m = FitLeastSquares({x.data(), n, p}, y, 0.0);
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_NEAR(m->intercept, 1.5, 1e-9);
  EXPECT_NEAR(m->coef[0], 2.0, 1e-9);
  EXPECT_NEAR(m->coef[1], -3.0, 1e-9);
  EXPECT_NEAR(m->coef[2], 0.5, 1e-9);
  std::vector<double> pred = PredictLinear(*m, {x.data(), n, p});
  EXPECT_NEAR(Rmse(y, pred), 0.0, 1e-9);
}

TEST(LinearTest, RidgeMatchesNumpy) {
  const json::Value& ref = *Reference().Find("ridge");
  int64_t cols = 0;
  std::vector<double> x = RowMajor(*ref.Find("x"), &cols);
  std::vector<double> y = Doubles(*ref.Find("y"));
  for (const json::Value& c : ref.Find("cases")->items()) {
    double alpha = c.Find("alpha")->as_double();
    auto m = FitLeastSquares({x.data(), static_cast<int64_t>(y.size()), cols}, y, alpha);
    ASSERT_TRUE(m.has_value());
    EXPECT_NEAR(m->intercept, c.Find("intercept")->as_double(), 1e-9) << alpha;
    std::vector<double> coef = Doubles(*c.Find("coef"));
    for (size_t j = 0; j < coef.size(); ++j) EXPECT_NEAR(m->coef[j], coef[j], 1e-9) << alpha;
  }
}

TEST(LinearTest, CollinearColumnsStillSolve) {
  std::vector<double> x, y;
  for (int i = 0; i < 20; ++i) {
    x.insert(x.end(), {double(i), 2.0 * i, 1.0});  // col1 = 2 col0, col2 constant
    y.push_back(3 + 0.5 * i);
  }
  auto m = FitLeastSquares({x.data(), 20, 3}, y, 0.0);
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_NEAR(Rmse(y, PredictLinear(*m, {x.data(), 20, 3})), 0.0, 1e-9);
}

TEST(LinearTest, LogisticMatchesScipy) {
  const json::Value& ref = *Reference().Find("logistic");
  int64_t cols = 0;
  std::vector<double> x = RowMajor(*ref.Find("x"), &cols);
  std::vector<double> y = Doubles(*ref.Find("y"));
  for (const json::Value& c : ref.Find("cases")->items()) {
    LogisticOptions o;
    o.alpha = c.Find("alpha")->as_double();
    int calls = 0;
    auto fit = FitLogistic({x.data(), static_cast<int64_t>(y.size()), cols}, y, o,
                           [&](int iteration, const LinearModel&) {
                             EXPECT_EQ(iteration, ++calls);
                             return Status::Ok();
                           });
    ASSERT_TRUE(fit.has_value()) << fit.error().message();
    EXPECT_TRUE(fit->converged);
    EXPECT_EQ(fit->iterations, calls);
    EXPECT_LT(fit->iterations, 30);  // Newton: a handful of steps
    EXPECT_NEAR(fit->model.intercept, c.Find("intercept")->as_double(), 1e-6) << o.alpha;
    std::vector<double> coef = Doubles(*c.Find("coef"));
    for (size_t j = 0; j < coef.size(); ++j)
      EXPECT_NEAR(fit->model.coef[j], coef[j], 1e-6) << o.alpha;
  }
}

TEST(LinearTest, SeparableDataWithoutPenaltyDoesNotConverge) {
  std::vector<double> x = {-2, -1, 1, 2}, y = {0, 0, 1, 1};
  LogisticOptions o{.alpha = 0, .max_iter = 25};
  auto fit = FitLogistic({x.data(), 4, 1}, y, o, {});
  ASSERT_TRUE(fit.has_value()) << fit.error().message();
  EXPECT_FALSE(fit->converged);
  EXPECT_GT(fit->model.coef[0], 5);  // ever steeper
  o.alpha = 1;
  auto penalized = FitLogistic({x.data(), 4, 1}, y, o, {});
  ASSERT_TRUE(penalized.has_value());
  EXPECT_TRUE(penalized->converged);
}

TEST(LinearTest, IterationCallbackCanStopTheFit) {
  std::vector<double> x = {-2, -1, 1, 2, 0.5}, y = {0, 1, 0, 1, 1};
  auto fit = FitLogistic({x.data(), 5, 1}, y, {}, [](int iteration, const LinearModel&) {
    return iteration == 2 ? Status(ErrorCode::kTemporarilyUnavailable, "stop") : Status::Ok();
  });
  ASSERT_FALSE(fit.has_value());
  EXPECT_EQ(fit.error().message(), "stop");
}

TEST(LinearTest, ModelFileFormat) {
  LinearModel m{
      .task = Task::kBinary, .features = {"a", "b"}, .coef = {0.5, -2}, .intercept = 0.25};
  auto v = json::Parse(EncodeLinearModel(m));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->Find("format")->as_string(), "mlforge.linear/1");
  EXPECT_EQ(v->Find("task")->as_string(), "binary_logistic");
  EXPECT_EQ(v->Find("features")->items()[1].as_string(), "b");
  EXPECT_EQ(v->Find("coef")->items()[1].as_double(), -2);
  EXPECT_EQ(v->Find("intercept")->as_double(), 0.25);
  std::vector<double> row = {1, 1};
  EXPECT_NEAR(PredictLinear(m, {row.data(), 1, 2})[0], 1 / (1 + std::exp(1.25)), 1e-15);
}

Table MakeTable(std::vector<std::string> columns, std::vector<std::vector<double>> rows) {
  Table t{.columns = std::move(columns), .rows = static_cast<int64_t>(rows.size())};
  for (const auto& r : rows) t.values.insert(t.values.end(), r.begin(), r.end());
  return t;
}

TEST(LinearTest, PrepareChecksParamsAndMissingValues) {
  double nan = std::nan("");
  Table t = MakeTable({"a", "y"}, {{1, 2}, {nan, 3}, {2, 4}});
  TrainOptions o{.flavor = Flavor::kLinear, .target = "y"};
  auto missing = PrepareTraining(t, o);
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message().find("Column 'a' is empty in data row 2"), std::string::npos)
      << missing.error().message();
  Table full = MakeTable({"a", "y"}, {{1, 2}, {2, 3}, {3, 4}, {5, 6}});
  o.params = {{"alpha", "x"}};
  EXPECT_EQ(PrepareTraining(full, o).error().message(), "--param alpha=x: expected a number");
  o.params = {{"max_depth", "3"}};
  EXPECT_NE(PrepareTraining(full, o).error().message().find("Unknown --param 'max_depth'"),
            std::string::npos);
  o.params = {{"task", "binary_logistic"}};
  EXPECT_FALSE(PrepareTraining(full, o).has_value());  // labels are not 0/1
  o.params = {};
  o.target = "z";
  EXPECT_NE(PrepareTraining(full, o).error().message().find("Target column 'z' is not in the data"),
            std::string::npos);
}

TEST(LinearTest, TrainsRegressionAndInfersLogistic) {
  std::vector<std::vector<double>> rows;
  for (int i = 0; i < 100; ++i)
    rows.push_back({double(i % 10), double(i / 10), 1 + 2.0 * (i % 10) - 0.5 * (i / 10)});
  Table t = MakeTable({"a", "b", "y"}, rows);
  FakeClock clock;
  auto trainer = PrepareTraining(t, TrainOptions{.flavor = Flavor::kLinear, .target = "y"});
  ASSERT_TRUE(trainer.has_value()) << trainer.error().message();
  EXPECT_EQ((*trainer)->task(), Task::kRegression);
  auto model = (*trainer)->Train(nullptr, clock);
  ASSERT_TRUE(model.has_value()) << model.error().message();
  bool saw_r2 = false;
  for (const NamedValue& m : (*model)->final_metrics()) {
    if (m.name == "validation_r2") {
      saw_r2 = true;
      EXPECT_NEAR(m.value, 1.0, 1e-9);
    }
  }
  EXPECT_TRUE(saw_r2);
  EXPECT_EQ((*model)->validation_predictions().size(), 20u);

  std::vector<std::vector<double>> cls;
  for (int i = 0; i < 60; ++i) cls.push_back({double(i % 7) - 3 + 0.3 * (i % 2), double(i % 2)});
  auto logistic = PrepareTraining(MakeTable({"a", "y"}, cls),
                                  TrainOptions{.flavor = Flavor::kLinear, .target = "y"});
  ASSERT_TRUE(logistic.has_value()) << logistic.error().message();
  EXPECT_EQ((*logistic)->task(), Task::kBinary);
  bool alpha_default = false;
  for (const auto& [k, v] : (*logistic)->params()) alpha_default |= k == "alpha" && v == "1";
  EXPECT_TRUE(alpha_default);
}

}  // namespace
}  // namespace mlforge::training

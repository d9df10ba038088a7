#include "serving/linear_runtime.h"

#include <gtest/gtest.h>

#include <cmath>

#include "serving_test_util.h"
#include "support/temp_dir.h"

namespace mlforge::serving {
namespace {

constexpr std::string_view kRegression =
    R"({"format": "mlforge.linear/1", "task": "regression", "features": ["a", "b", "c"],
        "coef": [0.5, -2.25, 3.0], "intercept": 1.125})";

FeatureBatch Rows(int64_t cols, std::vector<float> values) {
  return FeatureBatch{.rows = static_cast<int64_t>(values.size()) / cols, .cols = cols, .values = std::move(values)};
}

TEST(LinearRuntimeTest, RegressionIsExact) {
  mlforge::testing::TempDir tmp;
  testing::WriteLinearPackage(tmp.path(), kRegression);
  auto runtime = LoadModelPackage(tmp.path());
  ASSERT_TRUE(runtime.has_value()) << runtime.error().message();
  EXPECT_EQ((*runtime)->flavor(), "mlforge.linear");
  // No signature in MLmodel: inputs are the features, typed double.
  const ModelSignature& sig = (*runtime)->signature();
  ASSERT_EQ(sig.inputs.size(), 3u);
  EXPECT_EQ(sig.inputs[1].name, "b");
  EXPECT_EQ(sig.inputs[1].type, ColumnType::kDouble);

  auto out = (*runtime)->Predict(Rows(3, {1, 2, 3, -4, 0.5f, 0}));
  ASSERT_TRUE(out.has_value()) << out.error().message();
  ASSERT_EQ(out->rows, 2);
  ASSERT_EQ(out->cols, 1);
  EXPECT_EQ(out->output_names, std::vector<std::string>{"prediction"});
  // Exact in double: 1.125 + 0.5*1 - 2.25*2 + 3*3 and 1.125 - 2 - 1.125 + 0.
  EXPECT_EQ(out->values[0], 1.125 + 0.5 - 4.5 + 9.0);
  EXPECT_EQ(out->values[1], 1.125 - 2.0 - 1.125);
}

TEST(LinearRuntimeTest, LogisticGivesProbabilityAndFollowsSignatureOrder) {
  mlforge::testing::TempDir tmp;
  testing::WriteLinearPackage(
      tmp.path(),
      R"({"format": "mlforge.linear/1", "task": "binary_logistic", "features": ["a", "b"],
          "coef": [2.0, -1.0], "intercept": -0.5})",
      testing::ColumnsJson({{"b", "double"}, {"a", "long"}}));
  auto runtime = LoadModelPackage(tmp.path());
  ASSERT_TRUE(runtime.has_value()) << runtime.error().message();
  EXPECT_EQ((*runtime)->signature().inputs[0].name, "b");
  EXPECT_EQ((*runtime)->signature().inputs[1].type, ColumnType::kLong);
  // Row in signature order: b = 0.25, a = 3.
  auto out = (*runtime)->Predict(Rows(2, {0.25f, 3}));
  ASSERT_TRUE(out.has_value());
  const double z = -0.5 + 2.0 * 3 - 1.0 * 0.25;
  EXPECT_EQ(out->values[0], 1.0 / (1.0 + std::exp(-z)));
}

TEST(LinearRuntimeTest, MissingFeatureAndWrongWidthAreErrors) {
  auto runtime = LinearRuntimeFromJson(kRegression, std::nullopt);
  ASSERT_TRUE(runtime.has_value());
  auto out = (*runtime)->Predict(Rows(3, {1, NAN, 3}));
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_NE(out.error().message().find("'b'"), std::string::npos);
  out = (*runtime)->Predict(Rows(2, {1, 2}));
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().code(), ErrorCode::kInvalidParameterValue);
}

TEST(LinearRuntimeTest, RefusesBadModels) {
  const ModelSignature other = testing::DoubleSignature({"a", "zz", "c"});
  for (std::string_view text : {
           std::string_view("[]"),
           std::string_view(R"({"format": "mlforge.linear/2", "task": "regression", "features": ["a"], "coef": [1], "intercept": 0})"),
           std::string_view(R"({"format": "mlforge.linear/1", "task": "poisson", "features": ["a"], "coef": [1], "intercept": 0})"),
           std::string_view(R"({"format": "mlforge.linear/1", "task": "regression", "features": ["a", "b"], "coef": [1], "intercept": 0})"),
           std::string_view(R"({"format": "mlforge.linear/1", "task": "regression", "features": ["a", "a"], "coef": [1, 2], "intercept": 0})"),
           std::string_view(R"({"format": "mlforge.linear/1", "task": "regression", "features": ["a"], "coef": ["1"], "intercept": 0})"),
           std::string_view(R"({"format": "mlforge.linear/1", "task": "regression", "features": ["a"], "coef": [1]})"),
       }) {
    auto r = LinearRuntimeFromJson(text, std::nullopt);
    EXPECT_FALSE(r.has_value()) << text;
    if (!r) {
      EXPECT_EQ(r.error().code(), ErrorCode::kInvalidParameterValue);
    }
  }
  auto r = LinearRuntimeFromJson(kRegression, other);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("'zz'"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace mlforge::serving

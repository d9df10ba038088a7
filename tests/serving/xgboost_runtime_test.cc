#include "serving/xgboost_runtime.h"

#include <gtest/gtest.h>

#include "serving/tree_ensemble.h"
#include "support/temp_dir.h"
#include "xgboost_test_util.h"

namespace mlforge::serving {
namespace {

using testing::Booster;

constexpr int64_t kCols = 6;
constexpr int64_t kTrainRows = 600;
constexpr int64_t kTestRows = 400;

struct Case {
  std::string objective;
  int num_class;
  std::vector<std::pair<std::string, std::string>> params;
};

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  std::string name = info.param.objective;
  for (char& c : name) {
    if (c == ':') c = '_';
  }
  return name;
}

// Every prediction of the package's runtime equals libxgboost's own, for
// the model saved in each of the three formats.
class XgboostMatchesLibxgboostTest : public ::testing::TestWithParam<Case> {};

TEST_P(XgboostMatchesLibxgboostTest, EveryFormatEveryHeldOutRow) {
  const Case& c = GetParam();
  const std::vector<float> train = testing::RandomFeatures(kTrainRows, kCols, 1);
  const Booster booster = testing::Train(train, kTrainRows, kCols, c.objective, c.num_class, 20, c.params);
  std::vector<float> test = testing::RandomFeatures(kTestRows, kCols, 2, 0.2);
  // Edge values: exactly on thresholds is covered by integers, plus infinities.
  test[0] = 0.0f;
  test[1] = INFINITY;
  test[2] = -INFINITY;
  const std::vector<float> expected = booster.Predict(test, kTestRows, kCols);

  for (const std::string format : {"json", "ubj", "deprecated"}) {
    SCOPED_TRACE(format);
    mlforge::testing::TempDir tmp;
    testing::WriteXgboostPackage(tmp.path(), booster, format, kCols);
    auto runtime = LoadModelPackage(tmp.path());
    ASSERT_TRUE(runtime.has_value()) << runtime.error().message();
    EXPECT_EQ((*runtime)->flavor(), "xgboost");
    EXPECT_EQ(XgboostPredictor(**runtime), "native");

    // Batch and single-row predictions both match.
    auto batch = (*runtime)->Predict(FeatureBatch{.rows = kTestRows, .cols = kCols, .values = test});
    ASSERT_TRUE(batch.has_value()) << batch.error().message();
    ASSERT_EQ(batch->values.size(), expected.size());
    const int64_t outputs = static_cast<int64_t>(expected.size()) / kTestRows;
    EXPECT_EQ(batch->cols, outputs);
    EXPECT_EQ(batch->output_names.size(), static_cast<size_t>(outputs));
    for (size_t i = 0; i < expected.size(); ++i) {
      ASSERT_NEAR(batch->values[i], expected[i], 1e-6) << "value " << i;
    }
    for (int64_t r = 0; r < kTestRows; r += 7) {
      std::vector<float> row(test.begin() + r * kCols, test.begin() + (r + 1) * kCols);
      auto one = (*runtime)->Predict(FeatureBatch{.rows = 1, .cols = kCols, .values = row});
      ASSERT_TRUE(one.has_value());
      for (int64_t k = 0; k < outputs; ++k) {
        ASSERT_NEAR(one->values[static_cast<size_t>(k)], expected[static_cast<size_t>(r * outputs + k)], 1e-6);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Objectives, XgboostMatchesLibxgboostTest,
    ::testing::Values(Case{"reg:squarederror", 0, {{"max_depth", "5"}, {"base_score", "0.3"}}},
                      Case{"binary:logistic", 0, {{"max_depth", "4"}, {"eta", "0.3"}}},
                      Case{"reg:logistic", 0, {{"max_depth", "3"}, {"base_score", "0.2"}}},
                      Case{"multi:softprob", 3, {{"max_depth", "4"}}},
                      Case{"multi:softmax", 4, {{"max_depth", "3"}, {"num_parallel_tree", "2"}}}),
    CaseName);

// Models the native evaluator does not take are served by libxgboost and
// still give its answers.
TEST(XgboostRuntimeTest, DartAndGblinearFallBackToLibxgboost) {
  const std::vector<float> train = testing::RandomFeatures(kTrainRows, kCols, 3);
  const std::vector<float> test = testing::RandomFeatures(50, kCols, 4);
  for (auto params : std::vector<std::vector<std::pair<std::string, std::string>>>{
           {{"booster", "dart"}, {"rate_drop", "0.1"}}, {{"booster", "gblinear"}}}) {
    const Booster booster = testing::Train(train, kTrainRows, kCols, "reg:squarederror", 0, 10, params);
    const std::vector<float> expected = booster.PredictWithDMatrix(test, 50, kCols);
    mlforge::testing::TempDir tmp;
    testing::WriteXgboostPackage(tmp.path(), booster, "json", kCols);
    auto runtime = LoadModelPackage(tmp.path());
    ASSERT_TRUE(runtime.has_value()) << runtime.error().message();
    EXPECT_EQ(XgboostPredictor(**runtime), "libxgboost") << params[0].second;
    auto out = (*runtime)->Predict(FeatureBatch{.rows = 50, .cols = kCols, .values = test});
    ASSERT_TRUE(out.has_value()) << out.error().message();
    for (size_t i = 0; i < expected.size(); ++i) ASSERT_NEAR(out->values[i], expected[i], 1e-6);
  }
}

TEST(XgboostRuntimeTest, ClassifierModelClassPredictsLabelsAsMlflowDoes) {
  const std::vector<float> train = testing::RandomFeatures(kTrainRows, kCols, 5);
  const std::vector<float> test = testing::RandomFeatures(100, kCols, 6);
  for (const auto& [objective, num_class] : std::vector<std::pair<std::string, int>>{
           {"binary:logistic", 0}, {"multi:softprob", 3}}) {
    const Booster booster = testing::Train(train, kTrainRows, kCols, objective, num_class, 10);
    mlforge::testing::TempDir tmp;
    testing::WriteXgboostPackage(tmp.path(), booster, "ubj", kCols, true, "xgboost.sklearn.XGBClassifier");
    auto runtime = LoadModelPackage(tmp.path());
    ASSERT_TRUE(runtime.has_value()) << runtime.error().message();
    auto out = (*runtime)->Predict(FeatureBatch{.rows = 100, .cols = kCols, .values = test});
    ASSERT_TRUE(out.has_value());
    ASSERT_EQ(out->cols, 1);
    const std::vector<float> proba = booster.Predict(test, 100, kCols);
    const int k = num_class ? num_class : 1;
    for (int64_t r = 0; r < 100; ++r) {
      double label = 0;
      if (k == 1) {
        label = proba[static_cast<size_t>(r)] > 0.5f ? 1 : 0;
      } else {
        for (int c = 1; c < k; ++c) {
          if (proba[static_cast<size_t>(r * k + c)] > proba[static_cast<size_t>(r * k + label)]) label = c;
        }
      }
      ASSERT_EQ(out->values[static_cast<size_t>(r)], label) << objective << " row " << r;
    }
  }
}

TEST(XgboostRuntimeTest, WithoutSignatureUsesFeatureNamesOrRefuses) {
  const std::vector<float> train = testing::RandomFeatures(200, 3, 7);
  {
    const Booster named = testing::Train(train, 200, 3, "reg:squarederror", 0, 3, {}, {"age", "income", "score"});
    mlforge::testing::TempDir tmp;
    testing::WriteXgboostPackage(tmp.path(), named, "json", 3, /*signature=*/false);
    auto runtime = LoadModelPackage(tmp.path());
    ASSERT_TRUE(runtime.has_value()) << runtime.error().message();
    const auto& inputs = (*runtime)->signature().inputs;
    ASSERT_EQ(inputs.size(), 3u);
    EXPECT_EQ(inputs[0].name, "age");
    EXPECT_EQ(inputs[2].name, "score");
    // With a signature, its names must be the booster's, in order.
    testing::WriteXgboostPackage(tmp.path(), named, "json", 3, /*signature=*/true);
    auto mismatched = LoadModelPackage(tmp.path());
    ASSERT_FALSE(mismatched.has_value());
    EXPECT_NE(mismatched.error().message().find("'age'"), std::string::npos) << mismatched.error().message();
  }
  const Booster unnamed = testing::Train(train, 200, 3, "reg:squarederror", 0, 3);
  mlforge::testing::TempDir tmp;
  testing::WriteXgboostPackage(tmp.path(), unnamed, "json", 3, /*signature=*/false);
  auto runtime = LoadModelPackage(tmp.path());
  ASSERT_FALSE(runtime.has_value());
  EXPECT_EQ(runtime.error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_NE(runtime.error().message().find("signature"), std::string::npos);
  // A signature of the wrong width.
  testing::WriteXgboostPackage(tmp.path(), unnamed, "json", 4);
  runtime = LoadModelPackage(tmp.path());
  ASSERT_FALSE(runtime.has_value());
  EXPECT_NE(runtime.error().message().find("4 inputs"), std::string::npos) << runtime.error().message();
}

TEST(XgboostRuntimeTest, CorruptOrUnknownModelsAreRefused) {
  const std::vector<float> train = testing::RandomFeatures(200, 3, 8);
  const Booster booster = testing::Train(train, 200, 3, "reg:squarederror", 0, 3);
  mlforge::testing::TempDir tmp;
  testing::WriteXgboostPackage(tmp.path(), booster, "json", 3);
  testing::WriteFile(tmp.path() / "model.json", "{\"learner\": 42}");
  auto r = LoadModelPackage(tmp.path());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidParameterValue);
  testing::WriteFile(tmp.path() / "model.json", "");
  r = LoadModelPackage(tmp.path());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidParameterValue);
  testing::WriteXgboostPackage(tmp.path(), booster, "json", 3, true, "sklearn.linear_model.Ridge");
  r = LoadModelPackage(tmp.path());
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("model_class"), std::string::npos);
  // Wrong feature count at predict time.
  testing::WriteXgboostPackage(tmp.path(), booster, "json", 3);
  auto ok = LoadModelPackage(tmp.path());
  ASSERT_TRUE(ok.has_value());
  auto out = (*ok)->Predict(FeatureBatch{.rows = 1, .cols = 2, .values = {1, 2}});
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().code(), ErrorCode::kInvalidParameterValue);
}

TEST(TreeEnsembleTest, StructurallyBrokenTreesAreRefused) {
  const std::vector<float> train = testing::RandomFeatures(200, 3, 9);
  const Booster booster = testing::Train(train, 200, 3, "reg:squarederror", 0, 2, {{"max_depth", "2"}});
  const std::string json = booster.Save("json");
  ASSERT_TRUE(TreeEnsemble::FromXgboostJson(json).has_value());
  auto mutate = [&](std::string_view from, std::string_view to) {
    std::string copy = json;
    const size_t at = copy.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) copy.replace(at, from.size(), to);
    return copy;
  };
  for (const std::string& bad : {
           mutate("\"left_children\":[1", "\"left_children\":[0"),       // a cycle
           mutate("\"left_children\":[1", "\"left_children\":[99"),      // out of range
           mutate("\"split_indices\":[", "\"split_indices\":[77,"),      // wrong length
           mutate("\"num_class\":\"0\"", "\"num_class\":\"-1\""),
           mutate("\"base_score\":\"", "\"base_score\":\"x"),
       }) {
    auto r = TreeEnsemble::FromXgboostJson(bad);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidParameterValue) << r.error().message();
  }
  auto r = TreeEnsemble::FromXgboostJson(mutate("\"name\":\"reg:squarederror\"", "\"name\":\"count:poisson\""));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotImplemented);
}

}  // namespace
}  // namespace mlforge::serving

// The MLflow xgboost-flavor package made by fixtures/make_mlflow_xgb_fixture.py
// (python3-xgboost) is served as it is, and answers what xgboost's Python
// package answered for the same rows.
#include <gtest/gtest.h>

#include <cmath>

#include "base/json.h"
#include "serving/codec.h"
#include "serving/runtime.h"
#include "serving/xgboost_runtime.h"
#include "serving_test_util.h"

namespace mlforge::serving {
namespace {

const std::filesystem::path kFixtures = SERVING_FIXTURES_DIR;

TEST(MlflowXgboostFixtureTest, ServedAsItIsWithPythonsPredictions) {
  auto runtime = LoadModelPackage(kFixtures / "mlflow_xgb_model");
  ASSERT_TRUE(runtime.has_value()) << runtime.error().message();
  EXPECT_EQ((*runtime)->flavor(), "xgboost");
  EXPECT_EQ(XgboostPredictor(**runtime), "native");
  const ModelSignature& sig = (*runtime)->signature();
  ASSERT_EQ(sig.inputs.size(), 4u);
  EXPECT_EQ(sig.inputs[2].name, "petal_length");

  auto expected = json::Parse(testing::ReadFile(kFixtures / "mlflow_xgb_expected.json"));
  ASSERT_TRUE(expected.has_value());
  // The rows as an MLflow client sends them (DataFrame.to_dict(orient="split")).
  std::string body = R"({"dataframe_split": {"columns": )" + json::Serialize(*expected->Find("columns")) +
                     R"(, "data": )" + json::Serialize(*expected->Find("rows")) + "}}";
  auto batch = DecodeInvocationsRequest("application/json", body, sig);
  ASSERT_TRUE(batch.has_value()) << batch.error().message();
  auto out = (*runtime)->Predict(*batch);
  ASSERT_TRUE(out.has_value()) << out.error().message();
  const auto& want = expected->Find("predictions")->items();
  ASSERT_EQ(out->values.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(out->values[i], want[i].as_double(), 1e-6) << "row " << i;
  }
  std::string response;
  AppendInvocationsResponse(*out, &response);
  auto parsed = json::Parse(response);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->Find("predictions")->items().size(), want.size());
}

}  // namespace
}  // namespace mlforge::serving

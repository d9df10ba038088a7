// What `mlforge train` writes is what serving loads: each package is loaded
// with serving::LoadModelPackage and predicts the validation rows as
// training did.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "base/clock.h"
#include "serving/runtime.h"
#include "support/temp_dir.h"
#include "training/training.h"

namespace mlforge::training {
namespace {

Table Data(int rows, bool classes3 = false) {
  Table t{.columns = {"a", "b", "c", "y"}, .rows = rows};
  for (int i = 0; i < rows; ++i) {
    double a = std::sin(i * 0.37) * 2, b = std::cos(i * 0.91) * 3, c = (i * 7919 % 101) / 101.0;
    double y = classes3 ? std::floor(std::fmod(std::abs(a + b), 3.0)) : (2 * a - b + 0.3 * c > 0);
    t.values.insert(t.values.end(), {a, b, c, y});
  }
  return t;
}

void ExpectServedLikeTrained(const Table& t, TrainOptions o, std::string_view flavor, int outputs) {
  FakeClock clock;
  auto trainer = PrepareTraining(t, o);
  ASSERT_TRUE(trainer.has_value()) << trainer.error().message();
  auto model = (*trainer)->Train(nullptr, clock);
  ASSERT_TRUE(model.has_value()) << model.error().message();
  auto files = BuildPackage(**model, PackageInfo{.run_id = "r", .model_uuid = "u"});
  ASSERT_TRUE(files.has_value());
  testing::TempDir dir;
  for (const PackageFile& f : *files)
    std::ofstream(dir.path() / f.path, std::ios::binary) << f.bytes;

  auto runtime = serving::LoadModelPackage(dir.path());
  ASSERT_TRUE(runtime.has_value()) << runtime.error().message();
  EXPECT_EQ((*runtime)->flavor(), flavor);
  const serving::ModelSignature& sig = (*runtime)->signature();
  ASSERT_EQ(sig.inputs.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(sig.inputs[i].name, t.columns[i]);

  const std::vector<int64_t>& rows = (*trainer)->split().validation;
  serving::FeatureBatch batch{.rows = static_cast<int64_t>(rows.size()), .cols = 3};
  for (int64_t r : rows) {
    for (size_t c = 0; c < 3; ++c) batch.values.push_back(static_cast<float>(t.at(r, c)));
  }
  auto pred = (*runtime)->Predict(batch);
  ASSERT_TRUE(pred.has_value()) << pred.error().message();
  ASSERT_EQ(pred->cols, outputs);
  const std::vector<double>& expected = (*model)->validation_predictions();
  ASSERT_EQ(pred->values.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    // Serving reads float32 features; training fitted the linear model on doubles.
    EXPECT_NEAR(pred->values[i], expected[i], 1e-5 * (1 + std::abs(expected[i]))) << i;
  }
}

TEST(PackageLoadTest, XgboostBinary) {
  ExpectServedLikeTrained(Data(300), {.target = "y", .params = {{"nthread", "1"}}, .rounds = 15},
                          "xgboost", 1);
}

TEST(PackageLoadTest, XgboostRegressionWithEarlyStopping) {
  Table t = Data(300);
  for (int64_t r = 0; r < t.rows; ++r)
    t.values[static_cast<size_t>(r) * 4 + 3] = t.at(r, 0) * 3 + t.at(r, 2);
  ExpectServedLikeTrained(
      t,
      {.target = "y",
       .params = {{"nthread", "1"}, {"early_stopping_rounds", "3"}, {"eta", "0.5"}},
       .rounds = 200},
      "xgboost", 1);
}

TEST(PackageLoadTest, XgboostMulticlass) {
  ExpectServedLikeTrained(
      Data(300, true),
      {.target = "y", .params = {{"nthread", "1"}, {"objective", "multi:softprob"}}, .rounds = 10},
      "xgboost", 3);
}

TEST(PackageLoadTest, LinearRegressionAndLogistic) {
  Table t = Data(200);
  ExpectServedLikeTrained(t, {.flavor = Flavor::kLinear, .target = "y"}, "mlforge.linear", 1);
  ExpectServedLikeTrained(
      t, {.flavor = Flavor::kLinear, .target = "y", .params = {{"task", "regression"}}},
      "mlforge.linear", 1);
}

}  // namespace
}  // namespace mlforge::training

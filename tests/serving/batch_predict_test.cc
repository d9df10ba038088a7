#include "serving/batch_predict.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <sstream>

#include "base/json.h"
#include "serving/linear_runtime.h"
#include "serving_test_util.h"
#include "support/temp_dir.h"
#include "xgboost_test_util.h"

namespace mlforge::serving {
namespace {

std::unique_ptr<ModelRuntime> Linear() {
  auto r = LinearRuntimeFromJson(
      R"({"format": "mlforge.linear/1", "task": "binary_logistic", "features": ["a", "b", "c"],
          "coef": [0.5, -1.25, 2.0], "intercept": 0.1})",
      std::nullopt);
  EXPECT_TRUE(r.has_value());
  return std::move(*r);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Rows r: a = r % 17 - 8, b = r * 0.01, c = (r % 3) / 4.
std::vector<float> RowValues(int64_t r) {
  return {static_cast<float>(r % 17 - 8), static_cast<float>(r * 0.01),
          static_cast<float>(r % 3) / 4};
}

TEST(BatchPredictTest, CsvEqualsRuntimePredictionsInInputOrder) {
  auto runtime = Linear();
  constexpr int64_t kRows = 10007;
  std::string csv = "b,id,a,c\n";
  FeatureBatch all{.rows = kRows, .cols = 3};
  for (int64_t r = 0; r < kRows; ++r) {
    const auto v = RowValues(r);
    all.values.insert(all.values.end(), v.begin(), v.end());
    csv += fmt::format("{},row-{},{},{}\n", v[1], r, v[0], v[2]);
  }
  auto expected = runtime->Predict(all);
  ASSERT_TRUE(expected.has_value());

  std::istringstream in(csv);
  std::ostringstream out;
  int64_t progress = 0;
  auto stats = BatchPredict(
      *runtime, in, out,
      BatchPredictOptions{
          .threads = 3, .batch_rows = 97, .id_column = "id", .progress = [&](int64_t rows) {
            progress = rows;
          }});
  ASSERT_TRUE(stats.has_value()) << stats.error().message();
  EXPECT_EQ(stats->rows, kRows);
  EXPECT_EQ(progress, kRows);
  const auto lines = Lines(out.str());
  ASSERT_EQ(lines.size(), static_cast<size_t>(kRows + 1));
  EXPECT_EQ(lines[0], "id,prediction");
  for (int64_t r = 0; r < kRows; ++r) {
    const std::string& line = lines[static_cast<size_t>(r + 1)];
    const size_t comma = line.find(',');
    ASSERT_EQ(line.substr(0, comma), fmt::format("row-{}", r));
    ASSERT_EQ(std::strtod(line.c_str() + comma + 1, nullptr),
              expected->values[static_cast<size_t>(r)])
        << line;
  }
}

TEST(BatchPredictTest, JsonLinesInAndOutWithAnXgboostModel) {
  const std::vector<float> train = testing::RandomFeatures(300, 3, 11);
  const testing::Booster booster = testing::Train(train, 300, 3, "multi:softprob", 3, 5);
  mlforge::testing::TempDir tmp;
  testing::WriteXgboostPackage(tmp.path(), booster, "json", 3);
  auto runtime = LoadModelPackage(tmp.path());
  ASSERT_TRUE(runtime.has_value()) << runtime.error().message();

  constexpr int64_t kRows = 500;
  const std::vector<float> x = testing::RandomFeatures(kRows, 3, 12);
  std::string jsonl;
  for (int64_t r = 0; r < kRows; ++r) {
    jsonl += fmt::format("{{\"key\": {}", r);
    for (int c = 0; c < 3; ++c) {
      const float v = x[static_cast<size_t>(r * 3 + c)];
      jsonl +=
          std::isnan(v) ? fmt::format(", \"f{}\": null", c) : fmt::format(", \"f{}\": {}", c, v);
    }
    jsonl += "}\n";
  }
  const std::vector<float> expected = booster.Predict(x, kRows, 3);
  std::istringstream in(jsonl);
  std::ostringstream out;
  auto stats = BatchPredict(**runtime, in, out,
                            BatchPredictOptions{.input_format = LineFormat::kJsonl,
                                                .output_format = LineFormat::kJsonl,
                                                .threads = 2,
                                                .batch_rows = 64,
                                                .id_column = "key"});
  ASSERT_TRUE(stats.has_value()) << stats.error().message();
  const auto lines = Lines(out.str());
  ASSERT_EQ(lines.size(), static_cast<size_t>(kRows));
  for (int64_t r = 0; r < kRows; ++r) {
    auto v = json::Parse(lines[static_cast<size_t>(r)]);
    ASSERT_TRUE(v.has_value()) << lines[static_cast<size_t>(r)];
    EXPECT_EQ(v->Find("key")->as_int64(), r);
    for (int c = 0; c < 3; ++c) {
      const json::Value* p = v->Find(fmt::format("class_{}", c));
      ASSERT_NE(p, nullptr) << lines[static_cast<size_t>(r)];
      ASSERT_NEAR(p->as_double(), expected[static_cast<size_t>(r * 3 + c)], 1e-6);
    }
  }
}

// Lines cut across read blocks and chunks, CRLF endings, and a last line
// without a newline: every row predicted once, in order.
TEST(BatchPredictTest, CrlfAndAMissingFinalNewline) {
  auto runtime = Linear();
  constexpr int64_t kRows = 90011;  // the CSV is over 1 MiB: several read blocks
  std::string csv = "a,b,c\r\n";
  FeatureBatch all{.rows = kRows, .cols = 3};
  for (int64_t r = 0; r < kRows; ++r) {
    const auto v = RowValues(r);
    all.values.insert(all.values.end(), v.begin(), v.end());
    csv += fmt::format("{},{},{}{}", v[0], v[1], v[2], r + 1 < kRows ? "\r\n" : "");
  }
  ASSERT_GT(csv.size(), size_t{1} << 20);
  auto expected = runtime->Predict(all);
  ASSERT_TRUE(expected.has_value());
  std::istringstream in(csv);
  std::ostringstream out;
  auto stats = BatchPredict(*runtime, in, out, BatchPredictOptions{.threads = 2, .batch_rows = 1000});
  ASSERT_TRUE(stats.has_value()) << stats.error().ToString();
  EXPECT_EQ(stats->rows, kRows);
  const auto lines = Lines(out.str());
  ASSERT_EQ(lines.size(), static_cast<size_t>(kRows + 1));
  for (int64_t r : {int64_t{0}, int64_t{999}, int64_t{1000}, kRows - 1}) {
    EXPECT_NEAR(std::stod(lines[static_cast<size_t>(r + 1)]), expected->values[static_cast<size_t>(r)],
                1e-12)
        << "row " << r;
  }
}

TEST(BatchPredictTest, BadLineNamesLineAndColumn) {
  auto runtime = Linear();
  std::string csv = "a,b,c\n";
  for (int r = 0; r < 5000; ++r) csv += r == 3210 ? "1,oops,2\n" : "1,2,3\n";
  std::istringstream in(csv);
  std::ostringstream out;
  auto stats =
      BatchPredict(*runtime, in, out, BatchPredictOptions{.threads = 2, .batch_rows = 100});
  ASSERT_FALSE(stats.has_value());
  EXPECT_EQ(stats.error().code(), ErrorCode::kInvalidParameterValue);
  // Header is line 1, so row 3210 (0-based) is line 3212.
  EXPECT_NE(stats.error().message().find("line 3212"), std::string::npos)
      << stats.error().message();
  EXPECT_NE(stats.error().message().find("'b'"), std::string::npos) << stats.error().message();

  std::istringstream jsonl("{\"a\": 1, \"b\": 2, \"c\": 3}\n{\"a\": 1, \"b\": 2}\n");
  stats =
      BatchPredict(*runtime, jsonl, out, BatchPredictOptions{.input_format = LineFormat::kJsonl});
  ASSERT_FALSE(stats.has_value());
  EXPECT_NE(stats.error().message().find("line 2"), std::string::npos) << stats.error().message();
  EXPECT_NE(stats.error().message().find("'c'"), std::string::npos) << stats.error().message();

  std::istringstream empty("");
  EXPECT_FALSE(BatchPredict(*runtime, empty, out, {}).has_value());
  std::istringstream bad_header("a,b,zz\n1,2,3\n");
  stats = BatchPredict(*runtime, bad_header, out, {});
  ASSERT_FALSE(stats.has_value());
  EXPECT_NE(stats.error().message().find("'zz'"), std::string::npos);
}

}  // namespace
}  // namespace mlforge::serving

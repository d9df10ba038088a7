// The packed metric-history chunks: encoding, damage detection, MLflow's order.
#include "tracking/metric_history.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>

namespace mlforge::tracking {
namespace {

TEST(MetricHistory, ChunksRoundTripEveryValue) {
  const std::vector<HistoryPoint> points = {
      {0, 1, 0.5}, {-1, INT64_MAX, -DBL_MAX}, {INT64_MIN, 0, DBL_MAX}, {3, 4, std::nan("")},
      {5, 6, -0.0}, {7, 8, 5e-324}};
  std::string chunk;
  for (const HistoryPoint& p : points) AppendToChunk(p, chunk);
  EXPECT_EQ(chunk.size(), points.size() * kHistoryPointBytes);
  std::vector<HistoryPoint> decoded = {{9, 9, 9}};  // appends after what is there
  ASSERT_TRUE(DecodeChunk(chunk, decoded).ok());
  ASSERT_EQ(decoded.size(), points.size() + 1);
  for (size_t i = 0; i < points.size(); ++i) {
    EXPECT_EQ(decoded[i + 1].step, points[i].step);
    EXPECT_EQ(decoded[i + 1].timestamp, points[i].timestamp);
    if (std::isnan(points[i].value)) {
      EXPECT_TRUE(std::isnan(decoded[i + 1].value));
    } else {
      EXPECT_EQ(std::signbit(decoded[i + 1].value), std::signbit(points[i].value));
      EXPECT_EQ(decoded[i + 1].value, points[i].value);
    }
  }
}

TEST(MetricHistory, DamagedChunkIsAnErrorNotGarbage) {
  std::string chunk;
  AppendToChunk({1, 2, 3}, chunk);
  chunk.pop_back();
  std::vector<HistoryPoint> out;
  Status s = DecodeChunk(chunk, out);
  EXPECT_EQ(s.code(), ErrorCode::kInternalError);
  EXPECT_TRUE(out.empty());
}

TEST(MetricHistory, SortsByStepTimestampValueAndDropsExactDuplicates) {
  const double nan = std::nan("");
  std::vector<HistoryPoint> points = {{2, 1, 0.5}, {1, 9, 0.1}, {1, 5, 0.7}, {1, 5, 0.2},
                                      {1, 5, 0.2}, {1, 5, nan}, {1, 5, 0.0}, {1, 5, nan},
                                      {1, 5, -1.0}, {2, 1, 0.5}};
  SortAndDedupHistory(points);
  // A NaN ranks as 0, after a real 0 (MLflow's SQL store keeps NaN as 0 + is_nan).
  const std::vector<std::tuple<int64_t, int64_t, double>> expected = {
      {1, 5, -1.0}, {1, 5, 0.0}, {1, 5, nan}, {1, 5, 0.2}, {1, 5, 0.7}, {1, 9, 0.1}, {2, 1, 0.5}};
  ASSERT_EQ(points.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(points[i].step, std::get<0>(expected[i])) << i;
    EXPECT_EQ(points[i].timestamp, std::get<1>(expected[i])) << i;
    if (std::isnan(std::get<2>(expected[i]))) {
      EXPECT_TRUE(std::isnan(points[i].value)) << i;
    } else {
      EXPECT_EQ(points[i].value, std::get<2>(expected[i])) << i;
    }
  }
}

}  // namespace
}  // namespace mlforge::tracking

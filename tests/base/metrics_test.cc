#include "base/metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace mlforge::metrics {
namespace {

TEST(Metrics, CountersGaugesAndLabelsInTextFormat) {
  Registry registry;
  Counter& a = registry.GetCounter("requests_total", "Requests.", {{"deployment", "fraud"}});
  Counter& b = registry.GetCounter("requests_total", "ignored", {{"deployment", "churn"}});
  EXPECT_EQ(&a, &registry.GetCounter("requests_total", "", {{"deployment", "fraud"}}));
  a.Inc();
  a.Inc(2);
  b.Inc();
  registry.GetGauge("loaded_models", "Models in memory.").Set(2);
  const std::string text = registry.Render();
  EXPECT_NE(text.find("# HELP requests_total Requests.\n# TYPE requests_total counter\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("requests_total{deployment=\"fraud\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("requests_total{deployment=\"churn\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE loaded_models gauge\nloaded_models 2\n"), std::string::npos) << text;
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  Registry registry;
  registry.GetCounter("x_total", "a \\ b\nc", {{"v", "q\"u\\o\nte"}}).Inc();
  const std::string text = registry.Render();
  EXPECT_NE(text.find("# HELP x_total a \\\\ b\\nc\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_total{v=\"q\\\"u\\\\o\\nte\"} 1\n"), std::string::npos) << text;
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Registry registry;
  const double bounds[] = {1, 5, 10};
  Histogram& h = registry.GetHistogram("batch_rows", "Rows.", {{"m", "x"}}, bounds);
  for (double v : {0.5, 1.0, 3.0, 7.0, 100.0}) h.Observe(v);
  Histogram::Snapshot s = h.Read();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 3, 4, 5}));
  EXPECT_DOUBLE_EQ(s.sum, 111.5);
  const std::string text = registry.Render();
  EXPECT_NE(text.find("batch_rows_bucket{m=\"x\",le=\"1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("batch_rows_bucket{m=\"x\",le=\"10\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("batch_rows_bucket{m=\"x\",le=\"+Inf\"} 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("batch_rows_sum{m=\"x\"} 111.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("batch_rows_count{m=\"x\"} 5\n"), std::string::npos) << text;
}

TEST(Metrics, CallbackGaugesDisappearWithTheirHandle) {
  Registry registry;
  double depth = 7;
  auto handle =
      registry.AddGaugeCallback("queue_rows", "Queued.", {{"m", "a"}}, [&depth] { return depth; });
  EXPECT_NE(registry.Render().find("queue_rows{m=\"a\"} 7\n"), std::string::npos);
  depth = 3;
  EXPECT_NE(registry.Render().find("queue_rows{m=\"a\"} 3\n"), std::string::npos);
  handle.reset();
  EXPECT_EQ(registry.Render().find("queue_rows"), std::string::npos);
}

TEST(Metrics, ProcessMetricsReportMemory) {
  Registry registry;
  auto handles = AddProcessMetrics(registry);
  EXPECT_GT(ProcessResidentBytes(), 0);
  const std::string text = registry.Render();
  EXPECT_NE(text.find("# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes "),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("process_resident_memory_bytes 0\n"), std::string::npos) << text;
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  Registry registry;
  Counter& c = registry.GetCounter("n_total", "N.");
  Histogram& h = registry.GetHistogram("d_seconds", "D.", {}, LatencyBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.Inc();
        h.Observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
  EXPECT_EQ(h.Read().count(), 40000u);
}

}  // namespace
}  // namespace mlforge::metrics

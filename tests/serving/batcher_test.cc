// Batcher: adaptive batches, caps, fill wait, errors and draining.
#include "serving/batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "base/metrics.h"
#include "serving/deploy_test_util.h"

namespace mlforge::serving {
namespace {

using namespace std::chrono_literals;
using testing::FakeRuntime;
using testing::Row;

// Records what it was given; signals a promise when finished.
class RecordingJob final : public BatchJob {
 public:
  explicit RecordingJob(std::promise<std::vector<double>>* done) : done_(done) {}
  void Finish(const Result<PredictionBatch>& batch, int64_t first_row) override {
    if (!batch) {
      done_->set_value({-1});
      return;
    }
    std::vector<double> mine;
    for (int64_t r = 0; r < features.rows; ++r) {
      mine.push_back(batch->values[static_cast<size_t>((first_row + r) * batch->cols)]);
    }
    done_->set_value(std::move(mine));
  }

 private:
  std::promise<std::vector<double>>* done_;
};

std::unique_ptr<BatchJob> Job(std::promise<std::vector<double>>* done, FeatureBatch features) {
  auto job = std::make_unique<RecordingJob>(done);
  job->features = std::move(features);
  return job;
}

FeatureBatch Rows(std::vector<float> per_row_value) {
  FeatureBatch b;
  b.rows = static_cast<int64_t>(per_row_value.size());
  b.cols = 2;
  for (float v : per_row_value) b.values.insert(b.values.end(), {v, v});
  return b;
}

TEST(Batcher, LoneRequestGoesStraightThrough) {
  metrics::Registry registry;
  auto* hist = &registry.GetHistogram("rows", "r", {}, metrics::SizeBuckets());
  Batcher batcher(std::make_shared<FakeRuntime>(3, 2), {.max_batch_rows = 64, .batch_rows = hist});
  std::promise<std::vector<double>> done;
  auto result = done.get_future();
  batcher.Submit(Job(&done, Rows({1, 2})));
  EXPECT_EQ(result.get(), (std::vector<double>{3002, 3004}));
  EXPECT_EQ(hist->Read().count(), 1u);
}

TEST(Batcher, ConcurrentRequestsShareBatchesWithinTheCap) {
  std::atomic<int64_t> batches{0};
  std::atomic<int64_t> max_rows{0};
  constexpr int kRequests = 200;
  {
    // A slow model: requests pile up while a batch runs.
    Batcher batcher(std::make_shared<FakeRuntime>(1, 2, 2ms, &batches, &max_rows),
                    {.max_batch_rows = 8});
    std::vector<std::promise<std::vector<double>>> done(kRequests);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = t; i < kRequests; i += 4) batcher.Submit(Job(&done[i], Rows({float(i)})));
      });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < kRequests; ++i) {
      EXPECT_EQ(done[i].get_future().get(), std::vector<double>{1000 + 2.0 * i}) << i;
    }
  }
  EXPECT_LT(batches.load(), kRequests);  // some requests shared a batch
  EXPECT_GT(max_rows.load(), 1);
  EXPECT_LE(max_rows.load(), 8);
}

TEST(Batcher, BatchOfOneMeansNoBatchingAndBigRequestsRunAlone) {
  std::atomic<int64_t> max_rows{0};
  {
    Batcher batcher(std::make_shared<FakeRuntime>(1, 2, 1ms, nullptr, &max_rows),
                    {.max_batch_rows = 1});
    std::vector<std::promise<std::vector<double>>> done(20);
    for (auto& d : done) batcher.Submit(Job(&d, Rows({1})));
    for (auto& d : done) EXPECT_EQ(d.get_future().get(), std::vector<double>{1002});
  }
  EXPECT_EQ(max_rows.load(), 1);
  {
    Batcher batcher(std::make_shared<FakeRuntime>(1, 2, 0us, nullptr, &max_rows),
                    {.max_batch_rows = 1});
    std::promise<std::vector<double>> big;
    batcher.Submit(Job(&big, Rows({1, 2, 3, 4, 5})));
    EXPECT_EQ(big.get_future().get().size(), 5u);
  }
  EXPECT_EQ(max_rows.load(), 5);
}

TEST(Batcher, FillWaitCollectsABatch) {
  std::atomic<int64_t> batches{0};
  std::atomic<int64_t> max_rows{0};
  // The wait is long and the cap is 3: the thread holds the first requests
  // until the third arrives, so all three run as one batch.
  Batcher batcher(std::make_shared<FakeRuntime>(1, 2, 0us, &batches, &max_rows),
                  {.max_batch_rows = 3, .max_wait = std::chrono::seconds(60)});
  std::vector<std::promise<std::vector<double>>> done(3);
  for (int i = 0; i < 3; ++i) {
    batcher.Submit(Job(&done[i], Rows({float(i)})));
    std::this_thread::sleep_for(5ms);
  }
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(done[i].get_future().get(), std::vector<double>{1000 + 2.0 * i});
  EXPECT_EQ(batches.load(), 1);
  EXPECT_EQ(max_rows.load(), 3);
}

class FailingRuntime final : public ModelRuntime {
 public:
  std::string_view flavor() const override { return "test.failing"; }
  const ModelSignature& signature() const override { return signature_; }
  Result<PredictionBatch> Predict(const FeatureBatch&) const override {
    return Err(InvalidArgument("cannot"));
  }

 private:
  ModelSignature signature_;
};

TEST(Batcher, ModelErrorReachesEveryJob) {
  Batcher batcher(std::make_shared<FailingRuntime>(), {});
  std::promise<std::vector<double>> a;
  std::promise<std::vector<double>> b;
  batcher.Submit(Job(&a, Rows({1})));
  batcher.Submit(Job(&b, Rows({2})));
  EXPECT_EQ(a.get_future().get(), std::vector<double>{-1});
  EXPECT_EQ(b.get_future().get(), std::vector<double>{-1});
}

TEST(Batcher, DestructionRunsWhatIsQueued) {
  std::vector<std::promise<std::vector<double>>> done(50);
  std::vector<std::future<std::vector<double>>> results;
  for (auto& d : done) results.push_back(d.get_future());
  {
    Batcher batcher(std::make_shared<FakeRuntime>(2, 2, 1ms), {.max_batch_rows = 4});
    for (auto& d : done) batcher.Submit(Job(&d, Rows({1})));
    EXPECT_GT(batcher.queued_rows(), 0);
  }
  for (auto& r : results) {
    ASSERT_EQ(r.wait_for(0s), std::future_status::ready);
    EXPECT_EQ(r.get(), std::vector<double>{2002});
  }
}

}  // namespace
}  // namespace mlforge::serving

// Adaptive batching of concurrent requests to one loaded model version.
// Private to src/serving.
//
// Requests queue their rows; one batch thread predicts whatever has queued
// while the previous batch ran, so a lone request goes straight through (no
// added latency) and a busy model gets bigger batches. A batch holds at most
// max_batch_rows rows (a bigger request runs alone), and with max_wait > 0
// the thread waits up to that long after the oldest queued request for a
// batch to fill.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/status.h"
#include "serving/runtime.h"

namespace mlforge::metrics {
class Histogram;
}

namespace mlforge::serving {

// One request's rows and what to do with their predictions.
class BatchJob {
 public:
  virtual ~BatchJob() = default;
  // Called once on the batch thread. `batch` holds predictions for every row
  // of the batch this job ran in (or the model's error); this job's rows are
  // [first_row, first_row + features.rows).
  virtual void Finish(const Result<PredictionBatch>& batch, int64_t first_row) = 0;

  FeatureBatch features;
  std::chrono::steady_clock::time_point enqueued;
};

struct BatcherOptions {
  int max_batch_rows = 64;
  std::chrono::microseconds max_wait{0};
  metrics::Histogram* batch_rows = nullptr;  // optional: rows per batch
};

// Thread-safe. The destructor runs what is still queued, then joins the
// batch thread; it must not run on the batch thread (a BatchJob must not
// own its Batcher).
class Batcher {
 public:
  Batcher(std::shared_ptr<const ModelRuntime> runtime, BatcherOptions options);
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // REQUIRES: job->features.cols == the model's input count.
  void Submit(std::unique_ptr<BatchJob> job);
  // Rows waiting for a batch (a metrics gauge).
  int64_t queued_rows() const;
  const ModelRuntime& runtime() const { return *runtime_; }

 private:
  void Loop(std::stop_token stop);
  // Predicts one batch and finishes its jobs.
  void Run(std::vector<std::unique_ptr<BatchJob>>& jobs, int64_t rows);

  const std::shared_ptr<const ModelRuntime> runtime_;
  const BatcherOptions options_;

  mutable std::mutex mu_;  // guards the queue; held only to push or take jobs
  std::condition_variable_any cv_;
  std::vector<std::unique_ptr<BatchJob>> queue_;
  int64_t queued_rows_ = 0;
  bool idle_ = false;  // the thread waits for work: a Submit must wake it

  FeatureBatch merged_;  // batch thread only: concatenated features
  std::jthread thread_;  // last member: stops before the rest is destroyed
};

}  // namespace mlforge::serving

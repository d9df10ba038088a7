#include "serving/batcher.h"

#include <exception>
#include <utility>

#include "base/log.h"
#include "base/metrics.h"

namespace mlforge::serving {

Batcher::Batcher(std::shared_ptr<const ModelRuntime> runtime, BatcherOptions options)
    : runtime_(std::move(runtime)),
      options_(options),
      thread_([this](std::stop_token stop) { Loop(stop); }) {}

Batcher::~Batcher() {
  thread_.request_stop();
  {
    std::lock_guard lock(mu_);  // pairs with the wait, so the wake is not lost
  }
  cv_.notify_all();
  thread_.join();
}

void Batcher::Submit(std::unique_ptr<BatchJob> job) {
  if (options_.max_wait.count() > 0) job->enqueued = std::chrono::steady_clock::now();
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    queued_rows_ += job->features.rows;
    queue_.push_back(std::move(job));
    // A busy thread takes the job when its batch ends: no syscall to wake it.
    // With a fill wait the thread also wants to hear when a batch is full.
    wake = idle_ || options_.max_wait.count() > 0;
  }
  if (wake) cv_.notify_one();
}

int64_t Batcher::queued_rows() const {
  std::lock_guard lock(mu_);
  return queued_rows_;
}

void Batcher::Loop(std::stop_token stop) {
  std::vector<std::unique_ptr<BatchJob>> jobs;
  const int64_t max_rows = std::max(1, options_.max_batch_rows);
  while (true) {
    int64_t rows = 0;
    {
      std::unique_lock lock(mu_);
      if (queue_.empty()) {
        idle_ = true;
        cv_.wait(lock, stop, [this] { return !queue_.empty(); });
        idle_ = false;
        if (queue_.empty()) return;  // stopping, and everything ran
      }
      if (options_.max_wait.count() > 0 && queued_rows_ < max_rows && !stop.stop_requested()) {
        const auto deadline = queue_.front()->enqueued + options_.max_wait;
        cv_.wait_until(lock, stop, deadline, [&] { return queued_rows_ >= max_rows; });
      }
      // Whole jobs in arrival order; the first always goes, even if bigger.
      size_t take = 0;
      while (take < queue_.size() &&
             (take == 0 || rows + queue_[take]->features.rows <= max_rows)) {
        rows += queue_[take]->features.rows;
        ++take;
      }
      jobs.assign(std::make_move_iterator(queue_.begin()),
                  std::make_move_iterator(queue_.begin() + static_cast<ptrdiff_t>(take)));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(take));
      queued_rows_ -= rows;
    }
    Run(jobs, rows);
    jobs.clear();  // releases the jobs (and what they hold) outside the lock
  }
}

void Batcher::Run(std::vector<std::unique_ptr<BatchJob>>& jobs, int64_t rows) {
  const FeatureBatch* input = &jobs.front()->features;
  if (jobs.size() > 1) {
    const int64_t cols = input->cols;
    merged_.rows = rows;
    merged_.cols = cols;
    merged_.values.clear();
    merged_.values.reserve(static_cast<size_t>(rows * cols));
    for (const auto& job : jobs) {
      merged_.values.insert(merged_.values.end(), job->features.values.begin(),
                            job->features.values.end());
    }
    input = &merged_;
  }
  Result<PredictionBatch> out = Err(Internal("model did not run"));
  try {
    out = runtime_->Predict(*input);
    if (out && (out->rows != rows || out->values.size() != static_cast<size_t>(rows * out->cols))) {
      out = Err(Internal("the model returned a prediction batch of the wrong shape"));
    }
  } catch (const std::exception& e) {
    out = Err(Internal(std::string("the model threw: ") + e.what()));
  } catch (...) {
    out = Err(Internal("the model threw a non-std exception"));
  }
  if (options_.batch_rows != nullptr) options_.batch_rows->Observe(static_cast<double>(rows));
  int64_t first = 0;
  for (const auto& job : jobs) {
    try {
      job->Finish(out, first);
    } catch (const std::exception& e) {  // a bug in a completion must not stop the model
      log::Error("serving: a batch completion threw: {}", e.what());
    }
    first += job->features.rows;
  }
}

}  // namespace mlforge::serving

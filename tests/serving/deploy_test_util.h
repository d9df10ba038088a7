// Test doubles for the serving engine: a tiny model runtime whose answer
// names its version, a loader for it, and an in-memory ModelSource whose
// aliases tests move. Header-only; thread-safe where the engine needs it.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "serving/serving.h"

namespace mlforge::serving::testing {

inline constexpr int kNoNice = 100;  // not a nice value: nothing recorded yet

// The calling thread's nice value (Linux: per thread).
inline int ThreadNice() {
  return getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
}

// Predicts version * 1000 + sum of the row's features, so an answer tells
// which version produced it. Immutable; thread-safe.
class FakeRuntime final : public ModelRuntime {
 public:
  FakeRuntime(int64_t version, int cols, std::chrono::microseconds delay = {},
              std::atomic<int64_t>* batches = nullptr, std::atomic<int64_t>* max_rows = nullptr,
              std::atomic<int>* predict_nice = nullptr)
      : version_(version),
        delay_(delay),
        batches_(batches),
        max_rows_(max_rows),
        predict_nice_(predict_nice) {
    for (int i = 0; i < cols; ++i) {
      signature_.inputs.push_back({"x" + std::to_string(i), ColumnType::kDouble, true});
    }
    signature_.outputs.push_back({"prediction", ColumnType::kDouble, true});
  }
  std::string_view flavor() const override { return "test.fake"; }
  const ModelSignature& signature() const override { return signature_; }
  Result<PredictionBatch> Predict(const FeatureBatch& in) const override {
    if (in.cols != static_cast<int64_t>(signature_.inputs.size())) {
      return Err(InvalidArgument("wrong width"));
    }
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    if (batches_ != nullptr) batches_->fetch_add(1);
    if (predict_nice_ != nullptr) predict_nice_->store(ThreadNice());
    if (max_rows_ != nullptr) {
      int64_t seen = max_rows_->load();
      while (in.rows > seen && !max_rows_->compare_exchange_weak(seen, in.rows)) {
      }
    }
    PredictionBatch out;
    out.rows = in.rows;
    out.cols = 1;
    out.output_names = {"prediction"};
    for (int64_t r = 0; r < in.rows; ++r) {
      double sum = 0;
      for (int64_t c = 0; c < in.cols; ++c) sum += in.at(r, c);
      out.values.push_back(static_cast<double>(version_) * 1000 + sum);
    }
    return out;
  }

 private:
  int64_t version_;
  ModelSignature signature_;
  std::chrono::microseconds delay_;
  std::atomic<int64_t>* batches_;
  std::atomic<int64_t>* max_rows_;
  std::atomic<int>* predict_nice_;
};

// Model versions live at "fake/<model>/<version>". Tests say which
// versions fail to load and how slow prediction is.
class FakeModels final : public ModelSource {
 public:
  void AddVersion(const std::string& model, int64_t version) {
    std::lock_guard lock(mu_);
    versions_.insert({model, version});
  }
  void SetAlias(const std::string& model, const std::string& alias, int64_t version) {
    std::lock_guard lock(mu_);
    aliases_[{model, alias}] = version;
  }
  void BreakVersion(const std::string& model, int64_t version) {
    std::lock_guard lock(mu_);
    broken_.insert("fake/" + model + "/" + std::to_string(version));
  }
  void SetDelay(std::chrono::microseconds d) { delay_us_.store(d.count()); }
  int64_t loads() const { return loads_.load(); }

  Result<ResolvedModel> Resolve(const RouteSpec& route) override {
    std::lock_guard lock(mu_);
    int64_t version = route.version;
    if (!route.alias.empty()) {
      auto it = aliases_.find({route.model_name, route.alias});
      if (it == aliases_.end()) return Err(NotFound("no alias " + route.alias));
      version = it->second;
    }
    if (!versions_.contains({route.model_name, version})) {
      return Err(NotFound("no version " + std::to_string(version)));
    }
    return ResolvedModel{route.model_name, version,
                         "fake/" + route.model_name + "/" + std::to_string(version)};
  }

  ModelLoader Loader() {
    return [this](const std::filesystem::path& dir) -> Result<std::unique_ptr<ModelRuntime>> {
      loads_.fetch_add(1);
      load_nice.store(ThreadNice());
      {
        std::lock_guard lock(mu_);
        if (broken_.contains(dir.string())) {
          return Err(InvalidArgument("corrupt model file in " + dir.string()));
        }
      }
      const int64_t version = std::stoll(dir.filename().string());
      return std::unique_ptr<ModelRuntime>(std::make_unique<FakeRuntime>(
          version, 2, std::chrono::microseconds(delay_us_.load()), &batches, &max_batch_rows,
          &predict_nice));
    };
  }

  std::atomic<int64_t> batches{0};
  std::atomic<int64_t> max_batch_rows{0};
  // The nice value of the thread that last loaded / last predicted.
  std::atomic<int> load_nice{kNoNice};
  std::atomic<int> predict_nice{kNoNice};

 private:
  std::mutex mu_;
  std::set<std::pair<std::string, int64_t>> versions_;
  std::map<std::pair<std::string, std::string>, int64_t> aliases_;
  std::set<std::string> broken_;
  std::atomic<int64_t> delay_us_{0};
  std::atomic<int64_t> loads_{0};
};

inline RouteSpec AliasRoute(std::string model, std::string alias, double weight = 1,
                            RouteRole role = RouteRole::kPrimary) {
  RouteSpec r;
  r.model_name = std::move(model);
  r.alias = std::move(alias);
  r.weight = weight;
  r.role = role;
  return r;
}

inline RouteSpec VersionRoute(std::string model, int64_t version, double weight = 1,
                              RouteRole role = RouteRole::kPrimary) {
  RouteSpec r;
  r.model_name = std::move(model);
  r.version = version;
  r.weight = weight;
  r.role = role;
  return r;
}

// One row of `cols` features, all equal to v.
inline FeatureBatch Row(float v, int cols = 2) {
  FeatureBatch b;
  b.rows = 1;
  b.cols = cols;
  b.values.assign(static_cast<size_t>(cols), v);
  return b;
}

}  // namespace mlforge::serving::testing

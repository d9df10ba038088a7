// Routing snapshots and shadow mirroring. Private to src/serving.
//
// A DeploymentSnapshot is immutable once published: the request path reads
// it through a shared_ptr without locks, and the shared_ptr keeps every
// version it names loaded until the last request using it is done.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/bounded_queue.h"
#include "base/metrics.h"
#include "serving/batcher.h"
#include "serving/serving.h"

namespace mlforge::serving {

// One loaded version serving one deployment: the shared runtime and this
// deployment's batcher for it. Owned by the model manager, which destroys it
// (never a batch thread) once no snapshot or request holds it.
struct ServedVersion {
  std::string model_name;
  int64_t version = 0;
  std::shared_ptr<const ModelRuntime> runtime;
  std::unique_ptr<Batcher> batcher;
  std::unique_ptr<metrics::Registry::Registration> queue_gauge;
};

// Metrics of one route (pointers into the registry, which outlives them).
struct RouteMetrics {
  metrics::Counter* requests = nullptr;
  metrics::Counter* errors = nullptr;
  metrics::Histogram* latency = nullptr;
};

struct RouteEntry {
  RouteSpec spec;
  std::shared_ptr<ServedVersion> served;
  RouteMetrics metrics;
};

// Pre-route failures of a deployment, by reason.
struct DeploymentErrorCounters {
  metrics::Counter* bad_request = nullptr;  // body or parameters rejected
  metrics::Counter* not_found = nullptr;    // unknown version
  metrics::Counter* unavailable = nullptr;  // nothing loaded yet
};

class ShadowMirror;

struct DeploymentSnapshot {
  std::string name;
  int64_t revision = 0;  // 0: nothing loaded yet
  DeploymentConfig config;
  std::vector<RouteEntry> routes;  // every served route, in the stored order
  // Routes taking traffic (primary and challenger, weight > 0) and their
  // cumulative weights; a request picks a point in [0, total).
  std::vector<uint32_t> traffic;
  std::vector<double> cumulative;
  std::vector<uint32_t> shadows;
  std::shared_ptr<ShadowMirror> mirror;  // set when there are shadows
  DeploymentErrorCounters errors;
};

// Fills traffic, cumulative and shadows from routes.
void IndexRoutes(DeploymentSnapshot& snapshot);

// The traffic route for a request: sticky by key hash when the key is not
// empty, else at random. nullptr when nothing takes traffic.
const RouteEntry* PickRoute(const DeploymentSnapshot& snapshot, std::string_view route_key);
// A route serving exactly this version (traffic routes first), or nullptr.
const RouteEntry* FindVersion(const DeploymentSnapshot& snapshot, int64_t version);
// A stable 64-bit hash of a route key (FNV-1a, then a finalizer).
uint64_t RouteKeyHash(std::string_view key);

// A mirrored request waiting for the shadow routes.
struct ShadowJob {
  std::shared_ptr<const DeploymentSnapshot> snapshot;  // names the shadow routes
  FeatureBatch features;
  std::string request_id;
  std::string primary_model;
  int64_t primary_version = 0;
  PredictionBatch primary;
};

// Runs shadow routes off the request path: a bounded lock-free queue (a full
// queue drops the request, counted; its size rounds up to a power of two)
// drained by one background thread that predicts each shadow route, records
// latency, errors and the last N comparisons. Thread-safe. Stop() (or
// destruction, off its own thread) drops what is still queued.
class ShadowMirror {
 public:
  ShadowMirror(std::string deployment, const DeploymentConfig& config, metrics::Registry& registry);
  ~ShadowMirror();
  ShadowMirror(const ShadowMirror&) = delete;
  ShadowMirror& operator=(const ShadowMirror&) = delete;

  // Never waits for the shadow thread; false (and counted as dropped) when
  // the queue is full or the mirror stopped.
  bool TryMirror(ShadowJob job);
  ShadowStats Stats() const;
  void Stop();

 private:
  void Loop(std::stop_token stop);
  void RunOne(ShadowJob& job);

  const std::string deployment_;
  const size_t max_samples_;
  metrics::Registry& registry_;
  metrics::Counter* dropped_;

  // Lock-free: the shadow thread runs at background priority, and a batch
  // thread must never wait for it to release a lock (a lock with a few
  // tries dropped mirrors whenever the holder was preempted).
  BoundedQueue<ShadowJob> queue_;
  // The shadow thread sleeps on wake_cv_ when the queue is empty; batch
  // threads notify without taking wake_mu_, so a wakeup can be missed, and
  // the sleep is bounded (kIdleWait in routing.cc).
  std::mutex wake_mu_;
  std::condition_variable_any wake_cv_;
  std::atomic<bool> idle_{false};

  std::atomic<uint64_t> dropped_count_{0};  // counted on batch threads: no lock

  mutable std::mutex stats_mu_;  // guards the fields below (shadow thread and API readers)
  uint64_t mirrored_ = 0;
  uint64_t errors_ = 0;
  std::deque<ShadowSample> samples_;

  std::jthread thread_;
};

}  // namespace mlforge::serving

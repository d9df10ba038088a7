#include "serving/routing.h"

#include <algorithm>
#include <random>
#include <thread>
#include <utility>

#include "base/log.h"
#include "base/thread_priority.h"
#include "serving/model_manager.h"

namespace mlforge::serving {
namespace {

uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Per-thread splitmix64: no shared state on the request path.
uint64_t NextRandom() {
  thread_local uint64_t state = [] {
    std::random_device rd;
    return (uint64_t{rd()} << 32) ^ rd() ^ std::hash<std::thread::id>()(std::this_thread::get_id());
  }();
  state += 0x9e3779b97f4a7c15ULL;
  return Mix(state);
}

// [0, 1) from the top 53 bits.
double UnitInterval(uint64_t x) { return static_cast<double>(x >> 11) * 0x1.0p-53; }

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

uint64_t RouteKeyHash(std::string_view key) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return Mix(h);
}

void IndexRoutes(DeploymentSnapshot& s) {
  s.traffic.clear();
  s.cumulative.clear();
  s.shadows.clear();
  double total = 0;
  for (uint32_t i = 0; i < s.routes.size(); ++i) {
    const RouteSpec& spec = s.routes[i].spec;
    if (spec.role == RouteRole::kShadow) {
      s.shadows.push_back(i);
    } else if (spec.weight > 0) {
      total += spec.weight;
      s.traffic.push_back(i);
      s.cumulative.push_back(total);
    }
  }
}

const RouteEntry* PickRoute(const DeploymentSnapshot& s, std::string_view route_key) {
  if (s.traffic.empty()) return nullptr;
  if (s.traffic.size() == 1) return &s.routes[s.traffic[0]];
  const uint64_t draw = route_key.empty() ? NextRandom() : RouteKeyHash(route_key);
  const double point = UnitInterval(draw) * s.cumulative.back();
  const size_t i = static_cast<size_t>(
      std::upper_bound(s.cumulative.begin(), s.cumulative.end(), point) - s.cumulative.begin());
  return &s.routes[s.traffic[std::min(i, s.traffic.size() - 1)]];
}

const RouteEntry* FindVersion(const DeploymentSnapshot& s, int64_t version) {
  for (uint32_t i : s.traffic) {
    if (s.routes[i].served->version == version) return &s.routes[i];
  }
  for (const RouteEntry& r : s.routes) {
    if (r.served->version == version) return &r;
  }
  return nullptr;
}

// ------------------------------------------------------------ ShadowMirror

ShadowMirror::ShadowMirror(std::string deployment, const DeploymentConfig& config,
                           metrics::Registry& registry)
    : deployment_(std::move(deployment)),
      max_samples_(static_cast<size_t>(std::max(0, config.shadow_samples))),
      registry_(registry),
      dropped_(&registry.GetCounter("mlforge_serving_shadow_dropped_total",
                                    "Mirrored requests dropped because the shadow queue was full.",
                                    {{"deployment", deployment_}})),
      queue_(static_cast<size_t>(std::max(1, config.shadow_queue_size))),
      thread_([this](std::stop_token stop) { Loop(stop); }) {}

ShadowMirror::~ShadowMirror() { Stop(); }

void ShadowMirror::Stop() {
  thread_.request_stop();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  // Each pop leaves an empty job in the cell, so the queued ones (and the
  // snapshots and runtimes they hold) go now.
  while (true) {
    ShadowJob dropped;
    if (!queue_.TryPop(dropped)) break;
  }
}

bool ShadowMirror::TryMirror(ShadowJob job) {
  if (thread_.get_stop_token().stop_requested() || !queue_.TryPush(job)) {
    dropped_->Inc();
    dropped_count_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (idle_.exchange(false)) wake_cv_.notify_one();
  return true;
}

ShadowStats ShadowMirror::Stats() const {
  std::lock_guard lock(stats_mu_);
  ShadowStats s;
  s.mirrored = mirrored_;
  s.dropped = dropped_count_.load(std::memory_order_relaxed);
  s.errors = errors_;
  s.samples.assign(samples_.begin(), samples_.end());
  return s;
}

// The longest the shadow thread sleeps when a batch thread's wakeup was missed.
constexpr auto kIdleWait = std::chrono::milliseconds(50);

void ShadowMirror::Loop(std::stop_token stop) {
  LowerThreadPriority();
  while (!stop.stop_requested()) {
    ShadowJob job;  // a fresh one: the cell keeps an empty job, not a snapshot
    if (queue_.TryPop(job)) {
      RunOne(job);
      continue;
    }
    std::unique_lock lock(wake_mu_);
    idle_.store(true);
    if (queue_.TryPop(job)) {  // pushed before the batch thread could see idle_
      idle_.store(false);
      lock.unlock();
      RunOne(job);
      continue;
    }
    // A batch thread clears idle_ and notifies without wake_mu_: a wakeup
    // that lands before this wait is missed, and kIdleWait bounds that.
    wake_cv_.wait_for(lock, stop, kIdleWait, [this] { return !idle_.load(); });
    idle_.store(false);
  }
}

void ShadowMirror::RunOne(ShadowJob& job) {
  ShadowSample sample;
  sample.timestamp = NowMillis();
  sample.request_id = std::move(job.request_id);
  sample.rows = job.features.rows;
  sample.primary_model = std::move(job.primary_model);
  sample.primary_version = job.primary_version;
  sample.primary_values = std::move(job.primary.values);
  sample.output_names = std::move(job.primary.output_names);
  uint64_t errors = 0;
  for (uint32_t i : job.snapshot->shadows) {
    const RouteEntry& route = job.snapshot->routes[i];
    const ServedVersion& served = *route.served;
    ShadowOutput out;
    out.model_name = served.model_name;
    out.version = served.version;
    const auto start = std::chrono::steady_clock::now();
    Result<PredictionBatch> predicted = Err(Internal("not run"));
    try {
      predicted = served.runtime->Predict(job.features);
    } catch (const std::exception& e) {
      predicted = Err(Internal(std::string("the model threw: ") + e.what()));
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out.latency_ms = seconds * 1000;
    route.metrics.latency->Observe(seconds);
    route.metrics.requests->Inc();
    if (predicted) {
      out.values = std::move(predicted->values);
      out.output_names = std::move(predicted->output_names);
    } else {
      out.error = predicted.error().message();
      route.metrics.errors->Inc();
      ++errors;
    }
    sample.shadows.push_back(std::move(out));
  }
  std::lock_guard lock(stats_mu_);
  ++mirrored_;
  errors_ += errors;
  if (max_samples_ == 0) return;
  if (samples_.size() >= max_samples_) samples_.pop_front();
  samples_.push_back(std::move(sample));
}

}  // namespace mlforge::serving

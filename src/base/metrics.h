// Metrics registry with Prometheus text exposition (format 0.0.4).
//
// Counters, gauges and histograms are plain atomics: a caller looks a series
// up once (Get*, which takes the registry's mutex) and keeps the reference;
// updating it afterwards is a relaxed atomic add, cheap enough for a request
// path. Series live as long as the registry (counters never reset), so label
// values must come from a bounded set (deployment and version names, never
// raw user input). Values computed at scrape time (queue depth, memory) are
// callbacks whose registration is removed when its handle is destroyed.
//
// Thread-safe: every method may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mlforge::metrics {

// (name, value) pairs; the order given is the order written.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Fixed upper bounds (strictly increasing; +Inf is implicit).
class Histogram {
 public:
  explicit Histogram(std::span<const double> bounds);
  void Observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (= count)
    double sum = 0;
    uint64_t count() const { return cumulative.empty() ? 0 : cumulative.back(); }
  };
  Snapshot Read() const;

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds, 50 µs to 10 s.
std::span<const double> LatencyBuckets();
// Powers of two 1..1024, for batch sizes and the like.
std::span<const double> SizeBuckets();

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The series of `name` with these labels, created on first use. `help` is
  // taken from the first call. A name used with two metric types is a
  // programmer error (assert); a histogram's bounds are fixed by its first
  // series.
  Counter& GetCounter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& GetGauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& GetHistogram(std::string_view name, std::string_view help, const Labels& labels,
                          std::span<const double> bounds);

  // A gauge series read at scrape time. The callback runs under the
  // registry's mutex, so it must be quick and must not call the registry.
  // The series disappears when the returned handle is destroyed.
  class Registration {
   public:
    virtual ~Registration() = default;
  };
  [[nodiscard]] std::unique_ptr<Registration> AddGaugeCallback(std::string_view name,
                                                               std::string_view help,
                                                               const Labels& labels,
                                                               std::function<double()> read);

  // Everything in the text exposition format 0.0.4, families by name.
  std::string Render() const;

  // The Content-Type of Render()'s output.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Family;
  class CallbackRegistration;
  Family& FamilyFor(std::string_view name, std::string_view help, int type);
  void RemoveCallback(const std::string& name, uint64_t id);

  mutable std::mutex mu_;  // guards families_ (not the metric values)
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;
  uint64_t next_callback_id_ = 1;
};

// Registers the standard process_* gauges (resident and virtual memory,
// open file descriptors, start time) read from /proc at scrape
// time. Keep the handles as long as the series should exist.
std::vector<std::unique_ptr<Registry::Registration>> AddProcessMetrics(Registry& registry);

// Resident set size of this process in bytes (0 if unknown).
int64_t ProcessResidentBytes();

}  // namespace mlforge::metrics

#include "base/metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <fmt/core.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>

namespace mlforge::metrics {
namespace {

enum Type { kCounter = 0, kGauge = 1, kHistogram = 2 };
constexpr std::string_view kTypeNames[] = {"counter", "gauge", "histogram"};

constexpr double kLatencyBuckets[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                      0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                      0.5,     1,      2.5,     5,      10};
constexpr double kSizeBuckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

void AppendEscaped(std::string& out, std::string_view s, bool quote_too) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote_too) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void AppendNumber(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    out += fmt::format("{}", v);
  }
}

// `{a="x",b="y"}` with an optional extra label appended (a histogram's le).
void AppendLabels(std::string& out, const Labels& labels, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    AppendEscaped(out, value, true);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

// The map key of a label set (names and values cannot contain '\xff').
std::string LabelKey(const Labels& labels) {
  std::string key;
  for (const auto& [name, value] : labels) {
    key += name;
    key += '\xff';
    key += value;
    key += '\xff';
  }
  return key;
}

}  // namespace

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds.size() + 1)) {
  assert(std::is_sorted(bounds_.begin(), bounds_.end()));
}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;  // few bounds: a scan beats a search
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = total;
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::span<const double> LatencyBuckets() { return kLatencyBuckets; }
std::span<const double> SizeBuckets() { return kSizeBuckets; }

struct Registry::Family {
  std::string name;
  std::string help;
  int type = kCounter;
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  std::map<std::string, Series> series;  // by LabelKey
  struct Callback {
    Labels labels;
    std::function<double()> read;
  };
  std::map<uint64_t, Callback> callbacks;  // by registration id, oldest first
};

class Registry::CallbackRegistration final : public Registration {
 public:
  CallbackRegistration(Registry* registry, std::string name, uint64_t id)
      : registry_(registry), name_(std::move(name)), id_(id) {}
  ~CallbackRegistration() override { registry_->RemoveCallback(name_, id_); }

 private:
  Registry* registry_;
  std::string name_;
  uint64_t id_;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Family& Registry::FamilyFor(std::string_view name, std::string_view help, int type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    auto family = std::make_unique<Family>();
    family->name = std::string(name);
    family->help = std::string(help);
    family->type = type;
    it = families_.emplace(std::string(name), std::move(family)).first;
  }
  assert(it->second->type == type && "metric name registered with two types");
  return *it->second;
}

Counter& Registry::GetCounter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mu_);
  Family::Series& s = FamilyFor(name, help, kCounter).series[LabelKey(labels)];
  if (!s.counter) {
    s.labels = labels;
    s.counter = std::make_unique<Counter>();
  }
  return *s.counter;
}

Gauge& Registry::GetGauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mu_);
  Family::Series& s = FamilyFor(name, help, kGauge).series[LabelKey(labels)];
  if (!s.gauge) {
    s.labels = labels;
    s.gauge = std::make_unique<Gauge>();
  }
  return *s.gauge;
}

Histogram& Registry::GetHistogram(std::string_view name, std::string_view help,
                                  const Labels& labels, std::span<const double> bounds) {
  std::lock_guard lock(mu_);
  Family::Series& s = FamilyFor(name, help, kHistogram).series[LabelKey(labels)];
  if (!s.histogram) {
    s.labels = labels;
    s.histogram = std::make_unique<Histogram>(bounds);
  }
  return *s.histogram;
}

std::unique_ptr<Registry::Registration> Registry::AddGaugeCallback(std::string_view name,
                                                                   std::string_view help,
                                                                   const Labels& labels,
                                                                   std::function<double()> read) {
  std::lock_guard lock(mu_);
  const uint64_t id = next_callback_id_++;
  FamilyFor(name, help, kGauge).callbacks.emplace(id, Family::Callback{labels, std::move(read)});
  return std::make_unique<CallbackRegistration>(this, std::string(name), id);
}

void Registry::RemoveCallback(const std::string& name, uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) it->second->callbacks.erase(id);
}

std::string Registry::Render() const {
  std::string out;
  out.reserve(4096);
  std::lock_guard lock(mu_);
  for (const auto& [name, family] : families_) {
    if (family->series.empty() && family->callbacks.empty()) continue;
    out += "# HELP ";
    out += name;
    out += ' ';
    AppendEscaped(out, family->help, false);
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += kTypeNames[family->type];
    out += '\n';
    for (const auto& [key, s] : family->series) {
      if (s.counter) {
        out += name;
        AppendLabels(out, s.labels);
        out += fmt::format(" {}\n", s.counter->value());
      } else if (s.gauge) {
        out += name;
        AppendLabels(out, s.labels);
        out += ' ';
        AppendNumber(out, s.gauge->value());
        out += '\n';
      } else if (s.histogram) {
        const Histogram::Snapshot snap = s.histogram->Read();
        for (size_t i = 0; i <= snap.bounds.size(); ++i) {
          std::string le;
          if (i == snap.bounds.size()) {
            le = "+Inf";
          } else {
            AppendNumber(le, snap.bounds[i]);
          }
          out += name;
          out += "_bucket";
          AppendLabels(out, s.labels, "le", le);
          out += fmt::format(" {}\n", snap.cumulative[i]);
        }
        out += name;
        out += "_sum";
        AppendLabels(out, s.labels);
        out += ' ';
        AppendNumber(out, snap.sum);
        out += '\n';
        out += name;
        out += "_count";
        AppendLabels(out, s.labels);
        out += fmt::format(" {}\n", snap.count());
      }
    }
    // Two registrations with equal labels would be a duplicate series: the
    // newest wins.
    std::map<std::string, const Family::Callback*> callbacks;
    for (const auto& [id, cb] : family->callbacks) callbacks[LabelKey(cb.labels)] = &cb;
    for (const auto& [key, cb] : callbacks) {
      if (family->series.contains(key)) continue;
      out += name;
      AppendLabels(out, cb->labels);
      out += ' ';
      AppendNumber(out, cb->read());
      out += '\n';
    }
  }
  return out;
}

int64_t ProcessResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long long size = 0;
  long long resident = 0;
  const int got = std::fscanf(f, "%lld %lld", &size, &resident);
  std::fclose(f);
  if (got != 2) return 0;
  return resident * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

namespace {

int64_t ProcessVirtualBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long long size = 0;
  const int got = std::fscanf(f, "%lld", &size);
  std::fclose(f);
  return got == 1 ? size * static_cast<int64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

double OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  int n = 0;
  while (readdir(dir) != nullptr) ++n;
  closedir(dir);
  return std::max(0, n - 3);  // ".", ".." and the directory's own descriptor
}

}  // namespace

std::vector<std::unique_ptr<Registry::Registration>> AddProcessMetrics(Registry& registry) {
  const double start = static_cast<double>(std::time(nullptr));
  std::vector<std::unique_ptr<Registry::Registration>> handles;
  handles.push_back(registry.AddGaugeCallback("process_resident_memory_bytes",
                                              "Resident memory size in bytes.", {},
                                              [] { return double(ProcessResidentBytes()); }));
  handles.push_back(registry.AddGaugeCallback("process_virtual_memory_bytes",
                                              "Virtual memory size in bytes.", {},
                                              [] { return double(ProcessVirtualBytes()); }));
  handles.push_back(registry.AddGaugeCallback(
      "process_start_time_seconds", "Start time of the process since unix epoch in seconds.", {},
      [start] { return start; }));
  handles.push_back(registry.AddGaugeCallback(
      "process_open_fds", "Number of open file descriptors.", {}, [] { return OpenFds(); }));
  return handles;
}

}  // namespace mlforge::metrics

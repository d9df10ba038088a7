// LiveMonitor: the capture queue, per-deployment windows and the worker
// that drains the queue and closes windows (docs/monitoring.md).
#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/bounded_queue.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "base/thread_priority.h"
#include "base/metrics.h"
#include "monitor/monitor.h"

namespace mlforge::monitor {
namespace {

// FNV-1a and a finalizer: a request id's sampling point, stable across
// processes, so replicas sample the same requests.
uint64_t SampleHash(std::string_view id) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

struct SamplingEntry {
  bool enabled = false;
  double rate = 0;
};
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
constexpr size_t kMaxWindowColumns = 1000;

using SamplingTable =
    std::unordered_map<std::string, SamplingEntry, StringHash, std::equal_to<>>;

// The profile of one window in the making.
struct Window {
  int64_t start_ms = 0;
  std::vector<std::string> order;  // columns in first-seen order
  std::unordered_map<std::string, ColumnProfileBuilder> columns;
  std::unordered_map<std::string, ColumnKind> kinds;  // of columns the reference lacks
  uint64_t rows = 0;
  uint64_t requests = 0;
  uint64_t errors = 0;
  QuantileSketch latency;
  // The builders of the last feature-name list seen, by position, with
  // whether each column takes numbers as categories: captured requests share
  // their model's list, so most skip every column lookup.
  std::shared_ptr<const std::vector<std::string>> resolved_names;
  std::vector<std::pair<ColumnProfileBuilder*, bool>> resolved;
};

struct DeploymentState {
  MonitorConfig config;
  Window window;
  // Reference columns' kinds and histogram edges, so window profiles compare
  // exactly on the reference's bins. Loaded when the monitor is configured.
  std::map<std::string, std::pair<ColumnKind, std::vector<double>>, std::less<>> layout;
  std::ofstream raw_log;
  uint64_t raw_log_bytes = 0;
  // Sampled predictions not stored yet: the label join's next chunk.
  std::vector<PredictionRecord> pending;
};

// A chunk of one deployment's predictions, on its way to the store.
struct PredictionChunk {
  std::string deployment;
  std::vector<PredictionRecord> predictions;
};
// A chunk is stored at this many predictions, or once its oldest is a
// second old: one row insert per chunk instead of one per prediction.
constexpr size_t kChunkPredictions = 2048;
constexpr int64_t kChunkMaxAgeMs = 1000;

// The first output of each row: what labels are compared with.
std::vector<double> FirstOutputs(std::span<const double> outputs, size_t columns) {
  std::vector<double> first;
  const size_t step = std::max<size_t>(columns, 1);
  for (size_t i = 0; i < outputs.size(); i += step) first.push_back(outputs[i]);
  return first;
}

double Percentile(const QuantileSketch& s, double q) { return s.empty() ? kNaN : s.Quantile(q); }

std::string FeaturesJson(const DriftReport& report) {
  json::Writer w;
  w.StartArray();
  for (const FeatureDrift& f : report.columns) {
    const double n = static_cast<double>(f.current.count);
    w.StartObject()
        .Field("column", f.column)
        .Field("role", f.role)
        .Field("kind", ColumnKindName(f.kind))
        .Field("tested", f.tested)
        .Field("method", DriftMethodName(f.method))
        .Field("score", f.score)
        .Field("p_value", f.p_value)
        .Field("adjusted_p_value", f.adjusted_p_value)
        .Field("threshold", f.threshold)
        .Field("drifted", f.drifted)
        .Field("missing_rate", f.current.missing_rate())
        .Field("out_of_range_rate", n > 0 ? static_cast<double>(f.out_of_range) / n : 0.0)
        .Field("unseen_rate", n > 0 ? static_cast<double>(f.unseen) / n : 0.0)
        .EndObject();
  }
  return w.EndArray().Take();
}

class LiveMonitorImpl final : public LiveMonitor {
 public:
  LiveMonitorImpl(MonitorStore& store, const Clock& clock, LiveMonitorOptions options)
      : store_(store),
        clock_(clock),
        options_(std::move(options)),
        queue_(std::max<size_t>(2, options_.queue_capacity)) {
    sampling_.store(std::make_shared<const SamplingTable>());
  }

  ~LiveMonitorImpl() override { Shutdown(); }

  Status Load() {
    ASSIGN_OR_RETURN(std::vector<MonitorConfig> configs, store_.ListMonitors());
    std::lock_guard lock(state_mu_);
    for (MonitorConfig& c : configs) AddStateLocked(std::move(c));
    PublishSamplingLocked();
    return Status::Ok();
  }

  void StartThread() {
    thread_ = std::jthread([this](std::stop_token stop) { Loop(stop); });
  }

  Sampling Decide(std::string_view deployment, std::string_view request_id) const override {
    std::shared_ptr<const SamplingTable> table = sampling_.load(std::memory_order_acquire);
    auto it = table->find(deployment);
    if (it == table->end() || !it->second.enabled) return Sampling::kOff;
    const double rate = it->second.rate;
    if (rate >= 1) return Sampling::kSample;
    if (rate <= 0) return Sampling::kCount;
    const auto cut = static_cast<uint64_t>(rate * 18446744073709551616.0);
    return SampleHash(request_id) < cut ? Sampling::kSample : Sampling::kCount;
  }

  bool Capture(CapturedRequest& request) override {
    if (!queue_.TryPush(request)) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    captured_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  CaptureStats Stats() const override {
    return CaptureStats{.captured = captured_.load(std::memory_order_relaxed),
                        .dropped = dropped_.load(std::memory_order_relaxed),
                        .processed = processed_.load(std::memory_order_relaxed)};
  }

  Result<MonitorConfig> Create(const MonitorConfig& config,
                               const DatasetProfile* uploaded_reference) override {
    RETURN_IF_ERROR(ValidateMonitorConfig(config));
    if (uploaded_reference != nullptr && config.reference_kind != ReferenceKind::kUploaded) {
      return Err(InvalidArgument("A reference profile or CSV was given but 'reference.kind' is '" +
                                 std::string(ReferenceKindName(config.reference_kind)) + "'"));
    }
    RETURN_IF_ERROR(EnsureReference(config));
    ASSIGN_OR_RETURN(MonitorConfig stored, store_.CreateMonitor(config));
    if (uploaded_reference != nullptr) {
      if (Status s = store_.PutReference(stored.ReferenceKey(), *uploaded_reference); !s.ok()) {
        (void)store_.DeleteMonitor(stored.deployment);
        return Err(s);
      }
    }
    std::lock_guard lock(state_mu_);
    AddStateLocked(stored);
    PublishSamplingLocked();
    return stored;
  }

  Result<MonitorConfig> Update(const MonitorConfig& config,
                               const DatasetProfile* uploaded_reference) override {
    RETURN_IF_ERROR(ValidateMonitorConfig(config));
    if (uploaded_reference != nullptr && config.reference_kind != ReferenceKind::kUploaded) {
      return Err(InvalidArgument("A reference profile or CSV was given but 'reference.kind' is '" +
                                 std::string(ReferenceKindName(config.reference_kind)) + "'"));
    }
    if (uploaded_reference != nullptr) {
      RETURN_IF_ERROR(store_.PutReference(config.ReferenceKey(), *uploaded_reference));
    }
    RETURN_IF_ERROR(EnsureReference(config));
    ASSIGN_OR_RETURN(MonitorConfig stored, store_.UpdateMonitor(config));
    std::lock_guard lock(state_mu_);
    auto it = states_.find(stored.deployment);
    if (it == states_.end()) {
      AddStateLocked(stored);
    } else {
      it->second->config = stored;
      LoadLayoutLocked(*it->second);
    }
    PublishSamplingLocked();
    return stored;
  }

  Status Delete(std::string_view deployment) override {
    RETURN_IF_ERROR(store_.DeleteMonitor(deployment));
    std::lock_guard lock(state_mu_);
    if (auto it = states_.find(deployment); it != states_.end()) states_.erase(it);
    PublishSamplingLocked();
    return Status::Ok();
  }

  Result<WindowResult> CloseWindow(std::string_view deployment) override {
    std::lock_guard drain(drain_mu_);
    DrainLocked(/*store_all=*/true);
    MonitorConfig config;
    Window window;
    // Everything applied so far has a timestamp <= now, so the window [start,
    // now + 1) holds it, and the label join finds it there.
    const int64_t now = clock_.NowMillis();
    int64_t end = 0;
    {
      std::lock_guard lock(state_mu_);
      auto it = states_.find(deployment);
      if (it == states_.end()) {
        return Err(NotFound(fmt::format("No monitor for deployment '{}'", deployment)));
      }
      config = it->second->config;
      end = std::max(now, it->second->window.start_ms) + 1;
      window = std::exchange(it->second->window, NewWindow(end));
    }
    return Finish(config, std::move(window), end);
  }

  Status IngestPredictions(std::vector<IngestedPrediction> predictions) override {
    const int64_t now = clock_.NowMillis();
    std::map<std::string_view, std::vector<PredictionRecord>> records;
    {
      std::lock_guard drain(drain_mu_);
      std::lock_guard lock(state_mu_);
      for (IngestedPrediction& p : predictions) {
        auto it = states_.find(p.deployment);
        if (it == states_.end()) {
          return NotFound(fmt::format("No monitor for deployment '{}'", p.deployment));
        }
        if (p.timestamp_ms == 0) p.timestamp_ms = now;
      }
      for (const IngestedPrediction& p : predictions) {
        DeploymentState& st = *states_.find(p.deployment)->second;
        const size_t cols = p.output_names.size();
        for (size_t r = 0; r < p.features.size(); ++r) {
          for (const auto& [name, value] : p.features[r]) AddValue(st, name, value);
          for (size_t c = 0; c < cols && r * cols + c < p.outputs.size(); ++c) {
            AddNumber(st, p.output_names[c], p.outputs[r * cols + c]);
          }
          ++st.window.rows;
        }
        records[p.deployment].push_back(PredictionRecord{
            .request_id = p.request_id,
            .timestamp_ms = p.timestamp_ms,
            .outputs = FirstOutputs(p.outputs, cols)});
      }
    }
    for (const auto& [deployment, chunk] : records) {
      RETURN_IF_ERROR(store_.PutPredictions(deployment, chunk));
    }
    return Status::Ok();
  }

  Status IngestLabels(std::vector<GroundTruth> labels) override {
    const int64_t now = clock_.NowMillis();
    std::map<std::string, std::vector<std::string>> ids;
    {
      std::lock_guard lock(state_mu_);
      for (GroundTruth& g : labels) {
        if (!states_.contains(g.deployment)) {
          return NotFound(fmt::format("No monitor for deployment '{}'", g.deployment));
        }
        if (g.timestamp_ms == 0) g.timestamp_ms = now;
        ids[g.deployment].push_back(g.request_id);
      }
    }
    // Predictions captured from serving may still be queued or pending:
    // store them first.
    {
      std::lock_guard drain(drain_mu_);
      DrainLocked(/*store_all=*/true);
    }
    RETURN_IF_ERROR(store_.PutLabels(labels));
    // Delayed labels: recompute the performance of closed windows they fall in.
    for (const auto& [deployment, request_ids] : ids) {
      ASSIGN_OR_RETURN(std::vector<int64_t> starts,
                       store_.WindowsOfRequests(deployment, request_ids));
      for (int64_t start : starts) {
        ASSIGN_OR_RETURN(WindowResult r, store_.GetResult(deployment, start));
        ASSIGN_OR_RETURN(std::vector<LabelledRow> rows,
                         store_.JoinLabels(deployment, r.window_start_ms, r.window_end_ms));
        r.performance = WindowPerformance(rows);
        r.labelled_rows = rows.size();
        RETURN_IF_ERROR(store_.PutResult(r));
      }
    }
    return Status::Ok();
  }

  Result<DriftReport> Report(std::string_view deployment, int64_t window_start_ms) override {
    ASSIGN_OR_RETURN(MonitorConfig config, store_.GetMonitor(deployment));
    ASSIGN_OR_RETURN(WindowResult r, store_.GetResult(deployment, window_start_ms));
    if (r.profile_json.empty()) {
      return Err(InvalidState(fmt::format("Window {} of deployment '{}' has no rows to report on",
                                          window_start_ms, deployment)));
    }
    auto reference = store_.GetReference(config.ReferenceKey());
    if (!reference) {
      return Err(InvalidState("Cannot report: " + reference.error().message()));
    }
    ASSIGN_OR_RETURN(DatasetProfile current, ProfileFromJson(r.profile_json));
    auto report = CompareProfiles(*reference, current, DriftOptionsOf(config));
    if (!report) return Err(InvalidState("Cannot report: " + report.error().message()));
    return report;
  }

  void PrepareReference(std::string model, int64_t version) override {
    if (options_.references == nullptr) return;
    std::lock_guard lock(reference_mu_);
    if (reference_stopped_) return;
    pending_references_.emplace_back(std::move(model), version);
    if (!reference_thread_.joinable()) {
      reference_thread_ = std::jthread([this](std::stop_token stop) { ReferenceLoop(stop); });
    }
    reference_cv_.notify_all();
  }

  void WaitForReferences() override {
    std::unique_lock lock(reference_mu_);
    reference_cv_.wait(lock, [&] { return pending_references_.empty() && !reference_busy_; });
  }

  void Shutdown() override {
    {
      std::lock_guard lock(reference_mu_);
      reference_stopped_ = true;
      pending_references_.clear();
    }
    reference_cv_.notify_all();
    if (reference_thread_.joinable()) {
      reference_thread_.request_stop();
      reference_thread_.join();
    }
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
    }
    std::lock_guard drain(drain_mu_);
    DrainLocked(/*store_all=*/true);
  }

 private:
  Window NewWindow(int64_t start_ms) const {
    Window w;
    w.start_ms = start_ms;
    return w;
  }

  // Registered versions' reference profiles, one at a time, off every
  // request and window path.
  void ReferenceLoop(std::stop_token stop) {
    LowerThreadPriority();
    std::unique_lock lock(reference_mu_);
    while (!stop.stop_requested()) {
      reference_cv_.wait(lock, stop, [&] { return !pending_references_.empty(); });
      if (stop.stop_requested() || pending_references_.empty()) break;
      auto [model, version] = std::move(pending_references_.front());
      pending_references_.pop_front();
      reference_busy_ = true;
      lock.unlock();
      MonitorConfig config;
      config.reference_kind = ReferenceKind::kModelVersion;
      config.reference_model = model;
      config.reference_version = version;
      if (Status s = EnsureReference(config); !s.ok()) {
        log::Info("monitor: no reference profile for {} version {}: {}", model, version,
                  s.message());
      }
      lock.lock();
      reference_busy_ = false;
      reference_cv_.notify_all();
    }
  }

  // Computes and stores a model version's or dataset's reference profile
  // the first time a monitor names it; later monitors reuse it.
  Status EnsureReference(const MonitorConfig& config) {
    if (config.reference_kind == ReferenceKind::kUploaded || options_.references == nullptr) {
      return Status::Ok();
    }
    const std::string key = config.ReferenceKey();
    auto stored = store_.GetReference(key);
    if (stored) return Status::Ok();
    if (stored.error().code() != ErrorCode::kResourceDoesNotExist) return stored.error();
    auto profile = config.reference_kind == ReferenceKind::kDataset
                       ? options_.references->ProfileDataset(config.reference_dataset)
                       : options_.references->ProfileModelVersion(config.reference_model,
                                                                  config.reference_version);
    if (!profile) {
      return InvalidArgument(fmt::format("Cannot compute the reference profile '{}': {}", key,
                                         profile.error().message()));
    }
    return store_.PutReference(key, *profile);
  }

  static DriftOptions DriftOptionsOf(const MonitorConfig& config) {
    DriftOptions o = config.drift;
    o.threads = 1;  // the worker is one background thread; keep it that way
    return o;
  }

  void AddStateLocked(MonitorConfig config) {
    auto st = std::make_unique<DeploymentState>();
    st->window = NewWindow(clock_.NowMillis());
    st->config = std::move(config);
    LoadLayoutLocked(*st);
    states_[st->config.deployment] = std::move(st);
  }

  // Best effort: without a stored reference yet, windows take their own
  // edges; the comparison at close still uses whatever is stored then.
  void LoadLayoutLocked(DeploymentState& st) {
    st.layout.clear();
    st.window.resolved_names.reset();  // kinds may change with the layout
    auto reference = store_.GetReference(st.config.ReferenceKey());
    if (!reference) return;
    for (const ColumnProfile& c : reference->columns) {
      st.layout[c.name] = {c.kind, c.kind == ColumnKind::kNumeric ? c.histogram.edges
                                                                  : std::vector<double>{}};
    }
  }

  void PublishSamplingLocked() {
    auto table = std::make_shared<SamplingTable>();
    for (const auto& [name, st] : states_) {
      (*table)[name] = SamplingEntry{.enabled = st->config.enabled, .rate = st->config.sample_rate};
    }
    sampling_.store(std::move(table), std::memory_order_release);
  }

  // nullptr once the window has kMaxWindowColumns columns: ingested
  // predictions name their own columns, and a window's memory stays bounded.
  ColumnProfileBuilder* Builder(DeploymentState& st, std::string_view name, ColumnKind kind) {
    Window& w = st.window;
    auto it = w.columns.find(std::string(name));
    if (it != w.columns.end()) return &it->second;
    if (w.columns.size() >= kMaxWindowColumns) return nullptr;
    std::vector<double> edges;
    if (auto l = st.layout.find(name); l != st.layout.end()) {
      kind = l->second.first;
      edges = l->second.second;
    }
    w.order.emplace_back(name);
    w.kinds[std::string(name)] = kind;
    return &w.columns
                .emplace(std::string(name), ColumnProfileBuilder(std::string(name), kind,
                                                                 ProfileOptions{}, std::move(edges)))
                .first->second;
  }

  void AddNumber(DeploymentState& st, std::string_view name, double v) {
    ColumnProfileBuilder* b = Builder(st, name, ColumnKind::kNumeric);
    if (b == nullptr) return;
    AddNumberTo(b, KindOf(st, name) == ColumnKind::kCategorical, v);
  }

  static void AddNumberTo(ColumnProfileBuilder* b, bool categorical, double v) {
    if (b == nullptr) return;
    if (!categorical) {
      b->AddNumber(v);
    } else if (std::isfinite(v)) {
      b->AddString(fmt::format("{}", v));
    } else {
      b->AddMissing();
    }
  }

  // The builders of a feature-name list's columns, by position (cached per window).
  const std::vector<std::pair<ColumnProfileBuilder*, bool>>& Resolve(
      DeploymentState& st, const std::shared_ptr<const std::vector<std::string>>& names) {
    Window& w = st.window;
    if (w.resolved_names != names) {
      w.resolved.clear();
      for (const std::string& name : *names) {
        ColumnProfileBuilder* b = Builder(st, name, ColumnKind::kNumeric);
        w.resolved.emplace_back(b, KindOf(st, name) == ColumnKind::kCategorical);
      }
      w.resolved_names = names;
    }
    return w.resolved;
  }

  void AddValue(DeploymentState& st, std::string_view name, const json::Value& v) {
    if (v.is_number()) return AddNumber(st, name, v.as_double());
    if (v.is_bool()) return AddNumber(st, name, v.as_bool() ? 1 : 0);
    if (v.is_string()) {
      ColumnProfileBuilder* b = Builder(st, name, ColumnKind::kCategorical);
      if (b == nullptr) return;
      if (KindOf(st, name) == ColumnKind::kCategorical) {
        b->AddString(v.as_string());
      } else {
        b->AddMissing();  // text in a numeric column: counted as missing
      }
      return;
    }
    if (ColumnProfileBuilder* b = Builder(st, name, ColumnKind::kNumeric)) b->AddMissing();
  }

  static ColumnKind KindOf(const DeploymentState& st, std::string_view name) {
    if (auto l = st.layout.find(name); l != st.layout.end()) return l->second.first;
    // Columns the reference lacks keep the kind of their first value.
    auto k = st.window.kinds.find(std::string(name));
    return k != st.window.kinds.end() ? k->second : ColumnKind::kNumeric;
  }

  // REQUIRES: state_mu_ held.
  void ApplyLocked(CapturedRequest& r) {
    auto it = states_.find(r.deployment);
    if (it == states_.end()) return;  // monitor deleted meanwhile
    DeploymentState& st = *it->second;
    Window& w = st.window;
    ++w.requests;
    if (r.error) ++w.errors;
    if (r.latency_ms >= 0 && std::isfinite(r.latency_ms)) w.latency.Add(r.latency_ms);
    if (!r.sampled || r.error) return;
    static const std::vector<std::pair<ColumnProfileBuilder*, bool>> kNoColumns;
    const auto& columns = r.feature_names ? Resolve(st, r.feature_names) : kNoColumns;
    const size_t fcols = columns.size();
    const size_t ocols = r.output_names.size();
    if (r.features.size() < static_cast<size_t>(r.rows) * fcols ||
        r.outputs.size() < static_cast<size_t>(r.rows) * ocols) {
      return;  // a malformed capture: nothing to profile
    }
    for (int64_t row = 0; row < r.rows; ++row) {
      for (size_t c = 0; c < fcols; ++c) {
        AddNumberTo(columns[c].first, columns[c].second,
                    r.features[static_cast<size_t>(row) * fcols + c]);
      }
      for (size_t c = 0; c < ocols; ++c) {
        AddNumber(st, r.output_names[c], r.outputs[static_cast<size_t>(row) * ocols + c]);
      }
    }
    w.rows += static_cast<uint64_t>(r.rows);
    if (st.config.raw_log && !options_.raw_log_dir.empty()) WriteRawLog(st, r);
    st.pending.push_back(PredictionRecord{.request_id = r.request_id,  // copied: r's buffers
                                          .timestamp_ms = r.timestamp_ms,  // go back to the queue
                                          .outputs = FirstOutputs(r.outputs, ocols)});
  }

  // REQUIRES: state_mu_ held. Moves out the pending predictions due for the
  // store: full chunks, chunks whose oldest was made at or before
  // oldest_cutoff_ms, or (all) every one.
  void TakeChunksLocked(bool all, int64_t oldest_cutoff_ms, std::vector<PredictionChunk>& out) {
    for (auto& [name, st] : states_) {
      if (st->pending.empty()) continue;
      if (all || st->pending.size() >= kChunkPredictions ||
          st->pending.front().timestamp_ms <= oldest_cutoff_ms) {
        out.push_back(PredictionChunk{.deployment = name, .predictions = std::move(st->pending)});
        st->pending.clear();
      }
    }
  }

  void StoreChunks(std::vector<PredictionChunk>& chunks) {
    for (const PredictionChunk& c : chunks) {
      if (Status s = store_.PutPredictions(c.deployment, c.predictions); !s.ok()) {
        log::Warn("monitor: cannot store {} captured predictions of '{}': {}",
                  c.predictions.size(), c.deployment, s.ToString());
      }
    }
    chunks.clear();
  }

  // JSON Lines, one file per deployment; at raw_log_max_bytes the file is
  // renamed to .1 (replacing the older one), so a log is bounded by twice that.
  void WriteRawLog(DeploymentState& st, const CapturedRequest& r) {
    const std::filesystem::path path = options_.raw_log_dir / (st.config.deployment + ".jsonl");
    json::Writer w;
    w.StartObject()
        .Field("request_id", r.request_id)
        .Field("timestamp", r.timestamp_ms)
        .Field("latency_ms", r.latency_ms);
    w.Key("features").StartArray();
    const size_t fcols = r.feature_names ? r.feature_names->size() : 0;
    for (int64_t row = 0; row < r.rows; ++row) {
      w.StartObject();
      for (size_t c = 0; c < fcols; ++c) {
        w.Field((*r.feature_names)[c],
                static_cast<double>(r.features[static_cast<size_t>(row) * fcols + c]));
      }
      w.EndObject();
    }
    w.EndArray().Key("outputs").StartArray();
    for (double v : r.outputs) w.Double(v);
    std::string line = w.EndArray().EndObject().Take();
    line += '\n';
    if (!st.raw_log.is_open() || st.raw_log_bytes + line.size() > options_.raw_log_max_bytes) {
      std::error_code ec;
      if (st.raw_log.is_open()) {
        st.raw_log.close();
        std::filesystem::rename(path, path.string() + ".1", ec);
      }
      std::filesystem::create_directories(options_.raw_log_dir, ec);
      st.raw_log.open(path, std::ios::app | std::ios::binary);
      st.raw_log_bytes = std::filesystem::file_size(path, ec);
      if (ec) st.raw_log_bytes = 0;
    }
    st.raw_log << line;
    st.raw_log.flush();
    st.raw_log_bytes += line.size();
  }

  // REQUIRES: drain_mu_ held.
  // Drains at most one queue's worth, so every request queued before the call
  // and none of an endless stream: under sustained capture the queue never
  // empties, and an unbounded drain kept windows from closing. Stores full
  // and second-old chunks of predictions (store_all: every pending one).
  // Returns whether requests remain.
  bool DrainLocked(bool store_all = false) {
    std::vector<PredictionChunk> chunks;
    CapturedRequest r;
    size_t budget = queue_.capacity();
    bool more = true;
    while (more && budget > 0) {
      // Short steps (16 requests), each followed by YieldCore: an idle-policy
      // thread picked while a request thread was runnable keeps the core
      // until it blocks, yields or the next tick (4 ms); perf sched showed it.
      // One lock per step, not per request, so an API call waiting for the
      // lock barely notices.
      {
        std::lock_guard lock(state_mu_);
        for (int i = 0; i < 16 && budget > 0; ++i, --budget) {
          if (!queue_.TryPop(r)) {
            more = false;
            break;
          }
          ApplyLocked(r);
          processed_.fetch_add(1, std::memory_order_relaxed);
        }
        TakeChunksLocked(/*all=*/false, INT64_MIN, chunks);  // full chunks only
      }
      StoreChunks(chunks);
      if (more && budget > 0) YieldCore();
    }
    {
      std::lock_guard lock(state_mu_);
      TakeChunksLocked(store_all, clock_.NowMillis() - kChunkMaxAgeMs, chunks);
    }
    StoreChunks(chunks);
    return more;
  }

  // Profiles, compares, stores and reports one closed window.
  Result<WindowResult> Finish(const MonitorConfig& config, Window window, int64_t end_ms) {
    WindowResult r;
    r.deployment = config.deployment;
    r.window_start_ms = window.start_ms;
    r.window_end_ms = end_ms;
    r.rows = window.rows;
    const double seconds = static_cast<double>(end_ms - window.start_ms) / 1000.0;
    r.health.requests = window.requests;
    r.health.errors = window.errors;
    r.health.requests_per_s = seconds > 0 ? static_cast<double>(window.requests) / seconds : 0;
    r.health.error_rate =
        window.requests ? static_cast<double>(window.errors) / static_cast<double>(window.requests)
                        : 0;
    r.health.latency_p50_ms = Percentile(window.latency, 0.5);
    r.health.latency_p95_ms = Percentile(window.latency, 0.95);
    r.health.latency_p99_ms = Percentile(window.latency, 0.99);
    r.health.memory_bytes = static_cast<double>(metrics::ProcessResidentBytes());

    DatasetProfile profile;
    profile.rows = window.rows;
    for (const std::string& name : window.order) {
      profile.columns.push_back(window.columns.at(name).Finish());
    }
    if (window.rows == 0) {
      r.message = "No rows in this window";
    } else {
      r.profile_json = ProfileToJson(profile);
      auto reference = store_.GetReference(config.ReferenceKey());
      if (!reference) {
        r.message = reference.error().message();
      } else {
        auto report = CompareProfiles(*reference, profile, DriftOptionsOf(config));
        if (!report) {
          r.message = report.error().message();
        } else {
          r.compared = true;
          r.drift_share = report->drift_share;
          r.dataset_drift = report->dataset_drift;
          for (const FeatureDrift& f : report->columns) {
            if (f.drifted) r.drifted_features.push_back(f.column);
          }
          r.features_json = FeaturesJson(*report);
        }
      }
    }
    auto labelled = store_.JoinLabels(config.deployment, r.window_start_ms, r.window_end_ms);
    if (labelled) {
      r.performance = WindowPerformance(*labelled);
      r.labelled_rows = labelled->size();
    }
    RETURN_IF_ERROR(store_.PutResult(r));
    if (options_.observer != nullptr) {
      const std::vector<MetricPoint> points = WindowMetricPoints(r);
      options_.observer->Observe(points);
    }
    return r;
  }

  void CloseDueWindows() {
    const int64_t now = clock_.NowMillis();
    std::vector<std::pair<MonitorConfig, Window>> due;
    std::vector<int64_t> ends;
    {
      std::lock_guard lock(state_mu_);
      for (auto& [name, st] : states_) {
        const int64_t len = st->config.window_seconds * 1000;
        const int64_t end = st->window.start_ms + len;
        if (now < end) continue;
        // After an idle gap the next window starts on the schedule's grid.
        const int64_t next = end + (now - end) / len * len;
        ends.push_back(end);
        due.emplace_back(st->config, std::exchange(st->window, NewWindow(next)));
      }
    }
    const int64_t retention_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.prediction_retention)
            .count();
    for (size_t i = 0; i < due.size(); ++i) {
      auto& [config, window] = due[i];
      if (window.rows != 0 || window.requests != 0) {  // else nothing happened
        auto r = Finish(config, std::move(window), ends[i]);
        if (!r) {
          log::Warn("monitor: closing a window of '{}': {}", config.deployment,
                    r.error().ToString());
        }
      }
      if (auto pruned = store_.PrunePredictions(config.deployment, ends[i] - retention_ms);
          !pruned) {
        log::Warn("monitor: pruning predictions of '{}': {}", config.deployment,
                  pruned.error().ToString());
      }
    }
  }

  void Loop(std::stop_token stop) {
    // Profiling a tick's captured requests is a burst of work: on a busy
    // core it must give way to the request threads at once, not after a
    // time slice (a nice value still costs the requests milliseconds of p99).
    // Behind on a saturated core, the queue fills and drops, counted.
    RunOnlyWhenIdle();
    std::mutex mu;
    std::condition_variable_any cv;
    bool behind = false;
    while (!stop.stop_requested()) {
      if (!behind) {  // behind: the queue is still full, go on at once
        std::unique_lock lock(mu);
        cv.wait_for(lock, stop, options_.tick, [] { return false; });
      }
      std::lock_guard drain(drain_mu_);
      behind = DrainLocked();
      CloseDueWindows();
    }
  }

  MonitorStore& store_;
  const Clock& clock_;
  const LiveMonitorOptions options_;
  BoundedQueue<CapturedRequest> queue_;
  std::atomic<uint64_t> captured_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> processed_{0};
  // The request path's view of the monitors (immutable, swapped whole).
  std::atomic<std::shared_ptr<const SamplingTable>> sampling_;

  // Serializes draining with closing: a window closed by CloseWindow holds
  // every request queued before the call. Taken before state_mu_.
  std::mutex drain_mu_;
  // Guards states_ (held for one request's update or a window swap).
  std::mutex state_mu_;
  std::map<std::string, std::unique_ptr<DeploymentState>, std::less<>> states_;
  // Reference profiles asked for by PrepareReference (guarded by reference_mu_).
  std::mutex reference_mu_;
  std::condition_variable_any reference_cv_;
  std::deque<std::pair<std::string, int64_t>> pending_references_;
  bool reference_busy_ = false;
  bool reference_stopped_ = false;
  std::jthread reference_thread_;
  std::jthread thread_;  // last: stops before the rest is destroyed
};

}  // namespace

Result<std::unique_ptr<LiveMonitor>> LiveMonitor::Start(MonitorStore& store, const Clock& clock,
                                                        LiveMonitorOptions options) {
  auto m = std::make_unique<LiveMonitorImpl>(store, clock, std::move(options));
  RETURN_IF_ERROR(m->Load());
  m->StartThread();
  return std::unique_ptr<LiveMonitor>(std::move(m));
}

}  // namespace mlforge::monitor

#include "serving/model_manager.h"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/log.h"
#include "base/thread_priority.h"
#include "base/metrics.h"
#include "serving/batcher.h"
#include "serving/routing.h"

namespace mlforge::serving {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct Transition {
  DeploymentState from;
  DeploymentState to;
};
constexpr Transition kDeploymentTransitions[] = {
    {DeploymentState::kPending, DeploymentState::kReady},
    {DeploymentState::kPending, DeploymentState::kFailed},
    {DeploymentState::kFailed, DeploymentState::kPending},
    {DeploymentState::kReady, DeploymentState::kUpdating},
    {DeploymentState::kUpdating, DeploymentState::kReady},
    {DeploymentState::kUpdating, DeploymentState::kDegraded},
    {DeploymentState::kDegraded, DeploymentState::kUpdating},
    {DeploymentState::kDegraded, DeploymentState::kReady},
};

int64_t WallMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

using Table = std::unordered_map<std::string, std::shared_ptr<const DeploymentSnapshot>, StringHash,
                                 std::equal_to<>>;

}  // namespace

bool IsLegalTransition(DeploymentState from, DeploymentState to) {
  if (from == to) return true;
  for (const Transition& t : kDeploymentTransitions) {
    if (t.from == from && t.to == to) return true;
  }
  return false;
}

std::string_view DeploymentStateName(DeploymentState state) {
  switch (state) {
    case DeploymentState::kPending:
      return "PENDING";
    case DeploymentState::kReady:
      return "READY";
    case DeploymentState::kUpdating:
      return "UPDATING";
    case DeploymentState::kDegraded:
      return "DEGRADED";
    case DeploymentState::kFailed:
      return "FAILED";
  }
  return "PENDING";
}

namespace {
// "fraud@champion=3, fraud/7=7" for logs and status messages.
std::string ServedList(const std::vector<ServedRoute>& routes) {
  std::string out;
  for (const ServedRoute& r : routes) {
    out += fmt::format("{}{}={}", out.empty() ? "" : ", ", r.spec.Ref(), r.version);
  }
  return out;
}
}  // namespace

// ---------------------------------------------------------- RoutedRequest

struct RoutedRequest::State {
  std::shared_ptr<const DeploymentSnapshot> snapshot;
  const RouteEntry* route = nullptr;
  SteadyClock::time_point start;
  PredictionSink* sink = nullptr;
};

RoutedRequest::RoutedRequest() = default;
RoutedRequest::RoutedRequest(std::unique_ptr<State> state) : state_(std::move(state)) {}
RoutedRequest::RoutedRequest(RoutedRequest&&) noexcept = default;
RoutedRequest& RoutedRequest::operator=(RoutedRequest&&) noexcept = default;
RoutedRequest::~RoutedRequest() = default;

const ModelSignature& RoutedRequest::signature() const {
  return state_->route->served->runtime->signature();
}
std::string_view RoutedRequest::flavor() const { return state_->route->served->runtime->flavor(); }
const std::string& RoutedRequest::deployment() const { return state_->snapshot->name; }
const std::string& RoutedRequest::model_name() const { return state_->route->served->model_name; }
int64_t RoutedRequest::version() const { return state_->route->served->version; }

namespace {

// Hands a finished request to the sink (if any).
void Capture(const RoutedRequest::State& state, std::string_view request_id,
             const FeatureBatch* features, const PredictionBatch* outputs) {
  if (state.sink == nullptr) return;
  const auto now = SteadyClock::now();
  CapturedPrediction c;
  c.deployment = state.snapshot->name;
  c.model_name = state.route->served->model_name;
  c.version = state.route->served->version;
  c.request_id = request_id;
  c.timestamp_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  c.latency_ms = std::chrono::duration<double, std::milli>(now - state.start).count();
  c.signature = &state.route->served->runtime->signature();
  c.features = features;
  c.outputs = outputs;
  c.error = outputs == nullptr;
  state.sink->OnPrediction(c);
}

// A routed request in a batcher's queue.
class ServingJob final : public BatchJob {
 public:
  ServingJob(std::unique_ptr<RoutedRequest::State> state, std::string request_id,
             RoutedRequest::Done done)
      : state_(std::move(state)), request_id_(std::move(request_id)), done_(std::move(done)) {}

  void Finish(const Result<PredictionBatch>& batch, int64_t first_row) override {
    const RouteEntry& route = *state_->route;
    route.metrics.requests->Inc();
    route.metrics.latency->Observe(
        std::chrono::duration<double>(SteadyClock::now() - state_->start).count());
    if (!batch) {
      route.metrics.errors->Inc();
      Capture(*state_, request_id_, &features, nullptr);
      done_(batch);
      return;
    }
    // A request alone in its batch gets the batch as it is: no copy.
    Result<PredictionBatch> own;
    const Result<PredictionBatch>* mine = &batch;
    if (batch->rows != features.rows) {
      PredictionBatch slice;
      slice.rows = features.rows;
      slice.cols = batch->cols;
      slice.output_names = batch->output_names;
      const auto begin = batch->values.begin() + static_cast<ptrdiff_t>(first_row * batch->cols);
      slice.values.assign(begin, begin + static_cast<ptrdiff_t>(features.rows * batch->cols));
      own = std::move(slice);
      mine = &own;
    }
    // Before the answer: once a client has it, its capture is queued.
    Capture(*state_, request_id_, &features, &**mine);
    done_(*mine);
    // Mirrored after the response is on its way: shadows never delay it.
    const DeploymentSnapshot& snapshot = *state_->snapshot;
    if (snapshot.mirror != nullptr && !snapshot.shadows.empty()) {
      ShadowJob job;
      job.snapshot = state_->snapshot;
      job.features = std::move(features);
      job.request_id = std::move(request_id_);
      job.primary_model = route.served->model_name;
      job.primary_version = route.served->version;
      job.primary = **mine;
      snapshot.mirror->TryMirror(std::move(job));
    }
  }

 private:
  std::unique_ptr<RoutedRequest::State> state_;
  std::string request_id_;
  RoutedRequest::Done done_;
};

}  // namespace

void RoutedRequest::Predict(FeatureBatch rows, std::string request_id, Done done) {
  Batcher& batcher = *state_->route->served->batcher;
  auto job =
      std::make_unique<ServingJob>(std::move(state_), std::move(request_id), std::move(done));
  job->features = std::move(rows);
  batcher.Submit(std::move(job));
}

void RoutedRequest::Reject() {
  if (state_ == nullptr) return;
  state_->snapshot->errors.bad_request->Inc();
  Capture(*state_, {}, nullptr, nullptr);
  state_.reset();
}

// ------------------------------------------------------------ ModelManager

namespace {

class ModelManager final : public ServingEngine {
 public:
  ModelManager(DeploymentStore& store, ModelSource& source, metrics::Registry& registry,
               EngineOptions options)
      : store_(store),
        source_(source),
        registry_(registry),
        options_(std::move(options)),
        unknown_deployment_(
            &registry.GetCounter("mlforge_serving_unknown_deployment_requests_total",
                                 "Inference requests naming a deployment that does not exist.")),
        loaded_models_(&registry.GetGauge("mlforge_serving_loaded_models",
                                          "Model versions loaded in memory.")),
        loads_ok_(&registry.GetCounter("mlforge_serving_model_loads_total",
                                       "Model version loads (with warm-up), by result.",
                                       {{"result", "ok"}})),
        loads_failed_(
            &registry.GetCounter("mlforge_serving_model_loads_total", "", {{"result", "error"}})) {
    if (!options_.loader) options_.loader = LoadModelPackage;
    table_.store(std::make_shared<const Table>());
  }

  ~ModelManager() override { Shutdown(); }

  void StartThread() {
    thread_ = std::jthread([this](std::stop_token stop) { Loop(stop); });
  }

  // First pass on the caller's thread, so Start returns with models loaded.
  void InitialReconcile() {
    std::lock_guard lock(reconcile_mu_);
    Reconcile();
  }

  Result<RoutedRequest> Route(std::string_view deployment, std::optional<int64_t> version,
                              std::string_view route_key) override {
    std::shared_ptr<const Table> table = table_.load(std::memory_order_acquire);
    auto it = table->find(deployment);
    if (it == table->end()) {
      unknown_deployment_->Inc();
      return Err(NotFound(fmt::format("Deployment '{}' not found", deployment)));
    }
    const std::shared_ptr<const DeploymentSnapshot>& snapshot = it->second;
    const RouteEntry* route =
        version ? FindVersion(*snapshot, *version) : PickRoute(*snapshot, route_key);
    if (route == nullptr) {
      if (version && snapshot->revision > 0) {
        snapshot->errors.not_found->Inc();
        return Err(NotFound(
            fmt::format("Deployment '{}' does not serve version {}", deployment, *version)));
      }
      snapshot->errors.unavailable->Inc();
      return Err(Unavailable(fmt::format("Deployment '{}' has no model loaded yet", deployment)));
    }
    auto state = std::make_unique<RoutedRequest::State>();
    state->snapshot = snapshot;
    state->route = route;
    state->start = SteadyClock::now();
    state->sink = options_.sink;
    return RoutedRequest(std::move(state));
  }

  void CountUnknownDeployment() override { unknown_deployment_->Inc(); }

  bool IsReady(std::string_view deployment, std::optional<int64_t> version) const override {
    std::shared_ptr<const Table> table = table_.load(std::memory_order_acquire);
    auto it = table->find(deployment);
    if (it == table->end()) return false;
    if (version) return FindVersion(*it->second, *version) != nullptr;
    return !it->second->traffic.empty();
  }

  bool AllReady() const override {
    std::shared_ptr<const Table> table = table_.load(std::memory_order_acquire);
    return std::all_of(table->begin(), table->end(),
                       [](const auto& entry) { return !entry.second->traffic.empty(); });
  }

  Result<ModelInfo> Describe(std::string_view deployment,
                             std::optional<int64_t> version) const override {
    std::shared_ptr<const Table> table = table_.load(std::memory_order_acquire);
    auto it = table->find(deployment);
    if (it == table->end()) {
      return Err(NotFound(fmt::format("Deployment '{}' not found", deployment)));
    }
    const DeploymentSnapshot& s = *it->second;
    const RouteEntry* route = nullptr;
    if (version) {
      route = FindVersion(s, *version);
      if (route == nullptr && s.revision > 0) {
        return Err(NotFound(
            fmt::format("Deployment '{}' does not serve version {}", deployment, *version)));
      }
    } else if (!s.traffic.empty()) {
      route = &s.routes[s.traffic.front()];
    }
    if (route == nullptr) {
      return Err(Unavailable(fmt::format("Deployment '{}' has no model loaded yet", deployment)));
    }
    ModelInfo info;
    info.deployment = s.name;
    for (const RouteEntry& r : s.routes) info.routes.push_back({r.spec, r.served->version});
    info.flavor = std::string(route->served->runtime->flavor());
    info.signature = route->served->runtime->signature();
    return info;
  }

  void Refresh(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(refresh_mu_);
    if (stopped_) return;
    const uint64_t target = ++requested_;
    refresh_cv_.notify_all();
    refresh_cv_.wait_for(lock, timeout, [&] { return completed_ >= target || stopped_; });
  }

  std::optional<DeploymentStatus> GetStatus(std::string_view deployment) const override {
    std::lock_guard lock(status_mu_);
    auto it = statuses_.find(deployment);
    if (it == statuses_.end()) return std::nullopt;
    return it->second;
  }

  std::optional<ShadowStats> Shadow(std::string_view deployment) const override {
    std::shared_ptr<const Table> table = table_.load(std::memory_order_acquire);
    auto it = table->find(deployment);
    if (it == table->end()) return std::nullopt;
    if (it->second->mirror == nullptr) return ShadowStats{};
    return it->second->mirror->Stats();
  }

  void Shutdown() override {
    {
      std::lock_guard lock(refresh_mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    refresh_cv_.notify_all();
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
    }
    std::lock_guard lock(reconcile_mu_);
    table_.store(std::make_shared<const Table>());
    for (auto& [name, st] : states_) {
      if (st.mirror) st.mirror->Stop();  // drops mirrored work: nobody waits for it
    }
    // In-flight requests still hold snapshots; once they are done, every
    // batcher has drained (its destructor runs what is queued).
    for (auto& [key, served] : served_) retired_.push_back(std::move(served));
    served_.clear();
    for (auto& [name, st] : states_) {
      if (st.mirror) retired_mirrors_.push_back(std::move(st.mirror));
    }
    states_.clear();
    const auto deadline = SteadyClock::now() + std::chrono::seconds(30);
    while (true) {
      Collect();
      if (retired_.empty() && retired_mirrors_.empty()) break;
      if (SteadyClock::now() > deadline) {
        // A holder that never lets go: leave its objects to the process exit
        // rather than destroy them under it.
        log::Error("serving: {} model version(s) still in use at shutdown", retired_.size());
        for (auto& s : retired_) new std::shared_ptr<ServedVersion>(std::move(s));
        for (auto& m : retired_mirrors_) new std::shared_ptr<ShadowMirror>(std::move(m));
        retired_.clear();
        retired_mirrors_.clear();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

 private:
  // Manager-thread state of one stored deployment.
  struct DeploymentEntry {
    Deployment stored;
    std::string serving_key;  // what the published snapshot was built from
    std::string failed_key;   // the last key that failed, and when to retry it
    SteadyClock::time_point retry_at;
    std::shared_ptr<ShadowMirror> mirror;
    DeploymentConfig mirror_config;
    DeploymentStatus status;
    // The versions served before the last swap stay loaded (warm standby):
    // a rollback, or an alias moved back, swaps without loading anything.
    // Kept with their batchers, so swapping back starts no thread either.
    std::vector<std::shared_ptr<ServedVersion>> standby;
  };

  // At normal priority (see GetOrLoad): loads, the heavy part, run at
  // background priority on their own threads.
  void Loop(std::stop_token stop) {
    uint64_t seen = 0;
    while (!stop.stop_requested()) {
      {
        std::unique_lock lock(refresh_mu_);
        refresh_cv_.wait_for(lock, stop, options_.poll_interval,
                             [&] { return requested_ != seen || stopped_; });
        if (stopped_) return;
        seen = requested_;
      }
      {
        std::lock_guard lock(reconcile_mu_);
        Reconcile();
      }
      {
        std::lock_guard lock(refresh_mu_);
        completed_ = std::max(completed_, seen);
      }
      refresh_cv_.notify_all();
    }
  }

  void SetState(DeploymentEntry& e, DeploymentState to, std::string message = {}) {
    if (!IsLegalTransition(e.status.state, to)) {
      log::Error("serving: illegal state change of deployment '{}': {} -> {}", e.stored.name,
                 DeploymentStateName(e.status.state), DeploymentStateName(to));
    }
    if (e.status.state != to) e.status.last_change_timestamp = WallMillis();
    e.status.state = to;
    e.status.message = std::move(message);
    PublishStatus(e);
  }

  void PublishStatus(const DeploymentEntry& e) {
    std::lock_guard lock(status_mu_);
    statuses_[e.stored.name] = e.status;
  }

  // The deployments this process serves, or an error (then nothing changes).
  Result<std::vector<Deployment>> Wanted() {
    if (options_.only_deployment.empty()) return store_.List();
    auto one = store_.Get(options_.only_deployment);
    if (!one) {
      if (one.error().code() == ErrorCode::kResourceDoesNotExist) return std::vector<Deployment>{};
      return Err(one.error());
    }
    return std::vector<Deployment>{std::move(*one)};
  }

  void Reconcile() {
    auto wanted = Wanted();
    if (!wanted) {
      // The store is unreachable: keep serving what is loaded.
      if (wanted.error().message() != last_store_error_) {
        log::Warn("serving: cannot read deployments: {}", wanted.error().message());
        last_store_error_ = wanted.error().message();
      }
      Collect();
      return;
    }
    last_store_error_.clear();
    std::shared_ptr<const Table> current = table_.load();
    auto next = std::make_shared<Table>();
    bool changed = false;
    std::set<std::string> names;
    for (Deployment& d : *wanted) {
      names.insert(d.name);
      auto it = current->find(d.name);
      std::shared_ptr<const DeploymentSnapshot> before =
          it == current->end() ? nullptr : it->second;
      std::shared_ptr<const DeploymentSnapshot> after = Apply(std::move(d), before);
      if (after != before) changed = true;
      (*next)[after->name] = std::move(after);
    }
    for (auto it = states_.begin(); it != states_.end();) {
      if (names.contains(it->first)) {
        ++it;
        continue;
      }
      log::Info("serving: deployment '{}' removed", it->first);
      registry_.GetGauge("mlforge_serving_deployment_ready", "", {{"deployment", it->first}})
          .Set(0);
      if (it->second.mirror) retired_mirrors_.push_back(std::move(it->second.mirror));
      {
        std::lock_guard lock(status_mu_);
        statuses_.erase(it->first);
      }
      it = states_.erase(it);
      changed = true;
    }
    if (changed) table_.store(std::shared_ptr<const Table>(std::move(next)));
    current.reset();  // else the old table would keep what it names alive
    RetireUnused();
    Collect();
  }

  // Brings one deployment's snapshot up to date; returns the snapshot to
  // publish (`before` when nothing changed or the change failed).
  std::shared_ptr<const DeploymentSnapshot> Apply(
      Deployment d, std::shared_ptr<const DeploymentSnapshot> before) {
    DeploymentEntry& e = states_[d.name];
    const bool is_new = e.stored.name.empty();
    e.stored = std::move(d);
    const Deployment& dep = e.stored;
    e.status.name = dep.name;
    e.status.desired_revision = dep.revision;
    if (before == nullptr) before = Placeholder(dep);

    // Which version each route names now. A failed resolution is part of
    // the key so it is retried on schedule like a failed load.
    std::vector<ResolvedModel> resolved;
    Status failure;
    for (const RouteSpec& route : dep.routes) {
      auto r = source_.Resolve(route);
      if (!r) {
        failure =
            Status(r.error().code(), fmt::format("route {}: {}", route.Ref(), r.error().message()));
        break;
      }
      resolved.push_back(std::move(*r));
    }
    // What the snapshot would be built from: routes, config and the
    // packages the routes resolve to (not the revision: a change of
    // description, or a rollback to the same routes, needs no swap).
    std::string key = fmt::format("{}|{}|{}|{}", dep.config.max_batch_rows, dep.config.max_wait_us,
                                  dep.config.shadow_queue_size, dep.config.shadow_samples);
    for (size_t i = 0; i < dep.routes.size(); ++i) {
      const RouteSpec& r = dep.routes[i];
      key += fmt::format("|{}:{}:{}:{}", r.Ref(), RouteRoleName(r.role), r.weight,
                         i < resolved.size() ? resolved[i].package_dir.string() : "?");
    }
    if (!failure.ok()) key += "|unresolved:" + failure.message();

    if (key == e.serving_key) {
      e.status.serving_revision = dep.revision;
      if (e.status.state != DeploymentState::kReady) {
        SetState(e, DeploymentState::kReady);
      } else {
        PublishStatus(e);
      }
      return before;
    }
    if (key == e.failed_key && SteadyClock::now() < e.retry_at) {
      if (is_new) PublishStatus(e);
      return before;
    }
    const bool serving = before->revision > 0;
    SetState(e, serving ? DeploymentState::kUpdating : DeploymentState::kPending);

    std::vector<std::shared_ptr<const ModelRuntime>> runtimes;
    if (failure.ok()) {
      for (const ResolvedModel& r : resolved) {
        auto runtime = GetOrLoad(r);
        if (!runtime) {
          failure = runtime.error();
          break;
        }
        runtimes.push_back(std::move(*runtime));
      }
    }
    if (!failure.ok()) {
      e.failed_key = key;
      e.retry_at = SteadyClock::now() + options_.retry_interval;
      const std::string message =
          serving ? fmt::format("update not applied, still serving revision {} ({}): {}",
                                before->revision, ServedList(e.status.routes), failure.message())
                  : fmt::format("revision {} failed to load: {}", dep.revision, failure.message());
      log::Error("serving: deployment '{}': {}", dep.name, message);
      SetState(e, serving ? DeploymentState::kDegraded : DeploymentState::kFailed, message);
      return before;
    }

    auto snapshot = std::make_shared<DeploymentSnapshot>();
    snapshot->name = dep.name;
    snapshot->revision = dep.revision;
    snapshot->config = dep.config;
    snapshot->errors = before->errors;
    e.status.routes.clear();
    bool has_shadow = false;
    for (size_t i = 0; i < dep.routes.size(); ++i) {
      RouteEntry entry;
      entry.spec = dep.routes[i];
      entry.served = GetServed(dep, resolved[i], runtimes[i]);
      entry.metrics = MetricsFor(dep.name, entry.spec.role, *entry.served);
      has_shadow = has_shadow || entry.spec.role == RouteRole::kShadow;
      e.status.routes.push_back({entry.spec, entry.served->version});
      snapshot->routes.push_back(std::move(entry));
    }
    if (has_shadow) {
      if (e.mirror == nullptr || !(e.mirror_config == dep.config)) {
        if (e.mirror) retired_mirrors_.push_back(std::move(e.mirror));
        e.mirror = std::make_shared<ShadowMirror>(dep.name, dep.config, registry_);
        e.mirror_config = dep.config;
      }
      snapshot->mirror = e.mirror;
    } else if (e.mirror) {
      retired_mirrors_.push_back(std::move(e.mirror));
    }
    IndexRoutes(*snapshot);
    std::vector<std::shared_ptr<ServedVersion>> standby;
    for (const RouteEntry& r : before->routes) {
      if (std::find(runtimes.begin(), runtimes.end(), r.served->runtime) == runtimes.end())
        standby.push_back(r.served);
    }
    if (!standby.empty()) e.standby = std::move(standby);
    e.serving_key = key;
    e.failed_key.clear();
    e.status.serving_revision = dep.revision;
    registry_
        .GetGauge("mlforge_serving_deployment_ready",
                  "1 when the deployment has a loaded version taking traffic.",
                  {{"deployment", dep.name}})
        .Set(snapshot->traffic.empty() ? 0 : 1);
    registry_
        .GetCounter("mlforge_serving_swaps_total",
                    "Routing snapshots published (loads, alias moves, route changes).",
                    {{"deployment", dep.name}})
        .Inc();
    log::Info("serving: deployment '{}' revision {} now serves {}", dep.name, dep.revision,
              ServedList(e.status.routes));
    SetState(e, DeploymentState::kReady);
    return snapshot;
  }

  // A snapshot with nothing loaded: requests get 503, errors are counted.
  std::shared_ptr<const DeploymentSnapshot> Placeholder(const Deployment& d) {
    auto s = std::make_shared<DeploymentSnapshot>();
    s->name = d.name;
    s->config = d.config;
    const std::string help = "Inference requests that failed before a model ran, by reason.";
    const char* name = "mlforge_serving_request_errors_total";
    s->errors.bad_request =
        &registry_.GetCounter(name, help, {{"deployment", d.name}, {"reason", "bad_request"}});
    s->errors.not_found =
        &registry_.GetCounter(name, help, {{"deployment", d.name}, {"reason", "not_found"}});
    s->errors.unavailable =
        &registry_.GetCounter(name, help, {{"deployment", d.name}, {"reason", "unavailable"}});
    return s;
  }

  RouteMetrics MetricsFor(const std::string& deployment, RouteRole role,
                          const ServedVersion& served) {
    const metrics::Labels labels = {{"deployment", deployment},
                                    {"model", served.model_name},
                                    {"version", std::to_string(served.version)}};
    RouteMetrics m;
    if (role == RouteRole::kShadow) {
      m.requests = &registry_.GetCounter("mlforge_serving_shadow_requests_total",
                                         "Mirrored requests run by shadow routes.", labels);
      m.errors = &registry_.GetCounter("mlforge_serving_shadow_errors_total",
                                       "Shadow predictions that failed.", labels);
      m.latency = &registry_.GetHistogram("mlforge_serving_shadow_duration_seconds",
                                          "Time a shadow route took to predict a mirrored request.",
                                          labels, metrics::LatencyBuckets());
    } else {
      m.requests =
          &registry_.GetCounter("mlforge_serving_requests_total",
                                "Inference requests answered, by deployment and version.", labels);
      m.errors = &registry_.GetCounter("mlforge_serving_model_errors_total",
                                       "Inference requests the model failed to predict.", labels);
      m.latency = &registry_.GetHistogram(
          "mlforge_serving_request_duration_seconds",
          "Time from routing a request to its prediction (queueing and batching included).", labels,
          metrics::LatencyBuckets());
    }
    return m;
  }

  // Loads a version and runs one row through it, so the first request pays no
  // lazy initialisation and a model that cannot predict is never swapped in.
  Result<std::unique_ptr<ModelRuntime>> LoadAndWarm(const ResolvedModel& r) const {
    Result<std::unique_ptr<ModelRuntime>> loaded = Err(Internal("not loaded"));
    try {
      loaded = options_.loader(r.package_dir);
    } catch (const std::exception& e) {
      loaded = Err(Internal(std::string("the loader threw: ") + e.what()));
    }
    if (!loaded) {
      return Err(
          Status(loaded.error().code(), fmt::format("cannot load {} version {}: {}", r.model_name,
                                                    r.version, loaded.error().message())));
    }
    FeatureBatch warm;
    warm.rows = 1;
    warm.cols = static_cast<int64_t>((*loaded)->signature().inputs.size());
    warm.values.assign(static_cast<size_t>(warm.cols), 0.0f);
    Result<PredictionBatch> predicted = Err(Internal("not run"));
    try {
      predicted = (*loaded)->Predict(warm);
    } catch (const std::exception& e) {
      predicted = Err(Internal(std::string("the model threw: ") + e.what()));
    }
    if (!predicted) {
      return Err(Status(predicted.error().code(),
                        fmt::format("{} version {} failed its warm-up prediction: {}", r.model_name,
                                    r.version, predicted.error().message())));
    }
    return loaded;
  }

  // The runtime of a resolved version: the loaded one if any deployment
  // still holds it, else loaded and warmed now.
  Result<std::shared_ptr<const ModelRuntime>> GetOrLoad(const ResolvedModel& r) {
    const std::string key = r.package_dir.string();
    if (auto it = runtimes_.find(key); it != runtimes_.end()) {
      if (auto alive = it->second.lock()) return alive;
      runtimes_.erase(it);
    }
    const auto start = SteadyClock::now();
    // Loaded and warmed at background priority on a thread of its own, not on
    // this one: the batch threads this thread starts inherit its nice value,
    // and an unprivileged thread cannot raise its own back. (They did inherit
    // it: every model's batch thread ran at nice 19 behind the I/O threads.)
    Result<std::unique_ptr<ModelRuntime>> loaded = Err(Internal("not loaded"));
    std::jthread([&] {
      LowerThreadPriority();
      loaded = LoadAndWarm(r);
    }).join();
    if (!loaded) {
      loads_failed_->Inc();
      return Err(loaded.error());
    }
    loads_ok_->Inc();
    loaded_models_->Add(1);
    metrics::Gauge* gauge = loaded_models_;
    std::string name = r.model_name;
    const int64_t version = r.version;
    std::shared_ptr<const ModelRuntime> runtime(
        loaded->release(), [gauge, name, version](const ModelRuntime* m) {
          delete m;
          gauge->Add(-1);
          log::Info("serving: unloaded {} version {}", name, version);
        });
    runtimes_[key] = runtime;
    log::Info(
        "serving: loaded {} version {} ({}) in {} ms", r.model_name, r.version, runtime->flavor(),
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count());
    return runtime;
  }

  // This deployment's batcher for a version, shared by its routes and kept
  // across snapshots while the batch settings stay the same.
  std::shared_ptr<ServedVersion> GetServed(const Deployment& d, const ResolvedModel& r,
                                           const std::shared_ptr<const ModelRuntime>& runtime) {
    const std::string key = fmt::format("{}|{}|{}|{}", d.name, r.package_dir.string(),
                                        d.config.max_batch_rows, d.config.max_wait_us);
    auto& slot = served_[key];
    if (slot != nullptr && slot->runtime == runtime) return slot;
    if (slot != nullptr) retired_.push_back(std::move(slot));
    auto served = std::make_shared<ServedVersion>();
    served->model_name = r.model_name;
    served->version = r.version;
    served->runtime = runtime;
    const metrics::Labels labels = {
        {"deployment", d.name}, {"model", r.model_name}, {"version", std::to_string(r.version)}};
    BatcherOptions options;
    options.max_batch_rows = d.config.max_batch_rows;
    options.max_wait = std::chrono::microseconds(d.config.max_wait_us);
    options.batch_rows = &registry_.GetHistogram(
        "mlforge_serving_batch_rows", "Rows per prediction batch.", labels, metrics::SizeBuckets());
    served->batcher = std::make_unique<Batcher>(runtime, options);
    Batcher* batcher = served->batcher.get();
    served->queue_gauge = registry_.AddGaugeCallback(
        "mlforge_serving_queue_rows", "Rows waiting for a prediction batch.", labels,
        [batcher] { return static_cast<double>(batcher->queued_rows()); });
    slot = served;
    return served;
  }

  // Moves what no published snapshot names to the retired lists.
  void RetireUnused() {
    std::shared_ptr<const Table> table = table_.load();
    std::set<const ServedVersion*> used;
    for (const auto& [name, snapshot] : *table) {
      for (const RouteEntry& r : snapshot->routes) used.insert(r.served.get());
    }
    for (const auto& [name, entry] : states_) {
      for (const auto& served : entry.standby) used.insert(served.get());
    }
    for (auto it = served_.begin(); it != served_.end();) {
      if (used.contains(it->second.get())) {
        ++it;
      } else {
        retired_.push_back(std::move(it->second));
        it = served_.erase(it);
      }
    }
  }

  // Destroys retired objects nobody else holds any more: no snapshot, no
  // request, no queued job. Their last in-flight request has finished.
  void Collect() {
    std::erase_if(retired_, [](const auto& s) { return s.use_count() == 1; });
    std::erase_if(retired_mirrors_, [](const auto& m) { return m.use_count() == 1; });
  }

  DeploymentStore& store_;
  ModelSource& source_;
  metrics::Registry& registry_;
  EngineOptions options_;
  metrics::Counter* unknown_deployment_;
  metrics::Gauge* loaded_models_;
  metrics::Counter* loads_ok_;
  metrics::Counter* loads_failed_;

  // The published routing table: written by the manager, read lock-free
  // (an atomic shared_ptr load) by every request.
  std::atomic<std::shared_ptr<const Table>> table_;

  std::mutex reconcile_mu_;  // one reconcile at a time; guards the members below
  std::map<std::string, DeploymentEntry, std::less<>> states_;
  std::map<std::string, std::weak_ptr<const ModelRuntime>> runtimes_;  // by package dir
  std::map<std::string, std::shared_ptr<ServedVersion>> served_;
  std::vector<std::shared_ptr<ServedVersion>> retired_;
  std::vector<std::shared_ptr<ShadowMirror>> retired_mirrors_;
  std::string last_store_error_;

  mutable std::mutex status_mu_;  // guards statuses_ (what the API shows)
  std::map<std::string, DeploymentStatus, std::less<>> statuses_;

  std::mutex refresh_mu_;  // guards the refresh generations and stopped_
  std::condition_variable_any refresh_cv_;
  uint64_t requested_ = 0;
  uint64_t completed_ = 0;
  bool stopped_ = false;

  std::jthread thread_;
};

}  // namespace

Result<std::unique_ptr<ServingEngine>> ServingEngine::Start(DeploymentStore& store,
                                                            ModelSource& source,
                                                            metrics::Registry& metrics,
                                                            EngineOptions options) {
  if (options.poll_interval.count() <= 0) {
    return Err(InvalidArgument("The serving poll interval must be positive"));
  }
  auto manager = std::make_unique<ModelManager>(store, source, metrics, std::move(options));
  manager->InitialReconcile();
  manager->StartThread();
  return std::unique_ptr<ServingEngine>(std::move(manager));
}

}  // namespace mlforge::serving

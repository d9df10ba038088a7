// Serving: deployments (named endpoints routing traffic to model versions)
// and real-time inference. Facade of the subsystem; runtime.h (the model
// runtime contract) is part of it. Everything else in src/serving is private.
// docs/serving.md describes the API, the lifecycle and the metrics.
//
// Deployments are stored through src/sql; every change is an event, and
// rollback re-applies an earlier revision's routes. The ServingEngine turns
// the stored deployments into loaded models: it resolves each route through
// a ModelSource (app/ adapts the registry to it), loads and warms the
// versions, then swaps an immutable routing snapshot that the request path
// reads without locks. Requests are batched per loaded version.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "serving/runtime.h"

namespace mlforge {
class Clock;
namespace sql {
class Database;
}
namespace metrics {
class Registry;
}
namespace json {
class Value;
class Writer;
}  // namespace json
}  // namespace mlforge

namespace mlforge::serving {

// ------------------------------------------------------------ deployments

inline constexpr size_t kMaxDeploymentNameLength = 64;
inline constexpr size_t kMaxRoutes = 16;
inline constexpr int kEventsDefault = 100;
inline constexpr int kEventsMax = 1000;

// How a route takes part in traffic. Primary and challenger routes share
// the traffic by weight (A/B); a shadow route gets a mirrored copy of every
// request off the request path, and its answers never reach the client.
enum class RouteRole { kPrimary, kChallenger, kShadow };
std::string_view RouteRoleName(RouteRole role);  // "primary", "challenger", "shadow"
Result<RouteRole> ParseRouteRole(std::string_view name);

// A route names a registered model's version by alias (moves when the
// alias moves) or by number (pinned).
struct RouteSpec {
  std::string model_name;
  std::string alias;    // exactly one of alias and version is set
  int64_t version = 0;  // >= 1 when set
  double weight = 0;    // share of the traffic among non-shadow routes
  RouteRole role = RouteRole::kPrimary;

  // "fraud@champion" or "fraud/3".
  std::string Ref() const;
  bool operator==(const RouteSpec&) const = default;
};

// Per-deployment serving knobs.
struct DeploymentConfig {
  // Adaptive batching: a batch takes whatever requests queued while the
  // previous one ran, up to max_batch_rows rows (1 = no batching).
  int max_batch_rows = 64;
  // The longest a request waits for a batch to fill when the queue holds
  // fewer than max_batch_rows rows (0 = never wait: no added latency).
  int64_t max_wait_us = 0;
  // Mirrored requests waiting for the shadow routes; more are dropped (counted).
  int shadow_queue_size = 1000;
  // How many recent shadow comparisons are kept for the API.
  int shadow_samples = 100;

  bool operator==(const DeploymentConfig&) const = default;
};

struct Deployment {
  std::string name;
  std::string description;
  int64_t revision = 0;  // 1 when created, +1 for every change
  int64_t creation_timestamp = 0;
  int64_t last_updated_timestamp = 0;
  std::vector<RouteSpec> routes;
  DeploymentConfig config;
};

struct CreateDeploymentRequest {
  std::string name;
  std::string description;
  std::vector<RouteSpec> routes;
  DeploymentConfig config;
};

// Fields left unset keep their value.
struct UpdateDeploymentRequest {
  std::string name;
  std::optional<std::vector<RouteSpec>> routes;
  std::optional<DeploymentConfig> config;
  std::optional<std::string> description;
  // When set, the update applies only if the deployment is at this
  // revision (kInvalidState otherwise): compare-and-set for tools.
  std::optional<int64_t> expected_revision;
};

// One entry of a deployment's append-only history. `before`/`after` are
// JSON objects {"revision", "routes", "config", "description"} ("" when
// there is no such state: before a create, after a delete).
struct DeploymentEvent {
  int64_t event_id = 0;
  int64_t timestamp = 0;
  std::string user;
  std::string action;  // create, update, rollback, delete
  std::string name;
  int64_t revision = 0;  // the revision the change produced (the deleted one for delete)
  std::string before_json;
  std::string after_json;
};

struct DeploymentEventPage {
  std::vector<DeploymentEvent> events;  // oldest first
  std::string next_page_token;
};

// Who made a change, for the history ("unknown" when nobody said).
struct Actor {
  std::string user = "unknown";
};

// Checks a deployment (names, routes, config) without storing it. Errors
// are kInvalidParameterValue naming the field.
Status ValidateDeploymentName(std::string_view name);
Status ValidateRoutes(const std::vector<RouteSpec>& routes);
Status ValidateConfig(const DeploymentConfig& config);

// JSON of routes and config, as the REST API and the stored history show
// them: a route is {"model_name", "alias" | "version" (string), "weight",
// "role"}; a config {"max_batch_rows", "max_wait_us", "shadow_queue_size",
// "shadow_samples"}. Parsing checks types and values (ValidateRoutes /
// ValidateConfig); errors are kInvalidParameterValue naming the field.
void WriteRoutes(json::Writer& w, const std::vector<RouteSpec>& routes);
void WriteConfig(json::Writer& w, const DeploymentConfig& config);
Result<std::vector<RouteSpec>> ParseRoutes(const json::Value& value);
// Missing members keep the defaults of `base`.
Result<DeploymentConfig> ParseConfig(const json::Value& value, const DeploymentConfig& base = {});

// The stored deployments. Thread-safe: every call is one transaction (an
// update that loses a race with another writer is retried on fresh data).
class DeploymentStore {
 public:
  // Applies the "serving" migrations. db and clock must outlive the store.
  static Result<std::unique_ptr<DeploymentStore>> Open(sql::Database& db, const Clock& clock);
  virtual ~DeploymentStore() = default;

  virtual Result<Deployment> Create(const Actor& actor, const CreateDeploymentRequest& req) = 0;
  virtual Result<Deployment> Get(std::string_view name) = 0;
  virtual Result<std::vector<Deployment>> List() = 0;  // by name
  virtual Result<Deployment> Update(const Actor& actor, const UpdateDeploymentRequest& req) = 0;
  // Re-applies the routes and config of an earlier revision as a new
  // revision. Without to_revision: the revision before the current one.
  // kInvalidState when there is nothing to go back to.
  virtual Result<Deployment> Rollback(const Actor& actor, std::string_view name,
                                      std::optional<int64_t> to_revision) = 0;
  virtual Status Delete(const Actor& actor, std::string_view name) = 0;
  // History of every deployment that ever had this name, oldest first.
  virtual Result<DeploymentEventPage> ListEvents(std::string_view name, int max_results,
                                                 std::string_view page_token) = 0;
};

// Applies the "serving" schema migrations (mlforge db upgrade).
Status ApplyServingMigrations(sql::Database& db);

// ---------------------------------------------------------- model sources

// A model version a route names, and where its package (an MLmodel
// directory) is on local disk.
struct ResolvedModel {
  std::string model_name;
  int64_t version = 0;
  std::filesystem::path package_dir;
};

// Which version an alias or number names. Serving declares it; app/ adapts
// the model registry to it. Thread-safe; may block (database).
class ModelSource {
 public:
  virtual ~ModelSource() = default;
  // Errors: kResourceDoesNotExist (no such model, alias or version), others
  // as the source reports them.
  virtual Result<ResolvedModel> Resolve(const RouteSpec& route) = 0;
};

// Loads a package directory (LoadModelPackage by default; tests inject).
using ModelLoader =
    std::function<Result<std::unique_ptr<ModelRuntime>>(const std::filesystem::path&)>;

// ---------------------------------------------------------------- engine

// A deployment's serving state, as the engine sees it.
//   PENDING  nothing loaded yet
//   READY    serving the stored revision
//   UPDATING serving an older revision while the new one loads
//   DEGRADED serving an older revision; the latest one failed to load
//   FAILED   nothing served: its first revision failed to load
// Legal transitions: see kDeploymentTransitions in model_manager.cc.
enum class DeploymentState { kPending, kReady, kUpdating, kDegraded, kFailed };
std::string_view DeploymentStateName(DeploymentState state);

struct ServedRoute {
  RouteSpec spec;
  int64_t version = 0;  // the version answering for this route
};

struct DeploymentStatus {
  std::string name;
  DeploymentState state = DeploymentState::kPending;
  int64_t serving_revision = 0;  // 0 while nothing is served
  int64_t desired_revision = 0;
  std::vector<ServedRoute> routes;  // what is served now
  std::string message;              // why the latest revision is not served
  int64_t last_change_timestamp = 0;
};

struct ShadowOutput {
  std::string model_name;
  int64_t version = 0;
  std::vector<double> values;  // row-major, like PredictionBatch
  std::vector<std::string> output_names;
  std::string error;  // set when the shadow failed
  double latency_ms = 0;
};

// One mirrored request: what the client got and what each shadow said.
struct ShadowSample {
  int64_t timestamp = 0;
  std::string request_id;
  int64_t rows = 0;
  std::string primary_model;
  int64_t primary_version = 0;
  std::vector<double> primary_values;
  std::vector<std::string> output_names;
  std::vector<ShadowOutput> shadows;
};

struct ShadowStats {
  uint64_t mirrored = 0;              // requests handed to the shadow routes
  uint64_t dropped = 0;               // not mirrored: the queue was full
  uint64_t errors = 0;                // shadow predictions that failed
  std::vector<ShadowSample> samples;  // newest last
};

// ------------------------------------------------------ prediction capture

// One finished request, as the engine hands it to a PredictionSink. It only
// points at the request's data: valid during OnPrediction, so a sink copies
// what it keeps (and only when it samples the request).
struct CapturedPrediction {
  std::string_view deployment;
  std::string_view model_name;
  int64_t version = 0;
  std::string_view request_id;
  int64_t timestamp_ms = 0;  // when the answer was ready, Unix milliseconds
  double latency_ms = 0;     // routing to answer
  const ModelSignature* signature = nullptr;  // names the feature columns
  const FeatureBatch* features = nullptr;     // nullptr when rejected before decoding
  const PredictionBatch* outputs = nullptr;   // nullptr when error
  bool error = false;                         // the request failed (bad input or model error)
};

// Where served predictions go for monitoring. Serving declares it; app/
// adapts monitor's capture to it. Called on batch (or request) threads for
// every request, before its answer is sent, so a capture is queued by the
// time a client sees the answer: it must not block (one sampling decision
// and a non-blocking push). Thread-safe.
class PredictionSink {
 public:
  virtual ~PredictionSink() = default;
  virtual void OnPrediction(const CapturedPrediction& prediction) = 0;
};

struct EngineOptions {
  // How often stored deployments and aliases are re-read. Changes made
  // through this process's API are applied at once (Refresh).
  std::chrono::milliseconds poll_interval{1000};
  // A revision that failed to load is retried after this long.
  std::chrono::milliseconds retry_interval{30'000};
  // Serve only this deployment (a `mlforge serve` replica); empty = all.
  std::string only_deployment;
  ModelLoader loader;  // empty: LoadModelPackage
  // Optional; must outlive the engine. Gets every request's outcome.
  PredictionSink* sink = nullptr;
};

// The model version chosen for one request. It keeps that version loaded
// until the request is done, whatever swaps happen meanwhile. Move-only.
class RoutedRequest {
 public:
  RoutedRequest();
  RoutedRequest(RoutedRequest&&) noexcept;
  RoutedRequest& operator=(RoutedRequest&&) noexcept;
  ~RoutedRequest();

  const ModelSignature& signature() const;
  std::string_view flavor() const;
  const std::string& deployment() const;
  const std::string& model_name() const;
  int64_t version() const;

  // Called once, on a batch thread, with this request's predictions (or the
  // model's error). Must not block.
  using Done = std::move_only_function<void(const Result<PredictionBatch>&)>;
  // Queues the rows for the version's batcher. `request_id` labels shadow
  // samples. The request is consumed.
  void Predict(FeatureBatch rows, std::string request_id, Done done);
  // The request failed before prediction (e.g. a bad body): counted as an
  // error of the deployment. The request is consumed.
  void Reject();

  // The engine's private state of a routed request (defined in model_manager.cc).
  struct State;
  explicit RoutedRequest(std::unique_ptr<State> state);

 private:
  std::unique_ptr<State> state_;
};

struct ModelInfo {
  std::string deployment;
  std::vector<ServedRoute> routes;  // what is served now (shadows included)
  std::string flavor;               // of the route a request would get
  ModelSignature signature;
};

// Thread-safe. The request-path calls (Route, IsReady, Describe) read an
// immutable snapshot and never block on the database, the disk or a lock
// held by slow work.
class ServingEngine {
 public:
  // Starts the manager thread and loads what the store holds before
  // returning. store, source and metrics must outlive the engine.
  static Result<std::unique_ptr<ServingEngine>> Start(DeploymentStore& store, ModelSource& source,
                                                      metrics::Registry& metrics,
                                                      EngineOptions options);
  virtual ~ServingEngine() = default;

  // Picks the version for a request to `deployment`: `version` pins one of
  // its served versions; otherwise weighted among primary and challenger
  // routes, by a hash of `route_key` when it is not empty (sticky), else at
  // random. Errors: kResourceDoesNotExist (unknown deployment or version),
  // kTemporarilyUnavailable (nothing loaded yet).
  virtual Result<RoutedRequest> Route(std::string_view deployment, std::optional<int64_t> version,
                                      std::string_view route_key) = 0;
  // A request that named an unknown deployment (counted without its name).
  virtual void CountUnknownDeployment() = 0;

  // Whether the deployment has a served version (and this version, if given).
  virtual bool IsReady(std::string_view deployment, std::optional<int64_t> version) const = 0;
  // True when every served deployment has a loaded version.
  virtual bool AllReady() const = 0;
  virtual Result<ModelInfo> Describe(std::string_view deployment,
                                     std::optional<int64_t> version) const = 0;

  // Re-reads the store and the model source now and applies what changed;
  // returns once done or after `timeout` (0: a nudge that returns at once).
  virtual void Refresh(std::chrono::milliseconds timeout = std::chrono::seconds(120)) = 0;
  virtual std::optional<DeploymentStatus> GetStatus(std::string_view deployment) const = 0;
  virtual std::optional<ShadowStats> Shadow(std::string_view deployment) const = 0;

  // Stops taking requests, finishes the queued ones and joins the threads.
  // Every RoutedRequest still queued gets its Done. Idempotent; the
  // destructor calls it.
  virtual void Shutdown() = 0;
};

}  // namespace mlforge::serving

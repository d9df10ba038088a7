// Model registry: registered models, their numbered versions, tags, aliases
// and MLflow stages, with MLflow 2.12's semantics, plus an append-only audit
// log of every change. Facade of the subsystem: everything else in
// src/registry is private. Layout and choices: docs/registry.md.
//
// A model version's files are pinned when it is created: the source
// directory (an MLflow MLmodel package stored by this server) is copied, as
// hard-linked views, to <kArtifactPrefix>/<model id>/<version>/ in the
// artifact store, so deleting the source run or its artifacts never breaks a
// registered version.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mlforge {
class Clock;
namespace sql {
class Database;
}
namespace blob {
class ArtifactStore;
}
namespace tracking {
class TrackingService;
}
}  // namespace mlforge

namespace mlforge::registry {

// Top-level artifact-store folder of pinned model versions. Experiment
// artifact folders are numeric, so it never collides with a run's files.
// The artifact proxy refuses writes below it.
inline constexpr std::string_view kArtifactPrefix = "registry";

// MLflow's limits (mlflow/utils/validation.py, store/model_registry/__init__.py).
inline constexpr size_t kMaxModelNameLength = 256;  // MLflow's column width
inline constexpr size_t kMaxTagKeyLength = 250;
inline constexpr size_t kMaxTagValueLength = 5000;
inline constexpr size_t kMaxAliasLength = 255;
inline constexpr size_t kMaxDescriptionLength = 65'536;
inline constexpr int kSearchModelsDefault = 100;
inline constexpr int kSearchModelsMax = 1000;
inline constexpr int kSearchVersionsDefault = 200'000;  // the proto's default
inline constexpr int kSearchVersionsMax = 200'000;
inline constexpr int kEventsDefault = 100;
inline constexpr int kEventsMax = 1000;

// MLflow's stages, canonical spelling.
inline constexpr std::string_view kStageNone = "None";
inline constexpr std::string_view kStageStaging = "Staging";
inline constexpr std::string_view kStageProduction = "Production";
inline constexpr std::string_view kStageArchived = "Archived";

// The canonical stage for any capitalization ("production" -> "Production");
// kInvalidParameterValue with MLflow's message otherwise.
Result<std::string> CanonicalStage(std::string_view stage);

struct Tag {
  std::string key;
  std::string value;
};

struct Alias {
  std::string alias;
  int64_t version = 0;
};

struct ModelVersion {
  std::string name;
  int64_t version = 0;
  int64_t creation_timestamp = 0;
  int64_t last_updated_timestamp = 0;
  std::optional<std::string> description;  // unset: omitted in MLflow's JSON
  std::string current_stage;               // one of the four stages
  std::string source;                      // as the client gave it
  std::optional<std::string> run_id;
  std::optional<std::string> run_link;
  std::string status = "READY";  // creation is synchronous
  std::vector<Tag> tags;         // by key
  std::vector<std::string> aliases;
  // Store path of the pinned files ("registry/<model id>/<version>").
  std::string storage_path;
};

struct RegisteredModel {
  std::string name;
  int64_t creation_timestamp = 0;
  int64_t last_updated_timestamp = 0;
  std::string description;
  // The newest version in each stage that has one.
  std::vector<ModelVersion> latest_versions;
  std::vector<Tag> tags;
  std::vector<Alias> aliases;
};

struct CreateRegisteredModelRequest {
  std::string name;
  std::vector<Tag> tags;
  std::string description;
};

struct CreateModelVersionRequest {
  std::string name;
  // runs:/<run_id>/<path>, mlflow-artifacts:/<path> or models:/<name>/<version|stage|latest>
  // or models:/<name>@<alias>. Anything else is refused.
  std::string source;
  std::string run_id;  // optional; filled from a runs:/ source when empty
  std::string run_link;
  std::vector<Tag> tags;
  std::optional<std::string> description;
};

struct SearchRequest {
  std::string filter;
  int max_results = 0;  // 0: the endpoint's default
  std::vector<std::string> order_by;
  std::string page_token;
};

struct RegisteredModelPage {
  std::vector<RegisteredModel> models;
  std::string next_page_token;  // empty on the last page
};

struct ModelVersionPage {
  std::vector<ModelVersion> versions;
  std::string next_page_token;
};

// One audit-log entry. before/after are JSON objects (or "" when there is
// no such state: nothing before a create, nothing after a delete).
struct Event {
  int64_t event_id = 0;
  int64_t timestamp = 0;
  std::string user;
  std::string action;  // e.g. "create_model_version", "set_alias"
  std::string name;    // the model's name when the event happened
  std::optional<int64_t> version;
  std::string before_json;
  std::string after_json;
};

struct EventsRequest {
  std::string name;  // every model that ever had this name
  std::optional<int64_t> version;
  int max_results = kEventsDefault;
  std::string page_token;
};

struct EventPage {
  std::vector<Event> events;  // oldest first
  std::string next_page_token;
};

// Who made a change, for the audit log ("unknown" when nobody said).
struct Actor {
  std::string user = "unknown";
};

// Thread-safe: every call is one database transaction (plus, for version
// creation, the artifact-store copy made inside it).
class RegistryService {
 public:
  // Applies the "registry" schema migrations. The database, clock, tracking
  // service and artifact store must outlive the service. Without an
  // artifact store (artifacts not served), creating versions fails with
  // kNotImplemented; everything else works.
  static Result<std::unique_ptr<RegistryService>> Open(sql::Database& db, const Clock& clock,
                                                       tracking::TrackingService& tracking,
                                                       blob::ArtifactStore* artifacts);
  virtual ~RegistryService() = default;

  // Registered models.
  virtual Result<RegisteredModel> CreateRegisteredModel(
      const Actor& actor, const CreateRegisteredModelRequest& req) = 0;
  virtual Result<RegisteredModel> GetRegisteredModel(std::string_view name) = 0;
  virtual Result<RegisteredModel> RenameRegisteredModel(const Actor& actor, std::string_view name,
                                                        std::string_view new_name) = 0;
  // description unset clears it (MLflow stores None).
  virtual Result<RegisteredModel> UpdateRegisteredModel(
      const Actor& actor, std::string_view name, const std::optional<std::string>& description) = 0;
  // Also deletes its versions, tags, aliases and pinned files.
  virtual Status DeleteRegisteredModel(const Actor& actor, std::string_view name) = 0;
  virtual Result<RegisteredModelPage> SearchRegisteredModels(const SearchRequest& req) = 0;
  // Latest version per stage, restricted to `stages` (any case) when given.
  virtual Result<std::vector<ModelVersion>> GetLatestVersions(
      std::string_view name, std::span<const std::string> stages) = 0;
  virtual Status SetRegisteredModelTag(const Actor& actor, std::string_view name,
                                       const Tag& tag) = 0;
  // Deleting a missing key is not an error (MLflow).
  virtual Status DeleteRegisteredModelTag(const Actor& actor, std::string_view name,
                                          std::string_view key) = 0;

  // Aliases. `version` is the decimal text MLflow sends.
  virtual Status SetAlias(const Actor& actor, std::string_view name, std::string_view alias,
                          std::string_view version) = 0;
  virtual Status DeleteAlias(const Actor& actor, std::string_view name, std::string_view alias) = 0;
  virtual Result<ModelVersion> GetModelVersionByAlias(std::string_view name,
                                                      std::string_view alias) = 0;

  // Model versions. Version numbers start at 1 per model and are never
  // reused, also after deletes and under concurrent creates.
  virtual Result<ModelVersion> CreateModelVersion(const Actor& actor,
                                                  const CreateModelVersionRequest& req) = 0;
  virtual Result<ModelVersion> GetModelVersion(std::string_view name, std::string_view version) = 0;
  virtual Result<ModelVersion> UpdateModelVersion(
      const Actor& actor, std::string_view name, std::string_view version,
      const std::optional<std::string>& description) = 0;
  // Removes the version, its tags, the aliases naming it and its pinned files.
  virtual Status DeleteModelVersion(const Actor& actor, std::string_view name,
                                    std::string_view version) = 0;
  virtual Result<ModelVersionPage> SearchModelVersions(const SearchRequest& req) = 0;
  // archive_existing_versions moves the other versions in the target stage
  // to Archived; only allowed for Staging and Production.
  virtual Result<ModelVersion> TransitionStage(const Actor& actor, std::string_view name,
                                               std::string_view version, std::string_view stage,
                                               bool archive_existing_versions) = 0;
  virtual Status SetModelVersionTag(const Actor& actor, std::string_view name,
                                    std::string_view version, const Tag& tag) = 0;
  virtual Status DeleteModelVersionTag(const Actor& actor, std::string_view name,
                                       std::string_view version, std::string_view key) = 0;
  // "mlflow-artifacts:/registry/<model id>/<version>": the pinned files,
  // downloadable through the artifact proxy.
  virtual Result<std::string> GetDownloadUri(std::string_view name, std::string_view version) = 0;

  // The version a models:/ URI names: models:/<name>/<version>,
  // models:/<name>/<stage> (newest in that stage), models:/<name>/latest
  // (newest of all) or models:/<name>@<alias>. The one resolver for every
  // place a model is referenced (serving, lineage).
  virtual Result<ModelVersion> Resolve(std::string_view models_uri) = 0;

  // The audit log, oldest first. Append-only: nothing updates or deletes it.
  virtual Result<EventPage> ListEvents(const EventsRequest& req) = 0;
};

}  // namespace mlforge::registry

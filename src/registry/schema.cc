#include "registry/schema.h"

namespace mlforge::registry {
namespace {

// Models are keyed by a surrogate id that is never reused (AUTOINCREMENT /
// identity), so renames touch one row and a re-created name never meets the
// old model's pinned files. next_version is the per-model version counter:
// taken with one UPDATE ... RETURNING, so concurrent creates get distinct
// numbers on both backends, and deleted numbers are never handed out again.
// registry_events is append-only: the code has no UPDATE or DELETE for it.
// clang-format off
#define MLFORGE_REGISTRY_V1(SERIAL_PK)                                                   \
  "CREATE TABLE registered_models ("                                                     \
  "  model_id " SERIAL_PK ","                                                            \
  "  name TEXT NOT NULL UNIQUE,"                                                         \
  "  creation_time BIGINT NOT NULL,"                                                     \
  "  last_updated_time BIGINT NOT NULL,"                                                 \
  "  description TEXT NOT NULL DEFAULT '',"                                              \
  "  next_version BIGINT NOT NULL DEFAULT 1);"                                           \
  "CREATE TABLE registered_model_tags ("                                                 \
  "  model_id BIGINT NOT NULL REFERENCES registered_models(model_id),"                   \
  "  key TEXT NOT NULL,"                                                                 \
  "  value TEXT NOT NULL,"                                                               \
  "  PRIMARY KEY (model_id, key));"                                                      \
  "CREATE TABLE model_versions ("                                                        \
  "  model_id BIGINT NOT NULL REFERENCES registered_models(model_id),"                   \
  "  version BIGINT NOT NULL,"                                                           \
  "  creation_time BIGINT NOT NULL,"                                                     \
  "  last_updated_time BIGINT NOT NULL,"                                                 \
  "  description TEXT,"                                                                  \
  "  current_stage TEXT NOT NULL,"                                                       \
  "  source TEXT NOT NULL,"                                                              \
  "  run_id TEXT,"                                                                       \
  "  run_link TEXT,"                                                                     \
  "  status TEXT NOT NULL,"                                                              \
  "  storage_path TEXT NOT NULL,"                                                        \
  "  PRIMARY KEY (model_id, version));"                                                  \
  "CREATE INDEX model_versions_by_run ON model_versions (run_id);"                       \
  "CREATE TABLE model_version_tags ("                                                    \
  "  model_id BIGINT NOT NULL,"                                                          \
  "  version BIGINT NOT NULL,"                                                           \
  "  key TEXT NOT NULL,"                                                                 \
  "  value TEXT NOT NULL,"                                                               \
  "  PRIMARY KEY (model_id, version, key),"                                              \
  "  FOREIGN KEY (model_id, version) REFERENCES model_versions(model_id, version));"      \
  "CREATE TABLE registered_model_aliases ("                                              \
  "  model_id BIGINT NOT NULL REFERENCES registered_models(model_id),"                   \
  "  alias TEXT NOT NULL,"                                                               \
  "  version BIGINT NOT NULL,"                                                           \
  "  PRIMARY KEY (model_id, alias));"                                                    \
  "CREATE TABLE registry_events ("                                                       \
  "  event_id " SERIAL_PK ","                                                            \
  "  model_id BIGINT NOT NULL,"                                                          \
  "  model_name TEXT NOT NULL,"                                                          \
  "  version BIGINT,"                                                                    \
  "  action TEXT NOT NULL,"                                                              \
  "  user_id TEXT NOT NULL,"                                                             \
  "  timestamp BIGINT NOT NULL,"                                                         \
  "  before_json TEXT NOT NULL,"                                                         \
  "  after_json TEXT NOT NULL);"                                                         \
  "CREATE INDEX registry_events_by_name ON registry_events (model_name);"                \
  "CREATE INDEX registry_events_by_model ON registry_events (model_id, event_id);"
// clang-format on

constexpr std::string_view kV1Sqlite = MLFORGE_REGISTRY_V1("INTEGER PRIMARY KEY AUTOINCREMENT");
constexpr std::string_view kV1Postgres = MLFORGE_REGISTRY_V1("BIGSERIAL PRIMARY KEY");

#undef MLFORGE_REGISTRY_V1

constexpr sql::Migration kMigrations[] = {
    {.version = 1,
     .name = "registry tables",
     .sql = {},
     .sqlite = kV1Sqlite,
     .postgres = kV1Postgres},
};

}  // namespace

std::span<const sql::Migration> RegistryMigrations() { return kMigrations; }

}  // namespace mlforge::registry

#include "tracking/schema.h"

namespace mlforge::tracking {
namespace {

// Shared DDL with two backend-specific spots: the auto-increment key of
// latest_metrics and SQLite's WITHOUT ROWID for the clustered history table.
// Indexes are few on purpose: every one is written on each log call, and
// searches reach params, tags and metrics through (run_uuid, key).
#define MLFORGE_TRACKING_V1(SERIAL_PK, WITHOUT_ROWID, EXTRA)                                 \
  "CREATE TABLE experiments ("                                                             \
  "  experiment_id BIGINT PRIMARY KEY,"                                                    \
  "  name TEXT NOT NULL UNIQUE,"                                                           \
  "  artifact_location TEXT NOT NULL,"                                                     \
  "  lifecycle_stage TEXT NOT NULL DEFAULT 'active',"                                      \
  "  creation_time BIGINT NOT NULL,"                                                       \
  "  last_update_time BIGINT NOT NULL);"                                                   \
  "CREATE TABLE experiment_tags ("                                                         \
  "  experiment_id BIGINT NOT NULL REFERENCES experiments(experiment_id),"                 \
  "  key TEXT NOT NULL,"                                                                   \
  "  value TEXT NOT NULL,"                                                                 \
  "  PRIMARY KEY (experiment_id, key));"                                                   \
  "CREATE TABLE runs ("                                                                    \
  "  run_uuid TEXT PRIMARY KEY,"                                                           \
  "  experiment_id BIGINT NOT NULL REFERENCES experiments(experiment_id),"                 \
  "  name TEXT NOT NULL DEFAULT '',"                                                       \
  "  user_id TEXT NOT NULL DEFAULT '',"                                                    \
  "  status TEXT NOT NULL,"                                                                \
  "  start_time BIGINT NOT NULL,"                                                          \
  "  end_time BIGINT,"                                                                     \
  "  lifecycle_stage TEXT NOT NULL DEFAULT 'active',"                                      \
  "  artifact_uri TEXT NOT NULL,"                                                          \
  "  deleted_time BIGINT);"                                                                \
  "CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time, run_uuid);"         \
  "CREATE TABLE params ("                                                                  \
  "  run_uuid TEXT NOT NULL REFERENCES runs(run_uuid),"                                    \
  "  key TEXT NOT NULL,"                                                                   \
  "  value TEXT NOT NULL,"                                                                 \
  "  PRIMARY KEY (run_uuid, key));"                                                        \
  "CREATE TABLE tags ("                                                                    \
  "  run_uuid TEXT NOT NULL REFERENCES runs(run_uuid),"                                    \
  "  key TEXT NOT NULL,"                                                                   \
  "  value TEXT NOT NULL,"                                                                 \
  "  PRIMARY KEY (run_uuid, key));"                                                        \
  "CREATE TABLE latest_metrics ("                                                          \
  "  series_id " SERIAL_PK ","                                                             \
  "  run_uuid TEXT NOT NULL REFERENCES runs(run_uuid),"                                    \
  "  key TEXT NOT NULL,"                                                                   \
  "  value DOUBLE PRECISION NOT NULL,"                                                     \
  "  timestamp BIGINT NOT NULL,"                                                           \
  "  step BIGINT NOT NULL,"                                                                \
  "  is_nan INTEGER NOT NULL,"                                                             \
  "  UNIQUE (run_uuid, key));"                                                             \
  "CREATE TABLE metrics ("                                                                 \
  "  series_id BIGINT NOT NULL,"                                                           \
  "  step BIGINT NOT NULL,"                                                                \
  "  timestamp BIGINT NOT NULL,"                                                           \
  "  value DOUBLE PRECISION NOT NULL,"                                                     \
  "  is_nan INTEGER NOT NULL,"                                                             \
  "  PRIMARY KEY (series_id, step, timestamp, value, is_nan))" WITHOUT_ROWID ";"           \
  "CREATE TABLE datasets ("                                                                \
  "  dataset_uuid TEXT PRIMARY KEY,"                                                       \
  "  experiment_id BIGINT NOT NULL REFERENCES experiments(experiment_id),"                 \
  "  name TEXT NOT NULL,"                                                                  \
  "  digest TEXT NOT NULL,"                                                                \
  "  source_type TEXT NOT NULL,"                                                           \
  "  source TEXT NOT NULL,"                                                                \
  "  schema TEXT NOT NULL DEFAULT '',"                                                     \
  "  profile TEXT NOT NULL DEFAULT '',"                                                    \
  "  UNIQUE (experiment_id, name, digest));"                                               \
  "CREATE TABLE run_inputs ("                                                              \
  "  run_uuid TEXT NOT NULL REFERENCES runs(run_uuid),"                                    \
  "  dataset_uuid TEXT NOT NULL REFERENCES datasets(dataset_uuid),"                        \
  "  PRIMARY KEY (run_uuid, dataset_uuid));"                                               \
  "CREATE TABLE run_input_tags ("                                                          \
  "  run_uuid TEXT NOT NULL,"                                                              \
  "  dataset_uuid TEXT NOT NULL,"                                                          \
  "  key TEXT NOT NULL,"                                                                   \
  "  value TEXT NOT NULL,"                                                                 \
  "  PRIMARY KEY (run_uuid, dataset_uuid, key));" EXTRA

constexpr std::string_view kV1Sqlite =
    MLFORGE_TRACKING_V1("INTEGER PRIMARY KEY", " WITHOUT ROWID", "");
constexpr std::string_view kV1Postgres = MLFORGE_TRACKING_V1(
    "BIGSERIAL PRIMARY KEY", "", "CREATE SEQUENCE experiments_id_seq START 1;");

#undef MLFORGE_TRACKING_V1

// v2: searches read runs through runs_by_experiment alone (lifecycle_stage
// in the index), and on SQLite the (run_uuid, key) tables become clustered
// on that key (WITHOUT ROWID): one B-tree probe per lookup or upsert instead
// of an index probe plus a table probe. latest_metrics then has no rowid to
// number metric series, so tracking_counters hands out series ids.
// Metric history moves to metric_chunks: one row per log call and key, its
// points packed in a BLOB (see metric_history.h); latest_metrics.chunk_count
// numbers a series' chunks. The v1 metrics table stays, read beside the
// chunks, so an upgraded database keeps every point without a rewrite.
#define MLFORGE_RUNS_INDEX_V2                                                                \
  "DROP INDEX runs_by_experiment;"                                                         \
  "CREATE INDEX runs_by_experiment ON runs (experiment_id, lifecycle_stage, start_time, "  \
  "run_uuid);"

#define MLFORGE_CLUSTER_BY_RUN_AND_KEY(TABLE, COLUMNS, COLUMN_NAMES)                          \
  "CREATE TABLE " TABLE "_v2 (run_uuid TEXT NOT NULL REFERENCES runs(run_uuid),"           \
  "  key TEXT NOT NULL," COLUMNS ", PRIMARY KEY (run_uuid, key)) WITHOUT ROWID;"           \
  "INSERT INTO " TABLE "_v2 (run_uuid, key, " COLUMN_NAMES ") SELECT run_uuid, key, "      \
  COLUMN_NAMES " FROM " TABLE ";"                                                           \
  "DROP TABLE " TABLE ";"                                                                  \
  "ALTER TABLE " TABLE "_v2 RENAME TO " TABLE ";"

constexpr std::string_view kV2Sqlite =
    "CREATE TABLE tracking_counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL) WITHOUT ROWID;"
    "INSERT INTO tracking_counters (name, value) SELECT 'metric_series', "
    "COALESCE(MAX(series_id), 0) + 1 FROM latest_metrics;"  //
    MLFORGE_CLUSTER_BY_RUN_AND_KEY("latest_metrics",
                                   "value DOUBLE PRECISION NOT NULL, timestamp BIGINT NOT NULL,"
                                   "step BIGINT NOT NULL, is_nan INTEGER NOT NULL,"
                                   "series_id BIGINT NOT NULL, chunk_count BIGINT NOT NULL "
                                   "DEFAULT 0",
                                   "value, timestamp, step, is_nan, series_id")
    MLFORGE_CLUSTER_BY_RUN_AND_KEY("params", "value TEXT NOT NULL", "value")
    MLFORGE_CLUSTER_BY_RUN_AND_KEY("tags", "value TEXT NOT NULL", "value")
    MLFORGE_RUNS_INDEX_V2
    "CREATE TABLE metric_chunks (series_id BIGINT NOT NULL, chunk_id BIGINT NOT NULL,"
    "  points BLOB NOT NULL, PRIMARY KEY (series_id, chunk_id)) WITHOUT ROWID;";
constexpr std::string_view kV2Postgres =
    MLFORGE_RUNS_INDEX_V2
    "ALTER TABLE latest_metrics ADD COLUMN chunk_count BIGINT NOT NULL DEFAULT 0;"
    "CREATE TABLE metric_chunks (series_id BIGINT NOT NULL, chunk_id BIGINT NOT NULL,"
    "  points BYTEA NOT NULL, PRIMARY KEY (series_id, chunk_id));";

#undef MLFORGE_CLUSTER_BY_RUN_AND_KEY
#undef MLFORGE_RUNS_INDEX_V2

constexpr sql::Migration kMigrations[] = {
    {.version = 1, .name = "tracking tables", .sql = {}, .sqlite = kV1Sqlite,
     .postgres = kV1Postgres},
    {.version = 2, .name = "search-friendly keys", .sql = {}, .sqlite = kV2Sqlite,
     .postgres = kV2Postgres},
};

}  // namespace

std::span<const sql::Migration> TrackingMigrations() { return kMigrations; }

}  // namespace mlforge::tracking

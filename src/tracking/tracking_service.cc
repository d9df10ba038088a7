// TrackingService over the sql layer. Every public call is one transaction.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>

#include "base/clock.h"
#include "base/ids.h"
#include "base/page_token.h"
#include "blob/blob.h"
#include "sql/sql.h"
#include "tracking/run_names.h"
#include "tracking/schema.h"
#include "tracking/metric_history.h"
#include "tracking/search_filter.h"
#include "tracking/tracking.h"
#include "tracking/validation.h"

namespace mlforge::tracking {
namespace {

constexpr std::string_view kRunNameTag = "mlflow.runName";
constexpr std::string_view kActive = "active";
constexpr std::string_view kDeleted = "deleted";
constexpr std::string_view kDatasetContextTag = "mlflow.data.context";

// MLflow's SQL store keeps NaN as value 0 + is_nan, and clamps ±inf to
// ±DBL_MAX (so clients get 1.7976931348623157e308 back, as from MLflow).
struct StoredMetricValue {
  double value;
  int64_t is_nan;
};
StoredMetricValue ToStored(double v) {
  if (std::isnan(v)) return {0.0, 1};
  if (std::isinf(v)) return {v > 0 ? DBL_MAX : -DBL_MAX, 0};
  return {v, 0};
}
double FromStored(double v, int64_t is_nan) { return is_nan ? std::nan("") : v; }

bool IsValidRunStatus(std::string_view s) {
  return s == "RUNNING" || s == "SCHEDULED" || s == "FINISHED" || s == "FAILED" || s == "KILLED";
}

// Pads an id list to a power-of-two length (repeating the last id, which is
// harmless inside IN) so a handful of statement shapes serve every size and
// stay in the prepared-statement cache.
size_t PaddedSize(size_t n) {
  size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}
std::string InList(size_t n) {
  std::string s = "(";
  for (size_t i = 0; i < n; ++i) s += i ? ",?" : "?";
  s += ")";
  return s;
}
std::vector<sql::Param> PaddedParams(const std::vector<std::string>& ids, size_t begin, size_t end,
                                     size_t padded) {
  std::vector<sql::Param> params;
  params.reserve(padded);
  for (size_t i = begin; i < end; ++i) params.emplace_back(std::string_view(ids[i]));
  while (params.size() < padded) params.emplace_back(std::string_view(ids[end - 1]));
  return params;
}

std::string_view LifecycleCondition(ViewType view) {
  switch (view) {
    case ViewType::kActiveOnly: return " AND lifecycle_stage = 'active'";
    case ViewType::kDeletedOnly: return " AND lifecycle_stage = 'deleted'";
    case ViewType::kAll: return "";
  }
  return "";
}

std::string RunNotFound(std::string_view run_id) {
  return "Run with id=" + Clip(run_id) + " not found";
}
std::string ExperimentNotFound(std::string_view id) {
  return "No Experiment with id=" + Clip(id) + " exists";
}

class TrackingServiceImpl final : public TrackingService {
 public:
  TrackingServiceImpl(sql::Database& db, const Clock& clock, IdGenerator& ids,
                      TrackingOptions options)
      : db_(db), clock_(clock), ids_(ids), options_(std::move(options)) {}

  Status Init() {
    RETURN_IF_ERROR(db_.Migrate("tracking", TrackingMigrations()));
    int64_t now = clock_.NowMillis();
    std::string location = ExperimentArtifactLocation(0);
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      return StatusOf(c
          .Execute(
              "INSERT INTO experiments (experiment_id, name, artifact_location, "
              "lifecycle_stage, creation_time, last_update_time) VALUES (0, 'Default', ?, "
              "'active', ?, ?) ON CONFLICT DO NOTHING",
              {std::string_view(location), now, now}));
    });
  }

  // ---------------------------------------------------------------- experiments

  Result<std::string> CreateExperiment(const CreateExperimentRequest& req) override {
    RETURN_IF_ERROR(ValidateExperimentName(req.name));
    for (const Tag& t : req.tags) RETURN_IF_ERROR(ValidateExperimentTag(t));
    if (!req.artifact_location.empty()) RETURN_IF_ERROR(CheckArtifactLocation(req.artifact_location));
    int64_t now = clock_.NowMillis();
    int64_t id = 0;
    Status s = db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(id, NextExperimentId(c));
      std::string location =
          req.artifact_location.empty() ? ExperimentArtifactLocation(id) : req.artifact_location;
      auto inserted = c.Execute(
          "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
          "creation_time, last_update_time) VALUES (?, ?, ?, 'active', ?, ?)",
          {id, std::string_view(req.name), std::string_view(location), now, now});
      if (!inserted) {
        if (inserted.error().code() == ErrorCode::kResourceAlreadyExists) {
          return AlreadyExists("Experiment(name=" + Clip(req.name) + ") already exists.");
        }
        return inserted.error();
      }
      for (const Tag& t : req.tags) RETURN_IF_ERROR(UpsertExperimentTag(c, id, t));
      return Status::Ok();
    });
    RETURN_IF_ERROR(s);
    return std::to_string(id);
  }

  Result<Experiment> GetExperiment(std::string_view experiment_id) override {
    ASSIGN_OR_RETURN(int64_t id, ParseExperimentId(experiment_id));
    Experiment e;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(e, LoadExperiment(c, id));
      return Status::Ok();
    }));
    return e;
  }

  Result<Experiment> GetExperimentByName(std::string_view name) override {
    Experiment e;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      std::optional<int64_t> id;
      RETURN_IF_ERROR(c.Query("SELECT experiment_id FROM experiments WHERE name = ?",
                              {name}, [&](const sql::Row& r) { id = r.GetInt(0); }));
      if (!id) return NotFound("Could not find experiment with name '" + Clip(name) + "'");
      ASSIGN_OR_RETURN(e, LoadExperiment(c, *id));
      return Status::Ok();
    }));
    return e;
  }

  Result<ExperimentPage> SearchExperiments(const SearchExperimentsRequest& req) override {
    RETURN_IF_ERROR(ValidateMaxResults(req.max_results, kMaxResultsSearchExperiments));
    ASSIGN_OR_RETURN(int64_t offset, DecodePageToken(req.page_token));
    ASSIGN_OR_RETURN(SqlFragment where, CompileExperimentFilter(req.filter, db_.backend()));
    ASSIGN_OR_RETURN(SqlFragment order, CompileExperimentOrderBy(req.order_by, db_.backend()));
    std::string query = "SELECT e.experiment_id FROM experiments e WHERE 1=1";
    query += LifecycleCondition(req.view_type);
    if (!where.sql.empty()) query += " AND (" + where.sql + ")";
    query += " ORDER BY " + order.sql + " LIMIT ? OFFSET ?";
    std::vector<SqlValue> values = where.params;
    values.insert(values.end(), order.params.begin(), order.params.end());
    values.emplace_back(int64_t{req.max_results} + 1);
    values.emplace_back(offset);
    ExperimentPage page;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      page.experiments.clear();
      std::vector<int64_t> ids;
      std::vector<sql::Param> params = BindParams(values);
      RETURN_IF_ERROR(c.Query(query, params, [&](const sql::Row& r) { ids.push_back(r.GetInt(0)); }));
      bool more = ids.size() > static_cast<size_t>(req.max_results);
      if (more) ids.pop_back();
      for (int64_t id : ids) {
        ASSIGN_OR_RETURN(Experiment e, LoadExperiment(c, id));
        page.experiments.push_back(std::move(e));
      }
      page.next_page_token = more ? EncodePageToken(offset + req.max_results) : "";
      return Status::Ok();
    }));
    return page;
  }

  Status DeleteExperiment(std::string_view experiment_id) override {
    return SetExperimentLifecycle(experiment_id, kDeleted);
  }
  Status RestoreExperiment(std::string_view experiment_id) override {
    return SetExperimentLifecycle(experiment_id, kActive);
  }

  Status RenameExperiment(std::string_view experiment_id, std::string_view new_name) override {
    ASSIGN_OR_RETURN(int64_t id, ParseExperimentId(experiment_id));
    RETURN_IF_ERROR(ValidateExperimentName(new_name));
    int64_t now = clock_.NowMillis();
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(std::string stage, ExperimentStage(c, id, experiment_id));
      if (stage != kActive) return InvalidState("Cannot rename a non-active experiment.");
      auto r = c.Execute(
          "UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?",
          {new_name, now, id});
      if (!r && r.error().code() == ErrorCode::kResourceAlreadyExists) {
        return AlreadyExists("Experiment(name=" + Clip(new_name) + ") already exists.");
      }
      return StatusOf(r);
    });
  }

  Status SetExperimentTag(std::string_view experiment_id, const Tag& tag) override {
    ASSIGN_OR_RETURN(int64_t id, ParseExperimentId(experiment_id));
    RETURN_IF_ERROR(ValidateExperimentTag(tag));
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      RETURN_IF_ERROR(RequireActiveExperiment(c, id, experiment_id));
      return UpsertExperimentTag(c, id, tag);
    });
  }

  Status DeleteExperimentTag(std::string_view experiment_id, std::string_view key) override {
    ASSIGN_OR_RETURN(int64_t id, ParseExperimentId(experiment_id));
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      RETURN_IF_ERROR(RequireActiveExperiment(c, id, experiment_id));
      ASSIGN_OR_RETURN(int64_t n, c.Execute("DELETE FROM experiment_tags WHERE experiment_id = ? "
                                            "AND key = ?",
                                            {id, key}));
      if (n == 0) {
        return NotFound("No tag with name: " + Clip(key) + " in experiment with id " +
                        std::string(experiment_id));
      }
      return Status::Ok();
    });
  }

  // ----------------------------------------------------------------------- runs

  Result<Run> CreateRun(const CreateRunRequest& req) override {
    std::string experiment_id_text = req.experiment_id.empty() ? "0" : req.experiment_id;
    ASSIGN_OR_RETURN(int64_t experiment_id, ParseExperimentId(experiment_id_text));
    std::vector<Tag> tags = req.tags;
    for (Tag& t : tags) RETURN_IF_ERROR(ValidateTag(t));
    std::string run_name = req.run_name;
    const Tag* name_tag = nullptr;
    for (const Tag& t : tags) {
      if (t.key == kRunNameTag) name_tag = &t;
    }
    if (name_tag && !run_name.empty() && name_tag->value != run_name) {
      return Err(InvalidArgument(
          "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different "
          "values (run_name='" + Clip(run_name) + "', mlflow.runName='" + Clip(name_tag->value) +
          "')."));
    }
    if (run_name.empty() && name_tag) run_name = name_tag->value;
    if (run_name.empty()) run_name = GenerateRunName(ids_);
    if (run_name.size() > kMaxRunNameLength) {
      return Err(InvalidArgument("Run name '" + Clip(run_name) + "' had length " +
                                 std::to_string(run_name.size()) +
                                 ", which exceeded length limit of " +
                                 std::to_string(kMaxRunNameLength)));
    }
    std::string run_id = ids_.NewHexId();
    int64_t start_time = req.start_time.value_or(clock_.NowMillis());
    Run run;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(Experiment e, LoadExperiment(c, experiment_id));
      if (e.lifecycle_stage != kActive) {
        return InvalidArgument("The experiment " + e.experiment_id +
                               " must be in the 'active' state. Current state is " +
                               e.lifecycle_stage + ".");
      }
      std::string artifact_uri = e.artifact_location + "/" + run_id + "/artifacts";
      RETURN_IF_ERROR(StatusOf(c.Execute("INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, "
                                "start_time, end_time, lifecycle_stage, artifact_uri) VALUES "
                                "(?, ?, ?, ?, 'RUNNING', ?, NULL, 'active', ?)",
                                {std::string_view(run_id), experiment_id, std::string_view(run_name),
                                 std::string_view(req.user_id), start_time,
                                 std::string_view(artifact_uri)})));
      for (const Tag& t : tags) {
        if (t.key != kRunNameTag) RETURN_IF_ERROR(UpsertRunTag(c, run_id, t.key, t.value));
      }
      RETURN_IF_ERROR(UpsertRunTag(c, run_id, kRunNameTag, run_name));
      ASSIGN_OR_RETURN(std::vector<Run> runs, LoadRuns(c, {run_id}));
      run = std::move(runs.front());
      return Status::Ok();
    }));
    return run;
  }

  Result<Run> GetRun(std::string_view run_id) override {
    RETURN_IF_ERROR(ValidateRunIdForLookup(run_id));
    Run run;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(std::vector<Run> runs, LoadRuns(c, {std::string(run_id)}));
      if (runs.empty()) return NotFound(RunNotFound(run_id));
      run = std::move(runs.front());
      return Status::Ok();
    }));
    return run;
  }

  Result<RunInfo> UpdateRun(const UpdateRunRequest& req) override {
    RETURN_IF_ERROR(ValidateRunIdForLookup(req.run_id));
    if (req.status && !IsValidRunStatus(*req.status)) {
      return Err(InvalidArgument("Invalid run status: '" + Clip(*req.status) +
                                 "'. Expected one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED."));
    }
    if (req.run_name && req.run_name->size() > kMaxRunNameLength) {
      return Err(InvalidArgument("Run name '" + Clip(*req.run_name) +
                                 "' exceeded length limit of " + std::to_string(kMaxRunNameLength)));
    }
    RunInfo info;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      RETURN_IF_ERROR(RequireActiveRun(c, req.run_id));
      if (req.status) {
        RETURN_IF_ERROR(StatusOf(c.Execute("UPDATE runs SET status = ? WHERE run_uuid = ?",
                                  {std::string_view(*req.status), std::string_view(req.run_id)})));
      }
      if (req.end_time) {
        RETURN_IF_ERROR(StatusOf(c.Execute("UPDATE runs SET end_time = ? WHERE run_uuid = ?",
                                  {*req.end_time, std::string_view(req.run_id)})));
      }
      if (req.run_name && !req.run_name->empty()) {
        RETURN_IF_ERROR(SetRunName(c, req.run_id, *req.run_name));
      }
      ASSIGN_OR_RETURN(std::vector<Run> runs, LoadRuns(c, {req.run_id}, /*info_only=*/true));
      info = std::move(runs.front().info);
      return Status::Ok();
    }));
    return info;
  }

  Status DeleteRun(std::string_view run_id) override {
    RETURN_IF_ERROR(ValidateRunIdForLookup(run_id));
    int64_t now = clock_.NowMillis();
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(int64_t n, c.Execute("UPDATE runs SET lifecycle_stage = 'deleted', "
                                            "deleted_time = ? WHERE run_uuid = ?",
                                            {now, run_id}));
      if (n == 0) return NotFound(RunNotFound(run_id));
      return Status::Ok();
    });
  }

  Status RestoreRun(std::string_view run_id) override {
    RETURN_IF_ERROR(ValidateRunIdForLookup(run_id));
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(int64_t n, c.Execute("UPDATE runs SET lifecycle_stage = 'active', "
                                            "deleted_time = NULL WHERE run_uuid = ?",
                                            {run_id}));
      if (n == 0) return NotFound(RunNotFound(run_id));
      return Status::Ok();
    });
  }

  Result<RunPage> SearchRuns(const SearchRunsRequest& req) override {
    RETURN_IF_ERROR(ValidateMaxResults(req.max_results, kMaxResultsSearchRuns));
    ASSIGN_OR_RETURN(int64_t offset, DecodePageToken(req.page_token));
    std::vector<int64_t> experiment_ids;
    for (const std::string& id : req.experiment_ids) {
      // An id that cannot exist matches no run, as in MLflow.
      if (auto parsed = ParseExperimentId(id)) experiment_ids.push_back(*parsed);
    }
    RunPage page;
    if (experiment_ids.empty()) return page;
    ASSIGN_OR_RETURN(RunSearchSql search, CompileRunSearch(req.filter, req.order_by, db_.backend()));

    size_t padded = PaddedSize(experiment_ids.size());
    std::string query = "SELECT r.run_uuid FROM runs r" + search.joins.sql +
                        " WHERE r.experiment_id IN " + InList(padded);
    query += LifecycleCondition(req.run_view_type);
    if (!search.where.sql.empty()) query += " AND " + search.where.sql;
    query += " ORDER BY " + search.order_by.sql + " LIMIT ? OFFSET ?";
    std::vector<SqlValue> values = std::move(search.joins.params);
    for (size_t i = 0; i < padded; ++i) {
      values.emplace_back(experiment_ids[std::min(i, experiment_ids.size() - 1)]);
    }
    values.insert(values.end(), search.where.params.begin(), search.where.params.end());
    values.insert(values.end(), search.order_by.params.begin(), search.order_by.params.end());
    values.emplace_back(int64_t{req.max_results} + 1);
    values.emplace_back(offset);

    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      std::vector<std::string> ids;
      std::vector<sql::Param> params = BindParams(values);
      RETURN_IF_ERROR(c.Query(query, params, [&](const sql::Row& r) {
        ids.emplace_back(r.GetText(0));
      }));
      bool more = ids.size() > static_cast<size_t>(req.max_results);
      if (more) ids.pop_back();
      ASSIGN_OR_RETURN(page.runs, LoadRuns(c, ids));
      page.next_page_token = more ? EncodePageToken(offset + req.max_results) : "";
      return Status::Ok();
    }));
    return page;
  }

  // ------------------------------------------------------------------- run data

  Status LogMetric(std::string_view run_id, const Metric& metric) override {
    RETURN_IF_ERROR(ValidateRunIdForLookup(run_id));
    RETURN_IF_ERROR(ValidateMetric(metric));
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      RETURN_IF_ERROR(RequireActiveRun(c, run_id));
      return InsertMetrics(c, run_id, std::span<const Metric>(&metric, 1));
    });
  }

  Status LogParam(std::string_view run_id, const Param& param_in) override {
    RETURN_IF_ERROR(ValidateRunIdForLookup(run_id));
    Param param = param_in;
    RETURN_IF_ERROR(ValidateParam(param));
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      RETURN_IF_ERROR(RequireActiveRun(c, run_id));
      return InsertParam(c, run_id, param);
    });
  }

  Status SetTag(std::string_view run_id, const Tag& tag_in) override {
    RETURN_IF_ERROR(ValidateRunIdForLookup(run_id));
    Tag tag = tag_in;
    RETURN_IF_ERROR(ValidateTag(tag));
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      RETURN_IF_ERROR(RequireActiveRun(c, run_id));
      return SetRunTag(c, run_id, tag);
    });
  }

  Status DeleteTag(std::string_view run_id, std::string_view key) override {
    RETURN_IF_ERROR(ValidateRunIdForLookup(run_id));
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      RETURN_IF_ERROR(RequireActiveRun(c, run_id));
      ASSIGN_OR_RETURN(int64_t n, c.Execute("DELETE FROM tags WHERE run_uuid = ? AND key = ?",
                                            {run_id, key}));
      if (n == 0) {
        return NotFound("No tag with name: " + Clip(key) + " in run with id " + Clip(run_id));
      }
      return Status::Ok();
    });
  }

  Status LogBatch(std::string_view run_id, std::span<const Metric> metrics,
                  std::span<const Param> params_in, std::span<const Tag> tags_in) override {
    RETURN_IF_ERROR(ValidateRunIdForLookup(run_id));
    // MLflow's order: item validation, then batch limits, then duplicate params.
    std::vector<Param> params(params_in.begin(), params_in.end());
    std::vector<Tag> tags(tags_in.begin(), tags_in.end());
    for (const Metric& m : metrics) RETURN_IF_ERROR(ValidateMetric(m));
    for (Param& p : params) RETURN_IF_ERROR(ValidateParam(p));
    for (Tag& t : tags) RETURN_IF_ERROR(ValidateTag(t));
    RETURN_IF_ERROR(ValidateBatchLimits(metrics, params, tags));
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      RETURN_IF_ERROR(RequireActiveRun(c, run_id));
      for (const Param& p : params) RETURN_IF_ERROR(InsertParam(c, run_id, p));
      for (const Tag& t : tags) RETURN_IF_ERROR(SetRunTag(c, run_id, t));
      return InsertMetrics(c, run_id, metrics);
    });
  }

  Status LogInputs(std::string_view run_id, std::span<const DatasetInput> inputs) override {
    RETURN_IF_ERROR(ValidateRunIdForLookup(run_id));
    for (const DatasetInput& in : inputs) RETURN_IF_ERROR(ValidateDatasetInput(in));
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      RETURN_IF_ERROR(RequireActiveRun(c, run_id));
      std::optional<int64_t> experiment_id;
      RETURN_IF_ERROR(c.Query("SELECT experiment_id FROM runs WHERE run_uuid = ?", {run_id},
                              [&](const sql::Row& r) { experiment_id = r.GetInt(0); }));
      for (const DatasetInput& in : inputs) {
        const Dataset& d = in.dataset;
        std::string dataset_uuid;
        RETURN_IF_ERROR(c.Query("SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND "
                                "name = ? AND digest = ?",
                                {*experiment_id, std::string_view(d.name), std::string_view(d.digest)},
                                [&](const sql::Row& r) { dataset_uuid = r.GetText(0); }));
        if (dataset_uuid.empty()) {
          dataset_uuid = ids_.NewHexId();
          RETURN_IF_ERROR(StatusOf(c.Execute("INSERT INTO datasets (dataset_uuid, experiment_id, name, "
                                    "digest, source_type, source, schema, profile) VALUES "
                                    "(?, ?, ?, ?, ?, ?, ?, ?)",
                                    {std::string_view(dataset_uuid), *experiment_id,
                                     std::string_view(d.name), std::string_view(d.digest),
                                     std::string_view(d.source_type), std::string_view(d.source),
                                     std::string_view(d.schema), std::string_view(d.profile)})));
        }
        RETURN_IF_ERROR(StatusOf(c.Execute("INSERT INTO run_inputs (run_uuid, dataset_uuid) VALUES (?, ?) "
                                  "ON CONFLICT DO NOTHING",
                                  {run_id, std::string_view(dataset_uuid)})));
        for (const Tag& t : in.tags) {
          RETURN_IF_ERROR(StatusOf(c.Execute("INSERT INTO run_input_tags (run_uuid, dataset_uuid, key, "
                                    "value) VALUES (?, ?, ?, ?) ON CONFLICT (run_uuid, "
                                    "dataset_uuid, key) DO UPDATE SET value = excluded.value",
                                    {run_id, std::string_view(dataset_uuid),
                                     std::string_view(t.key), std::string_view(t.value)})));
        }
      }
      return Status::Ok();
    });
  }

  Result<MetricHistoryPage> GetMetricHistory(const MetricHistoryRequest& req) override {
    RETURN_IF_ERROR(ValidateRunIdForLookup(req.run_id));
    if (req.metric_key.empty()) return Err(InvalidArgument("Missing value for required parameter 'metric_key'."));
    if (req.max_results < 0 || req.max_results > kMaxResultsMetricHistory) {
      return Err(InvalidArgument("Invalid value " + std::to_string(req.max_results) +
                                 " for parameter 'max_results'."));
    }
    ASSIGN_OR_RETURN(int64_t offset, DecodePageToken(req.page_token));
    MetricHistoryPage page;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      page.metrics.clear();  // an unknown run or key has an empty history, as in MLflow
      std::optional<int64_t> series;
      RETURN_IF_ERROR(c.Query("SELECT series_id FROM latest_metrics WHERE run_uuid = ? AND key = ?",
                              {std::string_view(req.run_id), std::string_view(req.metric_key)},
                              [&](const sql::Row& r) { series = r.GetInt(0); }));
      if (!series) return Status::Ok();
      ASSIGN_OR_RETURN(std::vector<HistoryPoint> points, LoadHistory(c, *series));
      // One page: [offset, offset + max_results), plus one to tell if more follow.
      size_t begin = std::min(points.size(), static_cast<size_t>(offset));
      size_t end = req.max_results > 0
                       ? std::min(points.size(), begin + static_cast<size_t>(req.max_results) + 1)
                       : points.size();
      page.metrics.reserve(end - begin);
      for (size_t i = begin; i < end; ++i) {
        page.metrics.push_back(ToMetric(req.metric_key, points[i]));
      }
      if (req.max_results > 0 && page.metrics.size() > static_cast<size_t>(req.max_results)) {
        page.metrics.pop_back();
        page.next_page_token = EncodePageToken(offset + req.max_results);
      }
      return Status::Ok();
    }));
    return page;
  }

  Result<std::vector<MetricWithRunId>> GetMetricHistoryBulkInterval(
      const BulkIntervalRequest& req) override {
    if (req.run_ids.empty()) {
      return Err(InvalidArgument("Missing value for required parameter 'run_ids'."));
    }
    if (req.run_ids.size() > 100) {
      return Err(InvalidArgument(
          "GetMetricHistoryBulkInterval request must specify at most 100 run_ids. Received " +
          std::to_string(req.run_ids.size()) + " run_ids."));
    }
    if (req.metric_key.empty()) {
      return Err(InvalidArgument("Missing value for required parameter 'metric_key'."));
    }
    if (req.max_results < 1 || req.max_results > 2500) {
      return Err(InvalidArgument("max_results must be between 1 and 2500."));
    }
    if (req.start_step.has_value() != req.end_step.has_value()) {
      return Err(InvalidArgument(
          "If either start step or end step are specified, both must be specified."));
    }
    if (req.start_step && *req.start_step > *req.end_step) {
      return Err(InvalidArgument("end_step must be greater than start_step. Found start_step=" +
                                 std::to_string(*req.start_step) + " and end_step=" +
                                 std::to_string(*req.end_step) + "."));
    }
    for (const std::string& id : req.run_ids) RETURN_IF_ERROR(ValidateRunIdForLookup(id));
    std::vector<MetricWithRunId> out;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      out.clear();
      // Every run's points, ordered by step, timestamp, value.
      std::vector<std::vector<Metric>> per_run(req.run_ids.size());
      std::set<int64_t> all_steps;
      for (size_t i = 0; i < req.run_ids.size(); ++i) {
        std::optional<int64_t> series;
        RETURN_IF_ERROR(
            c.Query("SELECT series_id FROM latest_metrics WHERE run_uuid = ? AND key = ?",
                    {std::string_view(req.run_ids[i]), std::string_view(req.metric_key)},
                    [&](const sql::Row& r) { series = r.GetInt(0); }));
        if (!series) continue;
        ASSIGN_OR_RETURN(std::vector<HistoryPoint> points, LoadHistory(c, *series));
        per_run[i].reserve(points.size());
        for (const HistoryPoint& p : points) {
          per_run[i].push_back(ToMetric(req.metric_key, p));
          all_steps.insert(p.step);
        }
      }
      // MLflow's sampling: without a range, steps 0..max; evenly spaced
      // steps of the union plus its last one.
      int64_t lo = req.start_step.value_or(0);
      int64_t hi = req.end_step.value_or(all_steps.empty() ? 0 : *all_steps.rbegin());
      std::vector<int64_t> in_range(all_steps.lower_bound(lo), all_steps.upper_bound(hi));
      std::set<int64_t> sampled;
      if (in_range.size() <= static_cast<size_t>(req.max_results)) {
        sampled.insert(in_range.begin(), in_range.end());
      } else {
        double interval = double(in_range.size()) / double(req.max_results);
        for (int i = 0; i < req.max_results; ++i) {
          size_t idx = static_cast<size_t>(i * interval);
          if (idx < in_range.size()) sampled.insert(in_range[idx]);
        }
        sampled.insert(in_range.back());
      }
      // Each run's own first and last step, when inside the range.
      for (const std::vector<Metric>& points : per_run) {
        if (points.empty()) continue;
        for (int64_t step : {points.front().step, points.back().step}) {
          if (step >= lo && step <= hi) sampled.insert(step);
        }
      }
      for (size_t i = 0; i < req.run_ids.size(); ++i) {
        for (Metric& m : per_run[i]) {
          if (sampled.count(m.step)) out.push_back(MetricWithRunId{std::move(m), req.run_ids[i]});
        }
      }
      return Status::Ok();
    }));
    return out;
  }

 private:
  // ---------------------------------------------------------------- helpers

  std::string ExperimentArtifactLocation(int64_t id) const {
    return options_.artifact_root + "/" + std::to_string(id);
  }

  // Only locations inside the server's own artifact store are accepted: the
  // server must never be told to write to a path or URL a client chose.
  Status CheckArtifactLocation(std::string_view location) const {
    std::string_view root = options_.artifact_root;
    if (location.substr(0, root.size()) == root && location.size() > root.size() + 1 &&
        location[root.size()] == '/') {
      auto normalized = blob::NormalizeRelativePath(location.substr(root.size() + 1));
      if (normalized) return Status::Ok();
    }
    return InvalidArgument("Invalid artifact_location '" + Clip(location) +
                           "': the server manages artifact locations; omit it, or give a "
                           "location under '" + std::string(root) + "/'.");
  }

  Result<int64_t> NextExperimentId(sql::Connection& c) {
    int64_t id = 0;
    if (c.backend() == sql::Backend::kPostgres) {
      // Writers run concurrently on PostgreSQL: only a sequence hands out unique ids.
      RETURN_IF_ERROR(c.Query("SELECT nextval('experiments_id_seq')", {},
                              [&](const sql::Row& r) { id = r.GetInt(0); }));
    } else {
      RETURN_IF_ERROR(c.Query("SELECT COALESCE(MAX(experiment_id), 0) + 1 FROM experiments", {},
                              [&](const sql::Row& r) { id = r.GetInt(0); }));
    }
    return id;
  }

  Result<Experiment> LoadExperiment(sql::Connection& c, int64_t id) {
    std::optional<Experiment> e;
    RETURN_IF_ERROR(c.Query("SELECT experiment_id, name, artifact_location, lifecycle_stage, "
                            "creation_time, last_update_time FROM experiments WHERE "
                            "experiment_id = ?",
                            {id}, [&](const sql::Row& r) {
                              e.emplace();
                              e->experiment_id = std::to_string(r.GetInt(0));
                              e->name = r.GetText(1);
                              e->artifact_location = r.GetText(2);
                              e->lifecycle_stage = r.GetText(3);
                              e->creation_time = r.GetInt(4);
                              e->last_update_time = r.GetInt(5);
                            }));
    if (!e) return Err(NotFound(ExperimentNotFound(std::to_string(id))));
    RETURN_IF_ERROR(c.Query("SELECT key, value FROM experiment_tags WHERE experiment_id = ? "
                            "ORDER BY key",
                            {id}, [&](const sql::Row& r) {
                              e->tags.push_back(Tag{std::string(r.GetText(0)), std::string(r.GetText(1))});
                            }));
    return std::move(*e);
  }

  Result<std::string> ExperimentStage(sql::Connection& c, int64_t id, std::string_view id_text) {
    std::optional<std::string> stage;
    RETURN_IF_ERROR(c.Query("SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?", {id},
                            [&](const sql::Row& r) { stage = std::string(r.GetText(0)); }));
    if (!stage) return Err(NotFound(ExperimentNotFound(id_text)));
    return *stage;
  }

  Status RequireActiveExperiment(sql::Connection& c, int64_t id, std::string_view id_text) {
    ASSIGN_OR_RETURN(std::string stage, ExperimentStage(c, id, id_text));
    if (stage != kActive) {
      return InvalidArgument("The experiment " + std::string(id_text) +
                             " must be in the 'active' state. Current state is " + stage + ".");
    }
    return Status::Ok();
  }

  Status SetExperimentLifecycle(std::string_view experiment_id, std::string_view stage) {
    ASSIGN_OR_RETURN(int64_t id, ParseExperimentId(experiment_id));
    int64_t now = clock_.NowMillis();
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(std::string current, ExperimentStage(c, id, experiment_id));
      // As MLflow: only an active experiment can be deleted, only a deleted one restored.
      if (current == stage) return NotFound(ExperimentNotFound(experiment_id));
      RETURN_IF_ERROR(StatusOf(c.Execute("UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? "
                                "WHERE experiment_id = ?",
                                {stage, now, id})));
      // As MLflow: the experiment's runs follow it into (and out of) deletion.
      if (stage == kDeleted) {
        return StatusOf(c.Execute("UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? WHERE "
                         "experiment_id = ? AND lifecycle_stage = 'active'",
                         {now, id}));
      }
      return StatusOf(c.Execute("UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE "
                       "experiment_id = ? AND lifecycle_stage = 'deleted'",
                       {id}));
    });
  }

  Status UpsertExperimentTag(sql::Connection& c, int64_t id, const Tag& t) {
    return StatusOf(c
        .Execute("INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) ON "
                 "CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
                 {id, std::string_view(t.key), std::string_view(t.value)}));
  }

  // Run ids are only looked up, never interpolated; a malformed one simply
  // names no run, as in MLflow.
  static Status ValidateRunIdForLookup(std::string_view run_id) {
    if (run_id.empty()) return InvalidArgument("Missing value for required parameter 'run_id'.");
    if (run_id.size() > 256) return NotFound(RunNotFound(run_id));
    return Status::Ok();
  }

  Status RequireActiveRun(sql::Connection& c, std::string_view run_id) {
    std::optional<std::string> stage;
    RETURN_IF_ERROR(c.Query("SELECT lifecycle_stage FROM runs WHERE run_uuid = ?", {run_id},
                            [&](const sql::Row& r) { stage = std::string(r.GetText(0)); }));
    if (!stage) return NotFound(RunNotFound(run_id));
    if (*stage != kActive) {
      return InvalidArgument("The run " + std::string(run_id) +
                             " must be in the 'active' state. Current state is " + *stage + ".");
    }
    return Status::Ok();
  }

  Status UpsertRunTag(sql::Connection& c, std::string_view run_id, std::string_view key,
                      std::string_view value) {
    return StatusOf(c
        .Execute("INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?) ON CONFLICT "
                 "(run_uuid, key) DO UPDATE SET value = excluded.value",
                 {run_id, key, value}));
  }

  // The run name lives in runs.name and in the mlflow.runName tag; keep both.
  Status SetRunName(sql::Connection& c, std::string_view run_id, std::string_view name) {
    RETURN_IF_ERROR(
        StatusOf(c.Execute("UPDATE runs SET name = ? WHERE run_uuid = ?", {name, run_id})));
    return UpsertRunTag(c, run_id, kRunNameTag, name);
  }

  Status SetRunTag(sql::Connection& c, std::string_view run_id, const Tag& t) {
    if (t.key == kRunNameTag) return SetRunName(c, run_id, t.value);
    return UpsertRunTag(c, run_id, t.key, t.value);
  }

  Status InsertParam(sql::Connection& c, std::string_view run_id, const Param& p) {
    ASSIGN_OR_RETURN(int64_t n, c.Execute("INSERT INTO params (run_uuid, key, value) VALUES "
                                          "(?, ?, ?) ON CONFLICT (run_uuid, key) DO NOTHING",
                                          {run_id, std::string_view(p.key),
                                           std::string_view(p.value)}));
    if (n == 1) return Status::Ok();
    std::string existing;
    RETURN_IF_ERROR(c.Query("SELECT value FROM params WHERE run_uuid = ? AND key = ?",
                            {run_id, std::string_view(p.key)},
                            [&](const sql::Row& r) { existing = r.GetText(0); }));
    if (existing == p.value) return Status::Ok();  // same value again is fine
    return InvalidArgument("Changing param values is not allowed. Param with key='" + Clip(p.key) +
                           "' was already logged with value='" + Clip(existing) +
                           "' for run ID='" + std::string(run_id) +
                           "'. Attempted logging new value '" + Clip(p.value) + "'.");
  }

  // Appends metric points and advances each key's latest value. Per key,
  // only the batch's newest point competes with the stored latest one, and
  // the key's points become one history chunk.
  Status InsertMetrics(sql::Connection& c, std::string_view run_id, std::span<const Metric> metrics) {
    if (metrics.empty()) return Status::Ok();
    struct KeyBatch {
      const Metric* newest;
      StoredMetricValue newest_stored;
      std::string chunk;
    };
    std::vector<std::pair<std::string_view, KeyBatch>> keys;  // in first-seen order
    std::unordered_map<std::string_view, size_t> index;
    for (const Metric& m : metrics) {
      StoredMetricValue v = ToStored(m.value);
      auto [it, inserted] = index.try_emplace(m.key, keys.size());
      if (inserted) keys.emplace_back(m.key, KeyBatch{&m, v, {}});
      KeyBatch& batch = keys[it->second].second;
      if (!inserted && std::tie(m.step, m.timestamp, v.value) >
                           std::tie(batch.newest->step, batch.newest->timestamp,
                                    batch.newest_stored.value)) {
        batch.newest = &m;
        batch.newest_stored = v;
      }
      AppendToChunk({m.step, m.timestamp, v.is_nan ? std::nan("") : v.value}, batch.chunk);
    }
    for (auto& [key, batch] : keys) {
      ASSIGN_OR_RETURN(SeriesChunk next,
                       UpsertLatestMetric(c, run_id, key, *batch.newest, batch.newest_stored));
      RETURN_IF_ERROR(StatusOf(c.Execute(
          "INSERT INTO metric_chunks (series_id, chunk_id, points) VALUES (?, ?, ?)",
          {next.series_id, next.chunk_id, sql::Blob{batch.chunk}})));
    }
    return Status::Ok();
  }

  // A series' stored history (v2 chunks, and v1 rows of an upgraded
  // database) in MLflow's order, exact duplicates removed.
  Result<std::vector<HistoryPoint>> LoadHistory(sql::Connection& c, int64_t series_id) {
    std::vector<HistoryPoint> points;
    Status decoded;
    RETURN_IF_ERROR(c.Query("SELECT points FROM metric_chunks WHERE series_id = ? ORDER BY chunk_id",
                            {series_id}, [&](const sql::Row& r) {
                              if (decoded.ok()) decoded = DecodeChunk(r.GetBlob(0), points);
                            }));
    RETURN_IF_ERROR(decoded);
    RETURN_IF_ERROR(c.Query("SELECT step, timestamp, value, is_nan FROM metrics WHERE series_id = ?",
                            {series_id}, [&](const sql::Row& r) {
                              points.push_back({r.GetInt(0), r.GetInt(1),
                                                FromStored(r.GetDouble(2), r.GetInt(3))});
                            }));
    SortAndDedupHistory(points);
    return points;
  }

  static Metric ToMetric(std::string_view key, const HistoryPoint& p) {
    return Metric{std::string(key), p.value, p.timestamp, p.step};
  }

  struct SeriesChunk {
    int64_t series_id = 0;
    int64_t chunk_id = 0;  // the number of this call's history chunk
  };

  // Makes `m` the run's latest value of `key` when (step, timestamp, value)
  // is strictly newer than the stored one, and takes the series' next chunk
  // number. PostgreSQL numbers series with a sequence. SQLite's
  // latest_metrics is clustered on (run_uuid, key) with no rowid, so a new
  // series takes the id in tracking_counters, which then advances (writers
  // are serialized there).
  Result<SeriesChunk> UpsertLatestMetric(sql::Connection& c, std::string_view run_id,
                                         std::string_view key, const Metric& m,
                                         const StoredMetricValue& v) {
    static const std::string newer =
        "(excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step AND "
        "(excluded.timestamp > latest_metrics.timestamp OR (excluded.timestamp = "
        "latest_metrics.timestamp AND excluded.value > latest_metrics.value))))";
    static const std::string on_conflict =
        " ON CONFLICT (run_uuid, key) DO UPDATE SET "
        "value = CASE WHEN " + newer + " THEN excluded.value ELSE latest_metrics.value END, "
        "timestamp = CASE WHEN " + newer + " THEN excluded.timestamp ELSE "
        "latest_metrics.timestamp END, "
        "step = CASE WHEN " + newer + " THEN excluded.step ELSE latest_metrics.step END, "
        "is_nan = CASE WHEN " + newer + " THEN excluded.is_nan ELSE latest_metrics.is_nan END, "
        "chunk_count = latest_metrics.chunk_count + 1 "
        "RETURNING series_id, chunk_count";
    static const std::string postgres_upsert =
        "INSERT INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan, chunk_count) "
        "VALUES (?, ?, ?, ?, ?, ?, 1)" + on_conflict;
    static const std::string sqlite_upsert =
        "INSERT INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan, chunk_count, "
        "series_id) VALUES (?, ?, ?, ?, ?, ?, 1, (SELECT value FROM tracking_counters WHERE "
        "name = 'metric_series'))" + on_conflict;
    const bool sqlite = db_.backend() == sql::Backend::kSqlite;
    SeriesChunk out;
    RETURN_IF_ERROR(c.Query(sqlite ? sqlite_upsert : postgres_upsert,
                            {run_id, key, v.value, m.timestamp, m.step, v.is_nan},
                            [&](const sql::Row& r) {
                              out.series_id = r.GetInt(0);
                              out.chunk_id = r.GetInt(1);
                            }));
    if (out.series_id == 0) return Err(Internal("metric series id missing after upsert"));
    if (sqlite && out.chunk_id == 1) {
      // A new series took the counter's id: advance it (a series whose first
      // chunk came from an upgraded v1 database has a lower id, so no match).
      RETURN_IF_ERROR(StatusOf(c.Execute(
          "UPDATE tracking_counters SET value = value + 1 WHERE name = 'metric_series' AND "
          "value = ?",
          {out.series_id})));
    }
    return out;
  }


  static Status ValidateDatasetInput(const DatasetInput& in) {
    const Dataset& d = in.dataset;
    auto require = [](std::string_view field, std::string_view value, size_t limit) -> Status {
      if (value.empty()) {
        return InvalidArgument("Missing value for required parameter 'datasets." +
                               std::string(field) + "'.");
      }
      if (value.size() > limit) {
        return InvalidArgument("Dataset " + std::string(field) + " exceeds the maximum length of " +
                               std::to_string(limit));
      }
      return Status::Ok();
    };
    RETURN_IF_ERROR(require("name", d.name, 500));
    RETURN_IF_ERROR(require("digest", d.digest, 36));
    RETURN_IF_ERROR(require("source_type", d.source_type, 500));
    RETURN_IF_ERROR(require("source", d.source, 65535));
    if (d.schema.size() > 1048575) return InvalidArgument("Dataset schema exceeds the maximum length of 1048575");
    if (d.profile.size() > 16777215) return InvalidArgument("Dataset profile exceeds the maximum length of 16777215");
    for (const Tag& t : in.tags) {
      if (t.key.empty() || t.key.size() > 255) {
        return InvalidArgument("Input tag key must be non-empty and at most 255 characters");
      }
      if (t.value.size() > 500) {
        return InvalidArgument("Input tag value exceeds the maximum length of 500");
      }
    }
    return Status::Ok();
  }

  // Loads runs by id, in the order given; unknown ids are skipped.
  Result<std::vector<Run>> LoadRuns(sql::Connection& c, const std::vector<std::string>& ids,
                                    bool info_only = false) {
    std::vector<Run> runs;
    if (ids.empty()) return runs;
    std::unordered_map<std::string, size_t> index;
    std::vector<Run> loaded;
    constexpr size_t kChunk = 512;
    for (size_t begin = 0; begin < ids.size(); begin += kChunk) {
      size_t end = std::min(ids.size(), begin + kChunk);
      size_t padded = PaddedSize(end - begin);
      std::vector<sql::Param> params = PaddedParams(ids, begin, end, padded);
      std::string in = InList(padded);
      RETURN_IF_ERROR(c.Query(
          "SELECT run_uuid, name, experiment_id, user_id, status, start_time, end_time, "
          "artifact_uri, lifecycle_stage FROM runs WHERE run_uuid IN " + in,
          params, [&](const sql::Row& r) {
            std::string id(r.GetText(0));
            if (index.count(id)) return;
            Run run;
            run.info.run_id = id;
            run.info.run_name = r.GetText(1);
            run.info.experiment_id = std::to_string(r.GetInt(2));
            run.info.user_id = r.GetText(3);
            run.info.status = r.GetText(4);
            run.info.start_time = r.GetInt(5);
            if (!r.IsNull(6)) run.info.end_time = r.GetInt(6);
            run.info.artifact_uri = r.GetText(7);
            run.info.lifecycle_stage = r.GetText(8);
            index.emplace(std::move(id), loaded.size());
            loaded.push_back(std::move(run));
          }));
      if (info_only) continue;
      auto find = [&](std::string_view id) -> Run* {
        auto it = index.find(std::string(id));
        return it == index.end() ? nullptr : &loaded[it->second];
      };
      RETURN_IF_ERROR(c.Query("SELECT run_uuid, key, value FROM params WHERE run_uuid IN " + in +
                                  " ORDER BY run_uuid, key",
                              params, [&](const sql::Row& r) {
                                if (Run* run = find(r.GetText(0))) {
                                  run->params.push_back(
                                      Param{std::string(r.GetText(1)), std::string(r.GetText(2))});
                                }
                              }));
      RETURN_IF_ERROR(c.Query("SELECT run_uuid, key, value FROM tags WHERE run_uuid IN " + in +
                                  " ORDER BY run_uuid, key",
                              params, [&](const sql::Row& r) {
                                if (Run* run = find(r.GetText(0))) {
                                  run->tags.push_back(
                                      Tag{std::string(r.GetText(1)), std::string(r.GetText(2))});
                                }
                              }));
      RETURN_IF_ERROR(c.Query("SELECT run_uuid, key, value, timestamp, step, is_nan FROM "
                              "latest_metrics WHERE run_uuid IN " + in + " ORDER BY run_uuid, key",
                              params, [&](const sql::Row& r) {
                                if (Run* run = find(r.GetText(0))) {
                                  run->metrics.push_back(Metric{
                                      std::string(r.GetText(1)),
                                      FromStored(r.GetDouble(2), r.GetInt(5)), r.GetInt(3),
                                      r.GetInt(4)});
                                }
                              }));
      RETURN_IF_ERROR(c.Query(
          "SELECT i.run_uuid, d.dataset_uuid, d.name, d.digest, d.source_type, d.source, "
          "d.schema, d.profile FROM run_inputs i JOIN datasets d ON d.dataset_uuid = "
          "i.dataset_uuid WHERE i.run_uuid IN " + in + " ORDER BY i.run_uuid, d.name, d.digest",
          params, [&](const sql::Row& r) {
            if (Run* run = find(r.GetText(0))) {
              DatasetInput in_row;
              in_row.dataset = Dataset{std::string(r.GetText(2)), std::string(r.GetText(3)),
                                       std::string(r.GetText(4)), std::string(r.GetText(5)),
                                       std::string(r.GetText(6)), std::string(r.GetText(7))};
              run->inputs.push_back(std::move(in_row));
            }
          }));
      RETURN_IF_ERROR(c.Query(
          "SELECT t.run_uuid, d.name, d.digest, t.key, t.value FROM run_input_tags t JOIN "
          "datasets d ON d.dataset_uuid = t.dataset_uuid WHERE t.run_uuid IN " + in +
              " ORDER BY t.run_uuid, t.key",
          params, [&](const sql::Row& r) {
            Run* run = find(r.GetText(0));
            if (!run) return;
            for (DatasetInput& di : run->inputs) {
              if (di.dataset.name == r.GetText(1) && di.dataset.digest == r.GetText(2)) {
                di.tags.push_back(Tag{std::string(r.GetText(3)), std::string(r.GetText(4))});
              }
            }
          }));
    }
    runs.reserve(ids.size());
    std::set<std::string_view> emitted;
    for (const std::string& id : ids) {
      auto it = index.find(id);
      if (it == index.end() || !emitted.insert(id).second) continue;
      runs.push_back(std::move(loaded[it->second]));
    }
    return runs;
  }

  sql::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  const TrackingOptions options_;
};

}  // namespace

Result<std::unique_ptr<TrackingService>> TrackingService::Open(sql::Database& db,
                                                               const Clock& clock,
                                                               IdGenerator& ids,
                                                               TrackingOptions options) {
  auto service = std::make_unique<TrackingServiceImpl>(db, clock, ids, std::move(options));
  RETURN_IF_ERROR(service->Init());
  return std::unique_ptr<TrackingService>(std::move(service));
}

}  // namespace mlforge::tracking

// MonitorStore on src/sql (component "monitor"); layout in docs/monitoring.md.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/json.h"
#include "base/page_token.h"
#include "monitor/live_internal.h"
#include "monitor/monitor.h"
#include "sql/sql.h"

namespace mlforge::monitor {
namespace {

// Configs, results, references are read and written whole, so they are JSON
// in one column. Labels are keyed by (deployment, request id); predictions
// (first output per row) are appended in chunks, one row per chunk, and a
// label copies its prediction in when it is matched (see v2).
// clang-format off
constexpr std::string_view kV1 =
    "CREATE TABLE monitors ("
    "  deployment TEXT PRIMARY KEY,"
    "  config_json TEXT NOT NULL,"
    "  creation_time BIGINT NOT NULL,"
    "  last_updated_time BIGINT NOT NULL);"
    "CREATE TABLE monitor_references ("
    "  ref_key TEXT PRIMARY KEY,"
    "  profile_json TEXT NOT NULL,"
    "  creation_time BIGINT NOT NULL);"
    "CREATE TABLE monitor_results ("
    "  deployment TEXT NOT NULL,"
    "  window_start BIGINT NOT NULL,"
    "  window_end BIGINT NOT NULL,"
    "  result_json TEXT NOT NULL,"
    "  profile_json TEXT NOT NULL,"
    "  PRIMARY KEY (deployment, window_start));"
    "CREATE TABLE monitor_predictions ("
    "  deployment TEXT NOT NULL,"
    "  request_id TEXT NOT NULL,"
    "  timestamp BIGINT NOT NULL,"
    "  outputs_json TEXT NOT NULL,"
    "  PRIMARY KEY (deployment, request_id));"
    "CREATE INDEX monitor_predictions_by_time ON monitor_predictions (deployment, timestamp);"
    "CREATE TABLE monitor_labels ("
    "  deployment TEXT NOT NULL,"
    "  request_id TEXT NOT NULL,"
    "  timestamp BIGINT NOT NULL,"
    "  values_json TEXT NOT NULL,"
    "  PRIMARY KEY (deployment, request_id));";
// clang-format on

// v2: predictions in chunks. A row per captured prediction keyed by its
// (random) request id cost 20-30 us: every insert dirtied another page of
// the key index, written whole to the WAL. A chunk row is one append; the
// join by request id happens when labels arrive (fewer, and off the request
// path), and the label keeps the matched prediction's time and outputs. Old
// predictions move into one-prediction chunks.
// clang-format off
#define MLFORGE_MONITOR_V2(ID_COLUMN, PREDICTION_ENTRY)                                       \
  "ALTER TABLE monitor_labels ADD COLUMN prediction_ts BIGINT;"                                 \
  "ALTER TABLE monitor_labels ADD COLUMN prediction_json TEXT;"                                 \
  "UPDATE monitor_labels SET"                                                                   \
  "  prediction_ts = (SELECT p.timestamp FROM monitor_predictions p WHERE"                      \
  "    p.deployment = monitor_labels.deployment AND p.request_id = monitor_labels.request_id)," \
  "  prediction_json = (SELECT p.outputs_json FROM monitor_predictions p WHERE"                 \
  "    p.deployment = monitor_labels.deployment AND p.request_id = monitor_labels.request_id);" \
  "CREATE INDEX monitor_labels_by_prediction_time ON monitor_labels (deployment, prediction_ts);" \
  "CREATE TABLE monitor_prediction_chunks ("                                                    \
  "  chunk_id " ID_COLUMN ","                                                                  \
  "  deployment TEXT NOT NULL,"                                                                 \
  "  first_ts BIGINT NOT NULL,"                                                                 \
  "  last_ts BIGINT NOT NULL,"                                                                  \
  "  prediction_count BIGINT NOT NULL,"                                                         \
  "  entries_json TEXT NOT NULL);"                                                              \
  "CREATE INDEX monitor_prediction_chunks_by_id ON monitor_prediction_chunks (deployment, chunk_id);" \
  "CREATE INDEX monitor_prediction_chunks_by_end ON monitor_prediction_chunks (deployment, last_ts);" \
  "INSERT INTO monitor_prediction_chunks (deployment, first_ts, last_ts, prediction_count, entries_json)" \
  "  SELECT deployment, timestamp, timestamp, 1, " PREDICTION_ENTRY                              \
  "  FROM monitor_predictions ORDER BY deployment, timestamp;"                                  \
  "DROP TABLE monitor_predictions;"
constexpr std::string_view kV2Sqlite = MLFORGE_MONITOR_V2(
    "INTEGER PRIMARY KEY AUTOINCREMENT",
    "json_array(json_array(request_id, timestamp, json(outputs_json)))");
constexpr std::string_view kV2Postgres = MLFORGE_MONITOR_V2(
    "BIGSERIAL PRIMARY KEY",
    "json_build_array(json_build_array(request_id, timestamp, outputs_json::json))::text");
#undef MLFORGE_MONITOR_V2
// clang-format on

constexpr sql::Migration kMigrations[] = {
    {.version = 1, .name = "monitors", .sql = kV1, .sqlite = {}, .postgres = {}},
    {.version = 2,
     .name = "prediction_chunks",
     .sql = {},
     .sqlite = kV2Sqlite,
     .postgres = kV2Postgres},
};

std::string ConfigJson(const MonitorConfig& c) {
  json::Writer w;
  WriteMonitorConfig(w, c);
  return w.Take();
}

std::string ResultJson(const WindowResult& r) {
  json::Writer w;
  WriteWindowResult(w, r);
  return w.Take();
}

std::string NumbersJson(std::span<const double> values) {
  json::Writer w;
  w.StartArray();
  for (double v : values) w.Double(v);
  return w.EndArray().Take();
}

Result<MonitorConfig> ReadConfig(std::string_view text) {
  auto v = json::Parse(text);
  if (!v) return Err(Internal("Unreadable stored monitor config"));
  auto c = ParseMonitorConfig(*v, MonitorConfig{});
  if (!c) return Err(Internal("Invalid stored monitor config: " + c.error().message()));
  return c;
}

std::vector<double> ReadNumbers(std::string_view text) {
  std::vector<double> out;
  auto v = json::Parse(text);
  if (!v || !v->is_array()) return out;
  for (const json::Value& item : v->items()) {
    out.push_back(item.is_number() ? item.as_double() : kNaN);
  }
  return out;
}

using IdSet = std::set<std::string, std::less<>>;

class MonitorStoreImpl final : public MonitorStore {
 public:
  MonitorStoreImpl(sql::Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  Result<MonitorConfig> CreateMonitor(const MonitorConfig& config) override {
    RETURN_IF_ERROR(ValidateMonitorConfig(config));
    MonitorConfig c = config;
    c.creation_timestamp = c.last_updated_timestamp = clock_.NowMillis();
    const std::string text = ConfigJson(c);
    bool inserted = false;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& conn) -> Status {
      inserted = false;
      return conn.Query(
          "INSERT INTO monitors (deployment, config_json, creation_time, last_updated_time) "
          "VALUES (?, ?, ?, ?) ON CONFLICT (deployment) DO NOTHING RETURNING deployment",
          {c.deployment, text, c.creation_timestamp, c.last_updated_timestamp},
          [&](const sql::Row&) { inserted = true; });
    }));
    if (!inserted) {
      return Err(AlreadyExists(fmt::format("Deployment '{}' already has a monitor", c.deployment)));
    }
    return c;
  }

  Result<MonitorConfig> GetMonitor(std::string_view deployment) override {
    std::string text;
    bool found = false;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& conn) -> Status {
      return conn.Query("SELECT config_json FROM monitors WHERE deployment = ?", {deployment},
                        [&](const sql::Row& r) {
                          text = std::string(r.GetText(0));
                          found = true;
                        });
    }));
    if (!found) return Err(NotFound(fmt::format("No monitor for deployment '{}'", deployment)));
    return ReadConfig(text);
  }

  Result<std::vector<MonitorConfig>> ListMonitors() override {
    std::vector<std::string> texts;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& conn) -> Status {
      texts.clear();
      return conn.Query("SELECT config_json FROM monitors ORDER BY deployment", {},
                        [&](const sql::Row& r) { texts.emplace_back(r.GetText(0)); });
    }));
    std::vector<MonitorConfig> out;
    for (const std::string& t : texts) {
      ASSIGN_OR_RETURN(MonitorConfig c, ReadConfig(t));
      out.push_back(std::move(c));
    }
    return out;
  }

  Result<MonitorConfig> UpdateMonitor(const MonitorConfig& config) override {
    RETURN_IF_ERROR(ValidateMonitorConfig(config));
    ASSIGN_OR_RETURN(MonitorConfig current, GetMonitor(config.deployment));
    MonitorConfig c = config;
    c.creation_timestamp = current.creation_timestamp;
    c.last_updated_timestamp = clock_.NowMillis();
    const std::string text = ConfigJson(c);
    int64_t changed = 0;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& conn) -> Status {
      ASSIGN_OR_RETURN(changed, conn.Execute("UPDATE monitors SET config_json = ?, "
                                             "last_updated_time = ? WHERE deployment = ?",
                                             {text, c.last_updated_timestamp, c.deployment}));
      return Status::Ok();
    }));
    if (changed == 0) return Err(NotFound(fmt::format("No monitor for deployment '{}'", c.deployment)));
    return c;
  }

  Status DeleteMonitor(std::string_view deployment) override {
    int64_t changed = 0;
    const std::string uploaded = "monitor:" + std::string(deployment);
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& conn) -> Status {
      ASSIGN_OR_RETURN(changed,
                       conn.Execute("DELETE FROM monitors WHERE deployment = ?", {deployment}));
      RETURN_IF_ERROR(StatusOf(
          conn.Execute("DELETE FROM monitor_results WHERE deployment = ?", {deployment})));
      return StatusOf(conn.Execute("DELETE FROM monitor_references WHERE ref_key = ?",
                                   {std::string_view(uploaded)}));
    }));
    if (changed == 0) return NotFound(fmt::format("No monitor for deployment '{}'", deployment));
    return Status::Ok();
  }

  Status PutReference(std::string_view key, const DatasetProfile& profile) override {
    const std::string text = ProfileToJson(profile);
    const int64_t now = clock_.NowMillis();
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& conn) -> Status {
      return StatusOf(conn.Execute(
          "INSERT INTO monitor_references (ref_key, profile_json, creation_time) VALUES (?, ?, ?) "
          "ON CONFLICT (ref_key) DO UPDATE SET profile_json = excluded.profile_json, "
          "creation_time = excluded.creation_time",
          {key, text, now}));
    });
  }

  Result<DatasetProfile> GetReference(std::string_view key) override {
    std::string text;
    bool found = false;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& conn) -> Status {
      return conn.Query("SELECT profile_json FROM monitor_references WHERE ref_key = ?", {key},
                        [&](const sql::Row& r) {
                          text = std::string(r.GetText(0));
                          found = true;
                        });
    }));
    if (!found) return Err(NotFound(fmt::format("No reference profile '{}'", key)));
    auto profile = ProfileFromJson(text);
    if (!profile) return Err(Internal("Unreadable stored reference profile: " + profile.error().message()));
    return profile;
  }

  Status PutResult(const WindowResult& result) override {
    const std::string text = ResultJson(result);
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& conn) -> Status {
      return StatusOf(conn.Execute(
          "INSERT INTO monitor_results (deployment, window_start, window_end, result_json, "
          "profile_json) VALUES (?, ?, ?, ?, ?) ON CONFLICT (deployment, window_start) DO UPDATE "
          "SET window_end = excluded.window_end, result_json = excluded.result_json, "
          "profile_json = excluded.profile_json",
          {result.deployment, result.window_start_ms, result.window_end_ms, text,
           result.profile_json}));
    });
  }

  Result<WindowResult> GetResult(std::string_view deployment, int64_t window_start_ms) override {
    std::string text;
    std::string profile;
    bool found = false;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& conn) -> Status {
      return conn.Query(
          "SELECT result_json, profile_json FROM monitor_results WHERE deployment = ? AND "
          "window_start = ?",
          {deployment, window_start_ms}, [&](const sql::Row& r) {
            text = std::string(r.GetText(0));
            profile = std::string(r.GetText(1));
            found = true;
          });
    }));
    if (!found) {
      return Err(NotFound(
          fmt::format("No window of deployment '{}' starts at {}", deployment, window_start_ms)));
    }
    ASSIGN_OR_RETURN(WindowResult r, ParseWindowResult(text));
    r.profile_json = std::move(profile);
    return r;
  }

  Result<WindowResultPage> ListResults(std::string_view deployment, int64_t from_ms, int64_t to_ms,
                                       int max_results, std::string_view page_token) override {
    ASSIGN_OR_RETURN(int64_t offset, DecodePageToken(page_token));
    std::vector<std::string> texts;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& conn) -> Status {
      texts.clear();
      return conn.Query(
          "SELECT result_json FROM monitor_results WHERE deployment = ? AND window_start >= ? "
          "AND window_start < ? ORDER BY window_start LIMIT ? OFFSET ?",
          {deployment, from_ms, to_ms, int64_t{max_results} + 1, offset},
          [&](const sql::Row& r) { texts.emplace_back(r.GetText(0)); });
    }));
    WindowResultPage page;
    for (size_t i = 0; i < texts.size() && i < static_cast<size_t>(max_results); ++i) {
      ASSIGN_OR_RETURN(WindowResult r, ParseWindowResult(texts[i]));
      page.results.push_back(std::move(r));
    }
    if (texts.size() > static_cast<size_t>(max_results)) {
      page.next_page_token = EncodePageToken(offset + max_results);
    }
    return page;
  }

  Status PutPredictions(std::string_view deployment,
                        std::span<const PredictionRecord> predictions) override {
    if (predictions.empty()) return Status::Ok();
    // [["request id", timestamp, [first output per row]], ...]
    json::Writer w;
    w.StartArray();
    int64_t first = predictions.front().timestamp_ms, last = first;
    for (const PredictionRecord& p : predictions) {
      w.StartArray().String(p.request_id).Int(p.timestamp_ms).StartArray();
      for (double v : p.outputs) w.Double(v);
      w.EndArray().EndArray();
      first = std::min(first, p.timestamp_ms);
      last = std::max(last, p.timestamp_ms);
    }
    const std::string entries = w.EndArray().Take();
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& conn) -> Status {
      RETURN_IF_ERROR(StatusOf(conn.Execute(
          "INSERT INTO monitor_prediction_chunks (deployment, first_ts, last_ts, "
          "prediction_count, entries_json) VALUES (?, ?, ?, ?, ?)",
          {deployment, first, last, static_cast<int64_t>(predictions.size()),
           std::string_view(entries)})));
      // Labels that came first (rare: ingested predictions sent after their
      // labels, or a request id used again) are matched here; with no label
      // for the deployment at all, one index probe is the whole cost.
      bool any_label = false;
      RETURN_IF_ERROR(conn.Query("SELECT 1 FROM monitor_labels WHERE deployment = ? LIMIT 1",
                                 {deployment}, [&](const sql::Row&) { any_label = true; }));
      if (!any_label) return Status::Ok();
      for (const PredictionRecord& p : predictions) {
        RETURN_IF_ERROR(MatchLabel(conn, deployment, p.request_id, p.timestamp_ms,
                                   NumbersJson(p.outputs)));
      }
      return Status::Ok();
    });
  }

  Status PutLabels(std::span<const GroundTruth> labels) override {
    if (labels.empty()) return Status::Ok();
    std::vector<std::string> values;
    for (const GroundTruth& g : labels) values.push_back(NumbersJson(g.values));
    // Per deployment, the labels still without a prediction.
    std::map<std::string, IdSet, std::less<>> unmatched;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& conn) -> Status {
      unmatched.clear();
      for (size_t i = 0; i < labels.size(); ++i) {
        const GroundTruth& g = labels[i];
        RETURN_IF_ERROR(conn.Query(
            "INSERT INTO monitor_labels (deployment, request_id, timestamp, values_json) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (deployment, request_id) DO UPDATE SET "
            "timestamp = excluded.timestamp, values_json = excluded.values_json "
            "RETURNING prediction_ts",
            {g.deployment, g.request_id, g.timestamp_ms, values[i]}, [&](const sql::Row& r) {
              if (r.IsNull(0)) unmatched[g.deployment].insert(g.request_id);
            }));
      }
      return Status::Ok();
    }));
    for (auto& [deployment, ids] : unmatched) {
      RETURN_IF_ERROR(MatchFromChunks(deployment, std::move(ids)));
    }
    return Status::Ok();
  }

  Result<std::vector<LabelledRow>> JoinLabels(std::string_view deployment, int64_t from_ms,
                                              int64_t to_ms) override {
    std::vector<std::pair<std::string, std::string>> pairs;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& conn) -> Status {
      pairs.clear();
      return conn.Query(
          "SELECT prediction_json, values_json FROM monitor_labels "
          "WHERE deployment = ? AND prediction_ts >= ? AND prediction_ts < ? "
          "ORDER BY prediction_ts",
          {deployment, from_ms, to_ms}, [&](const sql::Row& r) {
            pairs.emplace_back(std::string(r.GetText(0)), std::string(r.GetText(1)));
          });
    }));
    std::vector<LabelledRow> rows;
    for (const auto& [out_text, label_text] : pairs) {
      const std::vector<double> outs = ReadNumbers(out_text);
      const std::vector<double> labels = ReadNumbers(label_text);
      // A label per row; rows without one (count mismatch, NaN) are skipped.
      if (outs.size() != labels.size()) continue;
      for (size_t i = 0; i < outs.size(); ++i) {
        if (std::isnan(outs[i]) || std::isnan(labels[i])) continue;
        rows.push_back(LabelledRow{.prediction = outs[i], .label = labels[i]});
      }
    }
    return rows;
  }

  Result<std::vector<int64_t>> WindowsOfRequests(std::string_view deployment,
                                                 std::span<const std::string> ids) override {
    std::vector<int64_t> starts;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& conn) -> Status {
      starts.clear();
      for (const std::string& id : ids) {
        RETURN_IF_ERROR(conn.Query(
            "SELECT r.window_start FROM monitor_labels l JOIN monitor_results r ON "
            "r.deployment = l.deployment AND l.prediction_ts >= r.window_start AND "
            "l.prediction_ts < r.window_end WHERE l.deployment = ? AND l.request_id = ?",
            {deployment, std::string_view(id)},
            [&](const sql::Row& r) { starts.push_back(r.GetInt(0)); }));
      }
      return Status::Ok();
    }));
    std::sort(starts.begin(), starts.end());
    starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
    return starts;
  }

  Result<int64_t> PrunePredictions(std::string_view deployment, int64_t before_ms) override {
    int64_t pruned = 0;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& conn) -> Status {
      pruned = 0;
      RETURN_IF_ERROR(conn.Query(
          "SELECT COALESCE(SUM(prediction_count), 0) FROM monitor_prediction_chunks "
          "WHERE deployment = ? AND last_ts < ?",
          {deployment, before_ms}, [&](const sql::Row& r) { pruned = r.GetInt(0); }));
      if (pruned == 0) return Status::Ok();
      return StatusOf(conn.Execute(
          "DELETE FROM monitor_prediction_chunks WHERE deployment = ? AND last_ts < ?",
          {deployment, before_ms}));
    }));
    return pruned;
  }

 private:
  // Copies a prediction into its label (if there is one), unless the label
  // holds a later prediction of the same request id already.
  static Status MatchLabel(sql::Connection& conn, std::string_view deployment,
                           std::string_view request_id, int64_t timestamp_ms,
                           std::string_view outputs_json) {
    return StatusOf(conn.Execute(
        "UPDATE monitor_labels SET prediction_ts = ?, prediction_json = ? "
        "WHERE deployment = ? AND request_id = ? AND "
        "(prediction_ts IS NULL OR prediction_ts <= ?)",
        {timestamp_ms, outputs_json, deployment, request_id, timestamp_ms}));
  }

  // Searches the deployment's chunks newest first for these request ids, a
  // page of chunks per read transaction (no write lock held while parsing),
  // and matches each label to the latest prediction found.
  Status MatchFromChunks(std::string_view deployment, IdSet ids) {
    constexpr int64_t kChunksPerPage = 16;
    struct Found {
      int64_t timestamp_ms;
      std::string outputs_json;
    };
    std::map<std::string, Found, std::less<>> found;
    int64_t before = INT64_MAX;  // the chunk id the next page starts below
    while (!ids.empty()) {
      std::vector<std::string> page;
      int64_t oldest = before;
      RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& conn) -> Status {
        page.clear();  // a retried transaction starts the page again
        oldest = before;
        return conn.Query(
            "SELECT chunk_id, entries_json FROM monitor_prediction_chunks "
            "WHERE deployment = ? AND chunk_id < ? ORDER BY chunk_id DESC LIMIT ?",
            {deployment, before, kChunksPerPage}, [&](const sql::Row& r) {
              oldest = r.GetInt(0);
              page.emplace_back(r.GetText(1));
            });
      }));
      if (page.empty()) break;
      before = oldest;
      for (const std::string& text : page) {
        auto entries = json::Parse(text);
        if (!entries || !entries->is_array()) continue;
        for (const json::Value& e : entries->items()) {
          if (!e.is_array() || e.items().size() != 3 || !e.items()[0].is_string()) continue;
          const std::string_view id = e.items()[0].as_string();
          auto want = ids.find(id);
          if (want == ids.end()) continue;
          const int64_t ts = static_cast<int64_t>(e.items()[1].as_double());
          auto [it, fresh] = found.try_emplace(*want, Found{ts, {}});
          if (fresh || ts >= it->second.timestamp_ms) {
            json::Writer w;
            w.Value(e.items()[2]);
            it->second = Found{ts, w.Take()};
          }
        }
      }
      // Newest chunks first: an id found here has its latest copy in this
      // page or a newer one (MatchLabel keeps the later by timestamp anyway).
      for (const auto& [id, f] : found) ids.erase(id);
    }
    if (found.empty()) return Status::Ok();
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& conn) -> Status {
      for (const auto& [id, f] : found) {
        RETURN_IF_ERROR(MatchLabel(conn, deployment, id, f.timestamp_ms, f.outputs_json));
      }
      return Status::Ok();
    });
  }

  sql::Database& db_;
  const Clock& clock_;
};

}  // namespace

Status ApplyMonitorMigrations(sql::Database& db) { return db.Migrate("monitor", kMigrations); }

Result<std::unique_ptr<MonitorStore>> MonitorStore::Open(sql::Database& db, const Clock& clock) {
  RETURN_IF_ERROR(ApplyMonitorMigrations(db));
  return std::unique_ptr<MonitorStore>(std::make_unique<MonitorStoreImpl>(db, clock));
}

}  // namespace mlforge::monitor

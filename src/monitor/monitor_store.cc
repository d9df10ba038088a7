// MonitorStore on src/sql (component "monitor"); layout in docs/monitoring.md.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
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
// in one column. Predictions and labels are keyed by (deployment, request id)
// for the join; a prediction keeps its first output per row.
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

constexpr sql::Migration kMigrations[] = {
    {.version = 1, .name = "monitors", .sql = kV1, .sqlite = {}, .postgres = {}},
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

  Status PutPredictions(std::span<const IngestedPrediction> predictions) override {
    if (predictions.empty()) return Status::Ok();
    std::vector<std::string> outputs;
    outputs.reserve(predictions.size());
    for (const IngestedPrediction& p : predictions) {
      // The first output of each row: what labels are compared with.
      std::vector<double> first;
      const size_t cols = p.output_names.empty() ? 1 : p.output_names.size();
      for (size_t i = 0; i < p.outputs.size(); i += cols) first.push_back(p.outputs[i]);
      outputs.push_back(NumbersJson(first));
    }
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& conn) -> Status {
      for (size_t i = 0; i < predictions.size(); ++i) {
        const IngestedPrediction& p = predictions[i];
        RETURN_IF_ERROR(StatusOf(conn.Execute(
            "INSERT INTO monitor_predictions (deployment, request_id, timestamp, outputs_json) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (deployment, request_id) DO UPDATE SET "
            "timestamp = excluded.timestamp, outputs_json = excluded.outputs_json",
            {p.deployment, p.request_id, p.timestamp_ms, outputs[i]})));
      }
      return Status::Ok();
    });
  }

  Status PutLabels(std::span<const GroundTruth> labels) override {
    if (labels.empty()) return Status::Ok();
    std::vector<std::string> values;
    for (const GroundTruth& g : labels) values.push_back(NumbersJson(g.values));
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& conn) -> Status {
      for (size_t i = 0; i < labels.size(); ++i) {
        const GroundTruth& g = labels[i];
        RETURN_IF_ERROR(StatusOf(conn.Execute(
            "INSERT INTO monitor_labels (deployment, request_id, timestamp, values_json) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (deployment, request_id) DO UPDATE SET "
            "timestamp = excluded.timestamp, values_json = excluded.values_json",
            {g.deployment, g.request_id, g.timestamp_ms, values[i]})));
      }
      return Status::Ok();
    });
  }

  Result<std::vector<LabelledRow>> JoinLabels(std::string_view deployment, int64_t from_ms,
                                              int64_t to_ms) override {
    std::vector<std::pair<std::string, std::string>> pairs;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& conn) -> Status {
      pairs.clear();
      return conn.Query(
          "SELECT p.outputs_json, l.values_json FROM monitor_predictions p JOIN monitor_labels l "
          "ON l.deployment = p.deployment AND l.request_id = p.request_id "
          "WHERE p.deployment = ? AND p.timestamp >= ? AND p.timestamp < ? ORDER BY p.timestamp",
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
            "SELECT r.window_start FROM monitor_predictions p JOIN monitor_results r ON "
            "r.deployment = p.deployment AND p.timestamp >= r.window_start AND "
            "p.timestamp < r.window_end WHERE p.deployment = ? AND p.request_id = ?",
            {deployment, std::string_view(id)},
            [&](const sql::Row& r) { starts.push_back(r.GetInt(0)); }));
      }
      return Status::Ok();
    }));
    std::sort(starts.begin(), starts.end());
    starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
    return starts;
  }

 private:
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

// Live monitors: the capture queue (drops counted), sampling, windows closed
// by API and by schedule, drift flagged in the right window, window profiles
// that merge, delayed labels, and the monitor store on SQLite and PostgreSQL.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "base/clock.h"
#include "base/json.h"
#include "monitor/monitor.h"
#include "sql/sql.h"
#include "support/scratch_database.h"
#include "support/temp_dir.h"

namespace mlforge::monitor {
namespace {

using namespace std::chrono_literals;

// x1, x2 ~ N(mean, 1); n uniform in 0..9.
Table MakeTable(int rows, double x1_mean, double x2_mean, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> x1(x1_mean, 1), x2(x2_mean, 1);
  std::uniform_int_distribution<int> n(0, 9);
  Table t;
  t.rows = rows;
  t.columns.resize(3);
  t.columns[0].name = "x1";
  t.columns[1].name = "x2";
  t.columns[2].name = "n";
  for (int i = 0; i < rows; ++i) {
    t.columns[0].numbers.push_back(x1(rng));
    t.columns[1].numbers.push_back(x2(rng));
    t.columns[2].numbers.push_back(n(rng));
  }
  return t;
}

// One sampled request per table row, as app/'s sink would capture it.
std::vector<CapturedRequest> Requests(const std::string& deployment, const Table& t,
                                      const std::string& id_prefix, int64_t ts) {
  std::vector<CapturedRequest> out;
  for (int64_t r = 0; r < t.rows; ++r) {
    CapturedRequest c;
    c.deployment = deployment;
    c.request_id = id_prefix + std::to_string(r);
    c.timestamp_ms = ts;
    c.latency_ms = 1.0 + static_cast<double>(r % 10);
    c.sampled = true;
    c.feature_names = std::make_shared<const std::vector<std::string>>(
        std::vector<std::string>{"x1", "x2", "n"});
    c.rows = 1;
    for (const Column& col : t.columns) c.features.push_back(static_cast<float>(col.numbers[r]));
    c.output_names = {"prediction"};
    c.outputs = {t.columns[0].numbers[r] + t.columns[1].numbers[r]};
    out.push_back(std::move(c));
  }
  return out;
}

class RecordingObserver final : public MetricObserver {
 public:
  void Observe(std::span<const MetricPoint> points) override {
    std::lock_guard lock(mu_);
    points_.insert(points_.end(), points.begin(), points.end());
  }
  std::vector<MetricPoint> points() const {
    std::lock_guard lock(mu_);
    return points_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<MetricPoint> points_;
};

class LiveMonitorTest : public ::testing::TestWithParam<sql::Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == sql::Backend::kPostgres && sql::testing::PgOptedOut()) {
      GTEST_SKIP() << "MLFORGE_TEST_PG=off";
    }
    auto scratch = sql::testing::ScratchDatabase::Create(GetParam());
    ASSERT_TRUE(scratch.has_value()) << scratch.error().ToString();
    scratch_ = std::move(*scratch);
    auto db = scratch_->Open();
    ASSERT_TRUE(db.has_value()) << db.error().ToString();
    db_ = std::move(*db);
    auto store = MonitorStore::Open(*db_, clock_);
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    store_ = std::move(*store);
  }

  void StartMonitor(LiveMonitorOptions options) {
    options.observer = &observer_;
    auto m = LiveMonitor::Start(*store_, clock_, std::move(options));
    ASSERT_TRUE(m.has_value()) << m.error().ToString();
    monitor_ = std::move(*m);
  }

  MonitorConfig Config(const std::string& deployment, double sample_rate = 1.0) {
    MonitorConfig c;
    c.deployment = deployment;
    c.window_seconds = 3600;
    c.sample_rate = sample_rate;
    return c;
  }

  FakeClock clock_;
  std::unique_ptr<sql::testing::ScratchDatabase> scratch_;
  std::unique_ptr<sql::Database> db_;
  std::unique_ptr<MonitorStore> store_;
  RecordingObserver observer_;
  std::unique_ptr<LiveMonitor> monitor_;
};

TEST_P(LiveMonitorTest, FullQueueDropsAndCountsWithoutBlocking) {
  StartMonitor({.queue_capacity = 4, .tick = 1h});
  ASSERT_TRUE(monitor_->Create(Config("d"), nullptr).has_value());
  const Table t = MakeTable(10, 0, 0, 1);
  int accepted = 0;
  for (CapturedRequest& r : Requests("d", t, "r", clock_.NowMillis())) {
    accepted += monitor_->Capture(r) ? 1 : 0;
  }
  EXPECT_EQ(accepted, 4);
  CaptureStats stats = monitor_->Stats();
  EXPECT_EQ(stats.captured, 4u);
  EXPECT_EQ(stats.dropped, 6u);
  EXPECT_EQ(stats.processed, 0u);  // the worker's tick is an hour away
  clock_.Advance(1000);
  auto w = monitor_->CloseWindow("d");
  ASSERT_TRUE(w.has_value()) << w.error().ToString();
  EXPECT_EQ(w->rows, 4u);  // what was queued, not what was dropped
  EXPECT_EQ(w->health.requests, 4u);
  EXPECT_EQ(monitor_->Stats().processed, 4u);
  // The queue has room again.
  for (CapturedRequest& r : Requests("d", MakeTable(3, 0, 0, 2), "s", clock_.NowMillis())) {
    EXPECT_TRUE(monitor_->Capture(r));
  }
}

TEST_P(LiveMonitorTest, SamplingFollowsTheRateAndIsStablePerRequestId) {
  StartMonitor({.tick = 1h});
  using S = LiveMonitor::Sampling;
  EXPECT_EQ(monitor_->Decide("none", "a"), S::kOff);
  ASSERT_TRUE(monitor_->Create(Config("all", 1.0), nullptr).has_value());
  ASSERT_TRUE(monitor_->Create(Config("half", 0.5), nullptr).has_value());
  ASSERT_TRUE(monitor_->Create(Config("count", 0.0), nullptr).has_value());
  int sampled = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::string id = "req-" + std::to_string(i);
    EXPECT_EQ(monitor_->Decide("all", id), S::kSample);
    EXPECT_EQ(monitor_->Decide("count", id), S::kCount);
    const S first = monitor_->Decide("half", id);
    EXPECT_EQ(monitor_->Decide("half", id), first);
    sampled += first == S::kSample;
  }
  EXPECT_GT(sampled, 4700);
  EXPECT_LT(sampled, 5300);
  MonitorConfig off = Config("all");
  off.enabled = false;
  ASSERT_TRUE(monitor_->Update(off, nullptr).has_value());
  EXPECT_EQ(monitor_->Decide("all", "x"), S::kOff);
  ASSERT_TRUE(monitor_->Delete("half").ok());
  EXPECT_EQ(monitor_->Decide("half", "x"), S::kOff);
}

TEST_P(LiveMonitorTest, FlagsOnlyTheShiftedFeaturesInTheShiftedWindow) {
  StartMonitor({.tick = 1h});
  const DatasetProfile reference = ProfileTable(MakeTable(3000, 0, 0, 7));
  ASSERT_TRUE(monitor_->Create(Config("d"), &reference).has_value());

  for (CapturedRequest& r : Requests("d", MakeTable(800, 0, 0, 8), "a", clock_.NowMillis())) {
    ASSERT_TRUE(monitor_->Capture(r));
  }
  CapturedRequest failed;
  failed.deployment = "d";
  failed.error = true;
  failed.latency_ms = 5;
  ASSERT_TRUE(monitor_->Capture(failed));
  clock_.Advance(60'000);
  auto w1 = monitor_->CloseWindow("d");
  ASSERT_TRUE(w1.has_value()) << w1.error().ToString();
  EXPECT_TRUE(w1->compared) << w1->message;
  EXPECT_EQ(w1->rows, 800u);
  EXPECT_TRUE(w1->drifted_features.empty()) << w1->features_json;
  EXPECT_EQ(w1->health.requests, 801u);
  EXPECT_EQ(w1->health.errors, 1u);
  EXPECT_NEAR(w1->health.error_rate, 1.0 / 801, 1e-12);
  // A forced close ends the window just after now: [start, now + 1 ms).
  EXPECT_NEAR(w1->health.requests_per_s, 801 / 60.001, 1e-9);
  EXPECT_GE(w1->health.latency_p99_ms, 9);
  EXPECT_LE(w1->health.latency_p50_ms, 6);
  EXPECT_GT(w1->health.memory_bytes, 0);

  // x1 and x2 shift by two standard deviations; n does not.
  for (CapturedRequest& r : Requests("d", MakeTable(800, 2, -2, 9), "b", clock_.NowMillis())) {
    ASSERT_TRUE(monitor_->Capture(r));
  }
  clock_.Advance(60'000);
  auto w2 = monitor_->CloseWindow("d");
  ASSERT_TRUE(w2.has_value()) << w2.error().ToString();
  EXPECT_EQ(w2->window_start_ms, w1->window_end_ms);
  EXPECT_EQ(std::set<std::string>(w2->drifted_features.begin(), w2->drifted_features.end()),
            (std::set<std::string>{"x1", "x2"}));
  EXPECT_TRUE(w2->compared);
  EXPECT_NEAR(w2->drift_share, 2.0 / 3.0, 1e-12);  // the prediction is not in the reference

  // The observer got both windows' points, with the contract's names.
  std::map<std::string, double> last;
  for (const MetricPoint& p : observer_.points()) {
    if (p.window_start_ms == w2->window_start_ms) last[p.metric] = p.value;
  }
  EXPECT_EQ(last["feature_drift.x1"], 1);
  EXPECT_EQ(last["feature_drift.x2"], 1);
  EXPECT_EQ(last["feature_drift.n"], 0);
  EXPECT_EQ(last["dataset_drift"], 1);
  EXPECT_EQ(last["rows"], 800);
  EXPECT_TRUE(last.contains("drift_score.x1"));
  EXPECT_TRUE(last.contains("latency_p99_ms"));

  // Results are stored and listed oldest first; the report recomputes.
  auto page = store_->ListResults("d", 0, INT64_MAX, 10, "");
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->results.size(), 2u);
  EXPECT_EQ(page->results[1].drifted_features, w2->drifted_features);
  auto report = monitor_->Report("d", w2->window_start_ms);
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->features_drifted, 2);

  // Window columns share the reference's bins, so windows merge (columns
  // the reference lacks, like the prediction, get their own edges).
  auto p1 = store_->GetResult("d", w1->window_start_ms);
  auto p2 = store_->GetResult("d", w2->window_start_ms);
  ASSERT_TRUE(p1 && p2);
  auto a = ProfileFromJson(p1->profile_json);
  auto b = ProfileFromJson(p2->profile_json);
  ASSERT_TRUE(a && b);
  for (const char* name : {"x1", "x2", "n"}) {
    ColumnProfile merged = *a->Find(name);
    ASSERT_TRUE(merged.Merge(*b->Find(name)).ok()) << name;
    EXPECT_EQ(merged.count, 1600u);
    EXPECT_EQ(merged.histogram.edges, reference.Find(name)->histogram.edges);
  }
}

TEST_P(LiveMonitorTest, ScheduledWindowsCloseOnTheGrid) {
  StartMonitor({.tick = 5ms});
  MonitorConfig c = Config("d");
  c.window_seconds = 60;
  const int64_t start = clock_.NowMillis();
  ASSERT_TRUE(monitor_->Create(c, nullptr).has_value());
  for (CapturedRequest& r : Requests("d", MakeTable(20, 0, 0, 3), "a", start)) {
    ASSERT_TRUE(monitor_->Capture(r));
  }
  clock_.Advance(150'000);  // two and a half windows
  Result<WindowResultPage> page;
  for (int i = 0; i < 400; ++i) {
    page = store_->ListResults("d", 0, INT64_MAX, 10, "");
    if (page && !page->results.empty()) break;
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->results.size(), 1u);  // the empty window after it is not stored
  EXPECT_EQ(page->results[0].window_start_ms, start);
  EXPECT_EQ(page->results[0].window_end_ms, start + 60'000);
  EXPECT_EQ(page->results[0].rows, 20u);
  EXPECT_FALSE(page->results[0].compared);  // no reference stored
  EXPECT_NE(page->results[0].message.find("No reference profile"), std::string::npos);
  // The next window starts on the grid: a forced close now ends it.
  auto w = monitor_->CloseWindow("d");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->window_start_ms, start + 120'000);
}

TEST_P(LiveMonitorTest, LabelsJoinPredictionsByRequestIdEvenWhenLate) {
  StartMonitor({.tick = 1h});
  ASSERT_TRUE(monitor_->Create(Config("d"), nullptr).has_value());
  std::vector<IngestedPrediction> preds;
  for (int i = 0; i < 4; ++i) {
    IngestedPrediction p;
    p.deployment = "d";
    p.request_id = "id" + std::to_string(i);
    p.features = {{{"x1", json::Value::Double(i)}, {"city", json::Value::String("oslo")}}};
    p.output_names = {"prediction"};
    p.outputs = {static_cast<double>(i)};
    preds.push_back(std::move(p));
  }
  ASSERT_TRUE(monitor_->IngestPredictions(preds).ok());
  // Two labels now (errors 1 and 3), the others after the window closed.
  ASSERT_TRUE(monitor_
                  ->IngestLabels({GroundTruth{.deployment = "d", .request_id = "id0", .values = {1}},
                                  GroundTruth{.deployment = "d", .request_id = "id1", .values = {4}}})
                  .ok());
  clock_.Advance(1000);
  auto w = monitor_->CloseWindow("d");
  ASSERT_TRUE(w.has_value()) << w.error().ToString();
  EXPECT_EQ(w->rows, 4u);
  EXPECT_EQ(w->labelled_rows, 2u);
  std::map<std::string, double> perf(w->performance.begin(), w->performance.end());
  EXPECT_DOUBLE_EQ(perf["mae"], 2.0);
  EXPECT_DOUBLE_EQ(perf["rmse"], std::sqrt(5.0));
  EXPECT_FALSE(perf.contains("accuracy"));  // labels are not all 0/1

  ASSERT_TRUE(monitor_
                  ->IngestLabels({GroundTruth{.deployment = "d", .request_id = "id2", .values = {2}},
                                  GroundTruth{.deployment = "d", .request_id = "id3", .values = {3}}})
                  .ok());
  auto late = store_->GetResult("d", w->window_start_ms);
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(late->labelled_rows, 4u);
  std::map<std::string, double> perf2(late->performance.begin(), late->performance.end());
  EXPECT_DOUBLE_EQ(perf2["mae"], 1.0);
  // A categorical column came in as text.
  auto profile = ProfileFromJson(late->profile_json);
  ASSERT_TRUE(profile.has_value());
  ASSERT_NE(profile->Find("city"), nullptr);
  EXPECT_EQ(profile->Find("city")->kind, ColumnKind::kCategorical);

  EXPECT_EQ(monitor_->IngestLabels({GroundTruth{.deployment = "nope", .request_id = "x"}}).code(),
            ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(monitor_->CloseWindow("nope").error().code(), ErrorCode::kResourceDoesNotExist);
}

// How many chunk rows hold how many predictions, for a deployment.
std::pair<int64_t, int64_t> ChunkCounts(sql::Database& db, std::string_view deployment) {
  std::pair<int64_t, int64_t> counts{-1, -1};
  Status s = db.Transact(sql::TxMode::kRead, [&](sql::Connection& conn) {
    return conn.Query(
        "SELECT COUNT(*), COALESCE(SUM(prediction_count), 0) FROM monitor_prediction_chunks "
        "WHERE deployment = ?",
        {deployment}, [&](const sql::Row& r) { counts = {r.GetInt(0), r.GetInt(1)}; });
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return counts;
}

TEST_P(LiveMonitorTest, CapturedPredictionsAreStoredInChunksAndJoinLabelsThatComeLater) {
  StartMonitor({.tick = 1h});
  ASSERT_TRUE(monitor_->Create(Config("d"), nullptr).has_value());
  const Table t = MakeTable(3000, 0, 0, 3);
  for (CapturedRequest& r : Requests("d", t, "req", clock_.NowMillis())) {
    ASSERT_TRUE(monitor_->Capture(r));
  }
  // Labels for one request of the first chunk and two of the last: each is
  // its prediction plus 1 (an error of exactly 1).
  std::vector<GroundTruth> labels;
  for (int r : {5, 2500, 2999}) {
    labels.push_back(GroundTruth{.deployment = "d",
                                 .request_id = "req" + std::to_string(r),
                                 .values = {t.columns[0].numbers[r] + t.columns[1].numbers[r] + 1}});
  }
  labels.push_back(GroundTruth{.deployment = "d", .request_id = "never-predicted", .values = {0}});
  ASSERT_TRUE(monitor_->IngestLabels(labels).ok());  // drains the queue first
  // 3,000 predictions in two rows (2,048 to a chunk), not a row each.
  EXPECT_EQ(ChunkCounts(*db_, "d"), (std::pair<int64_t, int64_t>{2, 3000}));
  clock_.Advance(1000);
  auto w = monitor_->CloseWindow("d");
  ASSERT_TRUE(w.has_value()) << w.error().ToString();
  EXPECT_EQ(w->rows, 3000u);
  EXPECT_EQ(w->labelled_rows, 3u);  // the label without a prediction joins nothing
  std::map<std::string, double> perf(w->performance.begin(), w->performance.end());
  EXPECT_NEAR(perf["mae"], 1.0, 1e-5);  // features travel as float
}

TEST_P(LiveMonitorTest, LabelsBeforeTheirPredictionsMatchAndTheLatestCopyWins) {
  const int64_t t0 = clock_.NowMillis();
  auto prediction = [](std::string id, int64_t ts, double out) {
    return PredictionRecord{.request_id = std::move(id), .timestamp_ms = ts, .outputs = {out}};
  };
  ASSERT_TRUE(store_->PutLabels(std::vector{GroundTruth{.deployment = "d", .request_id = "a",
                                             .timestamp_ms = t0, .values = {10}}})
                  .ok());
  EXPECT_TRUE(store_->JoinLabels("d", 0, INT64_MAX)->empty());
  // The prediction comes after its label (ingested from elsewhere, late).
  ASSERT_TRUE(store_->PutPredictions("d", std::vector{prediction("a", t0 + 5, 7)}).ok());
  auto rows = store_->JoinLabels("d", t0, t0 + 10);
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].prediction, 7);
  EXPECT_EQ((*rows)[0].label, 10);
  // A later copy of request "a" replaces it; an earlier one does not.
  ASSERT_TRUE(store_->PutPredictions("d", std::vector{prediction("a", t0 + 20, 8)}).ok());
  ASSERT_TRUE(store_->PutPredictions("d", std::vector{prediction("a", t0 + 1, 1)}).ok());
  rows = store_->JoinLabels("d", t0, t0 + 100);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].prediction, 8);
  // A label arriving after both copies finds the latest, whatever the order
  // the chunks were stored in.
  ASSERT_TRUE(store_->PutLabels(std::vector{GroundTruth{.deployment = "d", .request_id = "a",
                                             .timestamp_ms = t0 + 30, .values = {9}}})
                  .ok());
  rows = store_->JoinLabels("d", t0, t0 + 100);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].prediction, 8);
  EXPECT_EQ((*rows)[0].label, 9);
  // Other deployments' predictions never match.
  ASSERT_TRUE(store_->PutPredictions("e", std::vector{prediction("b", t0, 3)}).ok());
  ASSERT_TRUE(store_->PutLabels(std::vector{GroundTruth{.deployment = "d", .request_id = "b",
                                             .timestamp_ms = t0, .values = {3}}})
                  .ok());
  EXPECT_EQ(store_->JoinLabels("d", t0, t0 + 100)->size(), 1u);
}

TEST_P(LiveMonitorTest, OldPredictionsArePrunedAsWindowsCloseAndMatchedLabelsStay) {
  StartMonitor({.tick = 5ms, .prediction_retention = 1h});
  MonitorConfig c = Config("d");
  c.window_seconds = 60;
  ASSERT_TRUE(monitor_->Create(c, nullptr).has_value());
  auto ingest = [&](const std::string& id) {
    IngestedPrediction p;
    p.deployment = "d";
    p.request_id = id;
    p.features = {{{"x1", json::Value::Double(1)}}};
    p.output_names = {"prediction"};
    p.outputs = {2};
    return monitor_->IngestPredictions({p});
  };
  ASSERT_TRUE(ingest("old-labelled").ok());
  ASSERT_TRUE(ingest("old-unlabelled").ok());
  ASSERT_TRUE(monitor_
                  ->IngestLabels({GroundTruth{.deployment = "d", .request_id = "old-labelled",
                                              .values = {3}}})
                  .ok());
  EXPECT_EQ(ChunkCounts(*db_, "d").second, 2);
  // Two hours on, the old window closes (nothing is old enough to go yet),
  // then a new prediction's window closes: the old chunks go.
  clock_.Advance(2 * 3600 * 1000);
  for (int i = 0; i < 400 && store_->ListResults("d", 0, INT64_MAX, 10, "")->results.empty();
       ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(ChunkCounts(*db_, "d").second, 2);
  ASSERT_TRUE(ingest("new").ok());
  clock_.Advance(61'000);
  for (int i = 0; i < 400 && ChunkCounts(*db_, "d").second != 1; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(ChunkCounts(*db_, "d").second, 1);  // "new" only
  // A label for a pruned prediction matches nothing; a matched one stays.
  ASSERT_TRUE(monitor_
                  ->IngestLabels({GroundTruth{.deployment = "d", .request_id = "old-unlabelled",
                                              .values = {3}}})
                  .ok());
  auto rows = store_->JoinLabels("d", 0, INT64_MAX);
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].prediction, 2);
}

// A monitor database as mlforge wrote it before predictions were chunked
// (schema version 1), with a labelled and an unlabelled prediction.
TEST_P(LiveMonitorTest, UpgradeMovesStoredPredictionsIntoChunks) {
  auto scratch = sql::testing::ScratchDatabase::Create(GetParam());
  ASSERT_TRUE(scratch.has_value());
  auto db = (*scratch)->Open();
  ASSERT_TRUE(db.has_value());
  const sql::Migration v1[] = {
      {.version = 1,
       .name = "monitors",
       .sql = "CREATE TABLE monitors (deployment TEXT PRIMARY KEY, config_json TEXT NOT NULL,"
              "  creation_time BIGINT NOT NULL, last_updated_time BIGINT NOT NULL);"
              "CREATE TABLE monitor_references (ref_key TEXT PRIMARY KEY,"
              "  profile_json TEXT NOT NULL, creation_time BIGINT NOT NULL);"
              "CREATE TABLE monitor_results (deployment TEXT NOT NULL,"
              "  window_start BIGINT NOT NULL, window_end BIGINT NOT NULL,"
              "  result_json TEXT NOT NULL, profile_json TEXT NOT NULL,"
              "  PRIMARY KEY (deployment, window_start));"
              "CREATE TABLE monitor_predictions (deployment TEXT NOT NULL,"
              "  request_id TEXT NOT NULL, timestamp BIGINT NOT NULL,"
              "  outputs_json TEXT NOT NULL, PRIMARY KEY (deployment, request_id));"
              "CREATE INDEX monitor_predictions_by_time ON monitor_predictions"
              "  (deployment, timestamp);"
              "CREATE TABLE monitor_labels (deployment TEXT NOT NULL,"
              "  request_id TEXT NOT NULL, timestamp BIGINT NOT NULL,"
              "  values_json TEXT NOT NULL, PRIMARY KEY (deployment, request_id));",
       .sqlite = {},
       .postgres = {}}};
  ASSERT_TRUE((*db)->Migrate("monitor", v1).ok());
  ASSERT_TRUE((*db)
                  ->Transact(sql::TxMode::kWrite,
                             [](sql::Connection& conn) -> Status {
                               for (auto [id, ts, out] :
                                    {std::tuple{"r1", 1000, "[0.25]"}, {"r2", 2000, "[4,5]"}}) {
                                 auto n = conn.Execute(
                                     "INSERT INTO monitor_predictions VALUES ('d', ?, ?, ?)",
                                     {std::string_view(id), int64_t{ts}, std::string_view(out)});
                                 if (!n) return n.error();
                               }
                               auto n = conn.Execute(
                                   "INSERT INTO monitor_labels VALUES ('d', 'r1', 3000, '[1]')");
                               return n ? Status::Ok() : n.error();
                             })
                  .ok());
  auto store = MonitorStore::Open(**db, clock_);  // applies version 2
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  EXPECT_EQ(ChunkCounts(**db, "d"), (std::pair<int64_t, int64_t>{2, 2}));
  auto rows = (*store)->JoinLabels("d", 0, 10'000);
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 1u);  // r1's label kept its prediction
  EXPECT_EQ((*rows)[0].prediction, 0.25);
  // r2 was unlabelled: its moved prediction (two rows) still finds a label.
  ASSERT_TRUE((*store)
                  ->PutLabels(std::vector{GroundTruth{.deployment = "d", .request_id = "r2",
                                           .timestamp_ms = 4000, .values = {4, 6}}})
                  .ok());
  rows = (*store)->JoinLabels("d", 1500, 2500);
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].prediction, 4);
  EXPECT_EQ((*rows)[1].prediction, 5);
  EXPECT_EQ((*rows)[1].label, 6);
}

TEST_P(LiveMonitorTest, StoreKeepsConfigsReferencesAndPagesResults) {
  MonitorConfig c = Config("d");
  c.reference_kind = ReferenceKind::kModelVersion;
  c.reference_model = "fraud";
  c.reference_version = 3;
  c.drift.method = DriftMethod::kPsi;
  c.drift.threshold = 0.2;
  c.drift.columns = {"x1"};
  auto created = store_->CreateMonitor(c);
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  EXPECT_EQ(store_->CreateMonitor(c).error().code(), ErrorCode::kResourceAlreadyExists);
  auto got = store_->GetMonitor("d");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->ReferenceKey(), "model:fraud/3");
  EXPECT_EQ(got->drift.method, DriftMethod::kPsi);
  EXPECT_EQ(got->drift.threshold, 0.2);
  EXPECT_EQ(got->drift.columns, std::vector<std::string>{"x1"});
  EXPECT_EQ(store_->GetMonitor("x").error().code(), ErrorCode::kResourceDoesNotExist);
  c.sample_rate = 0.25;
  clock_.Advance(5);
  auto updated = store_->UpdateMonitor(c);
  ASSERT_TRUE(updated.has_value());
  EXPECT_EQ(updated->creation_timestamp, created->creation_timestamp);
  EXPECT_GT(updated->last_updated_timestamp, created->last_updated_timestamp);
  EXPECT_EQ(store_->GetMonitor("d")->sample_rate, 0.25);

  const DatasetProfile ref = ProfileTable(MakeTable(50, 0, 0, 4));
  ASSERT_TRUE(store_->PutReference("model:fraud/3", ref).ok());
  auto back = store_->GetReference("model:fraud/3");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->rows, 50u);
  EXPECT_EQ(store_->GetReference("dataset:x").error().code(), ErrorCode::kResourceDoesNotExist);

  for (int i = 0; i < 5; ++i) {
    WindowResult r;
    r.deployment = "d";
    r.window_start_ms = 1000 * i;
    r.window_end_ms = 1000 * (i + 1);
    r.rows = i;
    r.performance = {{"mae", 0.5 * i}};
    ASSERT_TRUE(store_->PutResult(r).ok());
  }
  auto p1 = store_->ListResults("d", 1000, 5000, 2, "");
  ASSERT_TRUE(p1.has_value());
  ASSERT_EQ(p1->results.size(), 2u);
  EXPECT_EQ(p1->results[0].window_start_ms, 1000);
  ASSERT_FALSE(p1->next_page_token.empty());
  auto p2 = store_->ListResults("d", 1000, 5000, 2, p1->next_page_token);
  ASSERT_TRUE(p2.has_value());
  ASSERT_EQ(p2->results.size(), 2u);
  EXPECT_EQ(p2->results[1].window_start_ms, 4000);
  EXPECT_EQ(p2->results[1].performance, (std::vector<std::pair<std::string, double>>{{"mae", 2}}));
  EXPECT_TRUE(p2->next_page_token.empty());
  EXPECT_EQ(store_->ListResults("d", 0, 1, 2, "garbage").error().code(),
            ErrorCode::kInvalidParameterValue);

  ASSERT_TRUE(store_->DeleteMonitor("d").ok());
  EXPECT_EQ(store_->DeleteMonitor("d").code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_TRUE(store_->ListResults("d", 0, INT64_MAX, 10, "")->results.empty());
}

TEST_P(LiveMonitorTest, RawLogKeepsSampledRequestsAndStaysBounded) {
  mlforge::testing::TempDir dir;
  StartMonitor({.tick = 1h, .raw_log_dir = dir.path() / "raw", .raw_log_max_bytes = 1000});
  MonitorConfig c = Config("d");
  c.raw_log = true;
  ASSERT_TRUE(monitor_->Create(c, nullptr).has_value());
  for (CapturedRequest& r : Requests("d", MakeTable(40, 0, 0, 1), "id", clock_.NowMillis())) {
    ASSERT_TRUE(monitor_->Capture(r));
  }
  ASSERT_TRUE(monitor_->CloseWindow("d").has_value());  // drains the queue
  const auto log = dir.path() / "raw" / "d.jsonl";
  ASSERT_TRUE(std::filesystem::exists(log));
  ASSERT_TRUE(std::filesystem::exists(log.string() + ".1"));  // rotated once
  EXPECT_LE(std::filesystem::file_size(log), 1000u);
  EXPECT_LE(std::filesystem::file_size(log.string() + ".1"), 1000u);
  std::ifstream in(log);
  std::string line, last;
  while (std::getline(in, line)) last = line;
  auto v = json::Parse(last);
  ASSERT_TRUE(v.has_value()) << last;
  EXPECT_EQ(v->Find("request_id")->as_string(), "id39");
  EXPECT_EQ(v->Find("features")->items().size(), 1u);
}

// Counts calls; knows one model version and no datasets.
class FakeReferences final : public ReferenceSource {
 public:
  Result<DatasetProfile> ProfileDataset(std::string_view id) override {
    ++calls;
    return Err(NotFound(std::string("No dataset version '") + std::string(id) + "'"));
  }
  Result<DatasetProfile> ProfileModelVersion(std::string_view model, int64_t version) override {
    ++calls;
    if (model != "fraud" || version != 2) return Err(NotFound("No such model version"));
    return ProfileTable(MakeTable(500, 0, 0, 5));
  }
  int calls = 0;
};

TEST_P(LiveMonitorTest, ModelVersionReferenceIsComputedOnceAndShared) {
  FakeReferences references;
  StartMonitor({.tick = 1h, .references = &references});
  MonitorConfig c = Config("a");
  c.reference_kind = ReferenceKind::kModelVersion;
  c.reference_model = "fraud";
  c.reference_version = 2;
  ASSERT_TRUE(monitor_->Create(c, nullptr).has_value());
  c.deployment = "b";
  ASSERT_TRUE(monitor_->Create(c, nullptr).has_value());
  EXPECT_EQ(references.calls, 1);  // stored under model:fraud/2, reused
  auto stored = store_->GetReference("model:fraud/2");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->rows, 500u);

  c.deployment = "c";
  c.reference_version = 9;
  auto missing = monitor_->Create(c, nullptr);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_NE(missing.error().message().find("model:fraud/9"), std::string::npos);
  EXPECT_EQ(store_->GetMonitor("c").error().code(), ErrorCode::kResourceDoesNotExist);

  // An uploaded profile with a model-version kind is a contradiction.
  const DatasetProfile p = ProfileTable(MakeTable(10, 0, 0, 6));
  c.reference_version = 2;
  EXPECT_EQ(monitor_->Create(c, &p).error().code(), ErrorCode::kInvalidParameterValue);

  for (CapturedRequest& r : Requests("a", MakeTable(300, 0, 0, 7), "x", clock_.NowMillis())) {
    ASSERT_TRUE(monitor_->Capture(r));
  }
  clock_.Advance(1000);
  auto w = monitor_->CloseWindow("a");
  ASSERT_TRUE(w.has_value());
  EXPECT_TRUE(w->compared) << w->message;
}

TEST_P(LiveMonitorTest, RegisteredVersionGetsItsReferenceInTheBackground) {
  FakeReferences references;
  StartMonitor({.tick = 1h, .references = &references});
  monitor_->PrepareReference("fraud", 2);
  monitor_->PrepareReference("fraud", 9);  // no training data: skipped, nothing stored
  monitor_->WaitForReferences();
  EXPECT_EQ(references.calls, 2);
  auto stored = store_->GetReference("model:fraud/2");
  ASSERT_TRUE(stored.has_value()) << stored.error().ToString();
  EXPECT_EQ(stored->rows, 500u);
  EXPECT_EQ(store_->GetReference("model:fraud/9").error().code(),
            ErrorCode::kResourceDoesNotExist);
  // A monitor naming the version reuses the stored profile.
  MonitorConfig c = Config("a");
  c.reference_kind = ReferenceKind::kModelVersion;
  c.reference_model = "fraud";
  c.reference_version = 2;
  ASSERT_TRUE(monitor_->Create(c, nullptr).has_value());
  EXPECT_EQ(references.calls, 2);
  // Asked again: already stored, not recomputed.
  monitor_->PrepareReference("fraud", 2);
  monitor_->WaitForReferences();
  EXPECT_EQ(references.calls, 2);
}

INSTANTIATE_TEST_SUITE_P(Backends, LiveMonitorTest,
                         ::testing::Values(sql::Backend::kSqlite, sql::Backend::kPostgres),
                         [](const auto& info) {
                           return info.param == sql::Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

TEST(MonitorConfigTest, ParseChecksEveryFieldAndNamesIt) {
  auto parse = [](std::string_view text) -> Result<MonitorConfig> {
    auto v = json::Parse(text);
    if (!v) return Err(v.error());
    return ParseMonitorConfig(*v, MonitorConfig{});
  };
  auto ok = parse(R"({"deployment":"d","window_seconds":"60","sample_rate":0.5,
      "reference":{"kind":"dataset","dataset_id":"abc"},
      "drift":{"method":"ks","threshold":0.01,"correction":"bonferroni","columns":["x1"]}})");
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  EXPECT_EQ(ok->window_seconds, 60);
  EXPECT_EQ(ok->ReferenceKey(), "dataset:abc");
  EXPECT_EQ(ok->drift.correction, Correction::kBonferroni);

  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"window_seconds":60})", "deployment"},
      {R"({"deployment":"../x"})", "deployment"},
      {R"({"deployment":"d","window_seconds":0})", "window_seconds"},
      {R"({"deployment":"d","window_seconds":"x"})", "window_seconds"},
      {R"({"deployment":"d","sample_rate":1.5})", "sample_rate"},
      {R"({"deployment":"d","sample_rate":"all"})", "sample_rate"},
      {R"({"deployment":"d","enabled":"yes"})", "enabled"},
      {R"({"deployment":"d","reference":{"kind":"magic"}})", "reference.kind"},
      {R"({"deployment":"d","reference":{"kind":"model_version","model_name":"m"}})",
       "reference.version"},
      {R"({"deployment":"d","reference":{"kind":"dataset"}})", "reference.dataset_id"},
      {R"({"deployment":"d","drift":{"method":"magic"}})", "drift.method"},
      {R"({"deployment":"d","drift":{"threshold":-1}})", "drift.threshold"},
      {R"({"deployment":"d","drift":{"correction":"x"}})", "drift.correction"},
      {R"({"deployment":"d","drift":{"drift_share":0}})", "drift.drift_share"},
      {R"({"deployment":"d","drift":{"columns":"x1"}})", "drift.columns"},
  };
  for (const auto& [text, field] : bad) {
    auto r = parse(text);
    ASSERT_FALSE(r.has_value()) << text;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidParameterValue) << text;
    EXPECT_NE(r.error().message().find(field), std::string::npos)
        << text << " -> " << r.error().message();
  }
}

TEST(WindowPerformanceTest, RegressionAndBinaryMetrics) {
  const std::vector<LabelledRow> binary = {{0.9, 1}, {0.2, 0}, {0.6, 0}, {0.4, 1}};
  std::map<std::string, double> m;
  for (const auto& [k, v] : WindowPerformance(binary)) m[k] = v;
  EXPECT_DOUBLE_EQ(m["accuracy"], 0.5);
  EXPECT_DOUBLE_EQ(m["precision"], 0.5);
  EXPECT_DOUBLE_EQ(m["recall"], 0.5);
  EXPECT_DOUBLE_EQ(m["f1"], 0.5);
  EXPECT_DOUBLE_EQ(m["roc_auc"], 0.75);  // 3 of 4 (positive, negative) pairs ordered
  EXPECT_NEAR(m["log_loss"], -(std::log(0.9) + std::log(0.8) + 2 * std::log(0.4)) / 4, 1e-12);
  EXPECT_EQ(m.count("mae"), 0u);
  EXPECT_EQ(m["change.ddm"], 0);

  const std::vector<LabelledRow> regression = {{2.5, 3}, {0, -1}, {4, 2}};
  m.clear();
  for (const auto& [k, v] : WindowPerformance(regression)) m[k] = v;
  EXPECT_DOUBLE_EQ(m["mae"], (0.5 + 1 + 2) / 3);
  EXPECT_DOUBLE_EQ(m["rmse"], std::sqrt((0.25 + 1 + 4) / 3));
  EXPECT_EQ(m.count("accuracy"), 0u);
  EXPECT_EQ(m.count("change.ddm"), 0u);
  EXPECT_TRUE(WindowPerformance({}).empty());
}

TEST(WindowPerformanceTest, DetectorsSignalAJumpInTheErrorStreamOnly) {
  std::vector<LabelledRow> steady, jump;
  for (int i = 0; i < 4000; ++i) {
    const double noise = 0.1 * ((i * 7919) % 13) / 13.0;
    steady.push_back({10 + noise, 10});
    jump.push_back({10 + noise + (i >= 2000 ? 5 : 0), 10});
  }
  std::map<std::string, double> m;
  for (const auto& [k, v] : WindowPerformance(steady)) m[k] = v;
  EXPECT_EQ(m["change.adwin"], 0);
  EXPECT_EQ(m["change.page_hinkley"], 0);
  m.clear();
  for (const auto& [k, v] : WindowPerformance(jump)) m[k] = v;
  EXPECT_EQ(m["change.adwin"], 1);
  EXPECT_EQ(m["change.page_hinkley"], 1);
}

}  // namespace
}  // namespace mlforge::monitor

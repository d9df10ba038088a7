// TrackingService semantics on SQLite and PostgreSQL (same tests, both backends).
#include "tracking/tracking.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <thread>

#include "base/clock.h"
#include "base/ids.h"
#include "support/scratch_database.h"
#include "tracking/schema.h"

namespace mlforge::tracking {
namespace {

class TrackingTest : public ::testing::TestWithParam<sql::Backend> {
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
    auto opened = TrackingService::Open(*db_, clock_, *ids_);
    ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
    service_ = std::move(*opened);
  }

  std::string NewRun(const std::string& experiment_id = "0", int64_t start_time = 1000) {
    CreateRunRequest req;
    req.experiment_id = experiment_id;
    req.start_time = start_time;
    auto run = service_->CreateRun(req);
    EXPECT_TRUE(run.has_value()) << run.error().ToString();
    return run ? run->info.run_id : "";
  }

  FakeClock clock_;
  std::unique_ptr<IdGenerator> ids_ = MakeSequentialIdGenerator(7);
  std::unique_ptr<sql::testing::ScratchDatabase> scratch_;
  std::unique_ptr<sql::Database> db_;
  std::unique_ptr<TrackingService> service_;
};

TEST_P(TrackingTest, DefaultExperimentExistsAndReopenIsIdempotent) {
  auto e = service_->GetExperiment("0");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->name, "Default");
  EXPECT_EQ(e->artifact_location, "mlflow-artifacts:/0");
  auto again = TrackingService::Open(*db_, clock_, *ids_);
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  auto page = service_->SearchExperiments({});
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->experiments.size(), 1u);
}

TEST_P(TrackingTest, ExperimentLifecycle) {
  auto id = service_->CreateExperiment({.name = "churn", .artifact_location = "", .tags = {{"team", "a"}}});
  ASSERT_TRUE(id.has_value()) << id.error().ToString();
  EXPECT_EQ(*id, "1");
  auto dup = service_->CreateExperiment({.name = "churn"});
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().code(), ErrorCode::kResourceAlreadyExists);

  auto byname = service_->GetExperimentByName("churn");
  ASSERT_TRUE(byname.has_value());
  EXPECT_EQ(byname->experiment_id, "1");
  ASSERT_EQ(byname->tags.size(), 1u);
  EXPECT_EQ(byname->artifact_location, "mlflow-artifacts:/1");

  ASSERT_TRUE(service_->DeleteExperiment("1").ok());
  // A deleted experiment keeps its name and refuses new runs.
  EXPECT_EQ(service_->CreateExperiment({.name = "churn"}).error().code(),
            ErrorCode::kResourceAlreadyExists);
  CreateRunRequest req;
  req.experiment_id = "1";
  auto run = service_->CreateRun(req);
  ASSERT_FALSE(run.has_value());
  EXPECT_NE(run.error().message().find("must be in the 'active' state"), std::string::npos);
  EXPECT_EQ(service_->DeleteExperiment("1").code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(service_->RenameExperiment("1", "x").code(), ErrorCode::kInvalidState);

  ASSERT_TRUE(service_->RestoreExperiment("1").ok());
  ASSERT_TRUE(service_->RenameExperiment("1", "churn2").ok());
  EXPECT_EQ(service_->GetExperiment("1")->name, "churn2");
  EXPECT_EQ(service_->GetExperiment("42").error().code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(service_->GetExperiment("abc").error().code(), ErrorCode::kResourceDoesNotExist);
}

TEST_P(TrackingTest, ExperimentArtifactLocationMustBeServerManaged) {
  for (const char* bad : {"/tmp/x", "file:///etc", "s3://bucket/x", "mlflow-artifacts:/../x",
                          "http://10.0.0.1/x", "mlflow-artifacts:/a/%2e%2e/b"}) {
    auto r = service_->CreateExperiment({.name = std::string("e-") + bad, .artifact_location = bad});
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidParameterValue) << bad;
  }
  auto ok = service_->CreateExperiment({.name = "fine", .artifact_location = "mlflow-artifacts:/custom/place"});
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
}

TEST_P(TrackingTest, RunNamesAndRunNameTagStayInSync) {
  CreateRunRequest req;
  req.run_name = "first";
  auto run = service_->CreateRun(req);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->info.run_name, "first");
  EXPECT_EQ(run->info.status, "RUNNING");
  EXPECT_EQ(run->info.artifact_uri, "mlflow-artifacts:/0/" + run->info.run_id + "/artifacts");
  ASSERT_EQ(run->tags.size(), 1u);
  EXPECT_EQ(run->tags[0].key, "mlflow.runName");

  ASSERT_TRUE(service_->SetTag(run->info.run_id, {"mlflow.runName", "renamed"}).ok());
  EXPECT_EQ(service_->GetRun(run->info.run_id)->info.run_name, "renamed");

  auto generated = service_->CreateRun({});
  ASSERT_TRUE(generated.has_value());
  EXPECT_FALSE(generated->info.run_name.empty());

  CreateRunRequest conflict;
  conflict.run_name = "a";
  conflict.tags = {{"mlflow.runName", "b"}};
  EXPECT_EQ(service_->CreateRun(conflict).error().code(), ErrorCode::kInvalidParameterValue);
}

TEST_P(TrackingTest, ParamsAreImmutable) {
  std::string run = NewRun();
  ASSERT_TRUE(service_->LogParam(run, {"lr", "0.1"}).ok());
  ASSERT_TRUE(service_->LogParam(run, {"lr", "0.1"}).ok());
  Status changed = service_->LogParam(run, {"lr", "0.2"});
  EXPECT_EQ(changed.code(), ErrorCode::kInvalidParameterValue);
  EXPECT_NE(changed.message().find("Changing param values is not allowed"), std::string::npos);
  auto got = service_->GetRun(run);
  ASSERT_EQ(got->params.size(), 1u);
  EXPECT_EQ(got->params[0].value, "0.1");
}

TEST_P(TrackingTest, LongParamAndTagValuesAreTruncatedAsMlflowDoes) {
  std::string run = NewRun();
  ASSERT_TRUE(service_->LogParam(run, {"long", std::string(7000, 'x')}).ok());
  ASSERT_TRUE(service_->SetTag(run, {"t", std::string(6000, 'y')}).ok());
  auto got = service_->GetRun(run);
  EXPECT_EQ(got->params[0].value.size(), kMaxParamValueLength);
  for (const Tag& t : got->tags) {
    if (t.key == "t") {
      EXPECT_EQ(t.value.size(), kMaxTagValueLength);
    }
  }
  EXPECT_EQ(service_->LogParam(run, {std::string(251, 'k'), "v"}).code(),
            ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(service_->LogParam(run, {"bad/../key", "v"}).code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(service_->LogParam(run, {"semi;colon", "v"}).code(), ErrorCode::kInvalidParameterValue);
}

TEST_P(TrackingTest, MetricsNanInfAndLatestValue) {
  std::string run = NewRun();
  ASSERT_TRUE(service_->LogMetric(run, {"loss", 0.5, 100, 0}).ok());
  ASSERT_TRUE(service_->LogMetric(run, {"loss", 0.25, 200, 2}).ok());
  ASSERT_TRUE(service_->LogMetric(run, {"loss", 0.9, 300, 1}).ok());  // older step: not latest
  ASSERT_TRUE(service_->LogMetric(run, {"nan", std::nan(""), 1, 0}).ok());
  ASSERT_TRUE(service_->LogMetric(run, {"inf", INFINITY, 1, 0}).ok());
  ASSERT_TRUE(service_->LogMetric(run, {"ninf", -INFINITY, 1, 0}).ok());
  // Exact duplicates are stored once.
  ASSERT_TRUE(service_->LogMetric(run, {"loss", 0.5, 100, 0}).ok());

  auto got = service_->GetRun(run);
  ASSERT_TRUE(got.has_value());
  std::map<std::string, Metric> latest;
  for (const Metric& m : got->metrics) latest[m.key] = m;
  EXPECT_EQ(latest["loss"].value, 0.25);
  EXPECT_EQ(latest["loss"].step, 2);
  EXPECT_TRUE(std::isnan(latest["nan"].value));
  EXPECT_EQ(latest["inf"].value, DBL_MAX);
  EXPECT_EQ(latest["ninf"].value, -DBL_MAX);

  auto history = service_->GetMetricHistory({.run_id = run, .metric_key = "loss"});
  ASSERT_TRUE(history.has_value());
  ASSERT_EQ(history->metrics.size(), 3u);
  EXPECT_EQ(history->metrics[0].step, 0);
  EXPECT_EQ(history->metrics[1].step, 1);
  EXPECT_EQ(history->metrics[2].step, 2);

  EXPECT_EQ(service_->LogMetric(run, {"neg", 1, -1, 0}).code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(service_->LogMetric("nope", {"a", 1, 1, 0}).code(), ErrorCode::kResourceDoesNotExist);
}

TEST_P(TrackingTest, MetricHistoryPages) {
  std::string run = NewRun();
  std::vector<Metric> batch;
  for (int i = 0; i < 1000; ++i) batch.push_back({"m", double(i), 10, i});
  ASSERT_TRUE(service_->LogBatch(run, batch, {}, {}).ok());
  std::vector<Metric> all;
  std::string token;
  int pages = 0;
  do {
    auto page = service_->GetMetricHistory(
        {.run_id = run, .metric_key = "m", .max_results = 300, .page_token = token});
    ASSERT_TRUE(page.has_value()) << page.error().ToString();
    all.insert(all.end(), page->metrics.begin(), page->metrics.end());
    token = page->next_page_token;
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 4);
  ASSERT_EQ(all.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(all[i].step, i);
  EXPECT_EQ(service_->GetMetricHistory({.run_id = run, .metric_key = "m", .page_token = "garbage!"})
                .error()
                .code(),
            ErrorCode::kInvalidParameterValue);
}

TEST_P(TrackingTest, LogBatchIsAtomicAndBounded) {
  std::string run = NewRun();
  ASSERT_TRUE(service_->LogParam(run, {"p", "1"}).ok());
  // The changed param fails the whole batch: the metric must not land.
  Status s = service_->LogBatch(run, std::vector<Metric>{{"m", 1, 1, 0}},
                                std::vector<Param>{{"p", "2"}}, {});
  EXPECT_EQ(s.code(), ErrorCode::kInvalidParameterValue);
  EXPECT_TRUE(service_->GetRun(run)->metrics.empty());

  std::vector<Metric> too_many(1001, Metric{"m", 1, 1, 0});
  EXPECT_EQ(service_->LogBatch(run, too_many, {}, {}).code(), ErrorCode::kInvalidParameterValue);
  std::vector<Param> params(101);
  for (int i = 0; i < 101; ++i) params[i] = {"k" + std::to_string(i), "v"};
  EXPECT_EQ(service_->LogBatch(run, {}, params, {}).code(), ErrorCode::kInvalidParameterValue);
  std::vector<Metric> m900(900, Metric{"m", 1, 1, 0});
  std::vector<Param> p100(100);
  for (int i = 0; i < 100; ++i) p100[i] = {"k" + std::to_string(i), "v"};
  std::vector<Tag> t1{{"t", "v"}};
  EXPECT_EQ(service_->LogBatch(run, m900, p100, t1).code(), ErrorCode::kInvalidParameterValue);
  std::vector<Param> dup{{"d", "1"}, {"d", "2"}};
  EXPECT_EQ(service_->LogBatch(run, {}, dup, {}).code(), ErrorCode::kInvalidParameterValue);
  std::vector<Param> same{{"d", "1"}, {"d", "1"}};  // MLflow rejects any repeated key
  EXPECT_EQ(service_->LogBatch(run, {}, same, {}).code(), ErrorCode::kInvalidParameterValue);

  std::vector<Metric> ok_batch;
  for (int i = 0; i < 1000; ++i) ok_batch.push_back({"k" + std::to_string(i % 7), double(i), i, i});
  ASSERT_TRUE(service_->LogBatch(run, ok_batch, {}, {}).ok());
  EXPECT_EQ(service_->GetRun(run)->metrics.size(), 7u);
}

TEST_P(TrackingTest, DeletedRunsRefuseWritesAndRestore) {
  std::string run = NewRun();
  ASSERT_TRUE(service_->DeleteRun(run).ok());
  EXPECT_EQ(service_->GetRun(run)->info.lifecycle_stage, "deleted");
  EXPECT_EQ(service_->LogMetric(run, {"a", 1, 1, 0}).code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(service_->UpdateRun({.run_id = run, .status = "FINISHED"}).error().code(),
            ErrorCode::kInvalidParameterValue);
  ASSERT_TRUE(service_->RestoreRun(run).ok());
  auto info = service_->UpdateRun({.run_id = run, .status = "FINISHED", .end_time = 2000});
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->status, "FINISHED");
  EXPECT_EQ(info->end_time, 2000);
  EXPECT_EQ(service_->UpdateRun({.run_id = run, .status = "DONE"}).error().code(),
            ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(service_->DeleteRun("missing").code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(service_->DeleteTag(run, "nope").code(), ErrorCode::kResourceDoesNotExist);
}

TEST_P(TrackingTest, SearchRunsFiltersOrdersAndPages) {
  std::vector<std::string> runs;
  for (int i = 0; i < 25; ++i) {
    std::string run = NewRun("0", 1000 + i);
    runs.push_back(run);
    ASSERT_TRUE(service_->LogMetric(run, {"acc", i / 25.0, 1, 0}).ok());
    ASSERT_TRUE(service_->LogParam(run, {"model", i % 2 ? "xgb" : "linear"}).ok());
  }
  auto page = service_->SearchRuns({.experiment_ids = {"0"},
                                    .filter = "metrics.acc >= 0.5 and params.model = 'xgb'",
                                    .max_results = 5,
                                    .order_by = {"metrics.acc DESC"}});
  ASSERT_TRUE(page.has_value()) << page.error().ToString();
  ASSERT_EQ(page->runs.size(), 5u);
  EXPECT_EQ(page->runs[0].info.run_id, runs[23]);
  EXPECT_EQ(page->runs[1].info.run_id, runs[21]);
  ASSERT_FALSE(page->next_page_token.empty());
  auto next = service_->SearchRuns({.experiment_ids = {"0"},
                                    .filter = "metrics.acc >= 0.5 and params.model = 'xgb'",
                                    .max_results = 5,
                                    .order_by = {"metrics.acc DESC"},
                                    .page_token = page->next_page_token});
  ASSERT_TRUE(next.has_value());
  ASSERT_EQ(next->runs.size(), 1u);  // runs 23,21,19,17,15 then 13
  EXPECT_EQ(next->runs[0].info.run_id, runs[13]);
  EXPECT_TRUE(next->next_page_token.empty());

  // Default order: newest start_time first.
  auto all = service_->SearchRuns({.experiment_ids = {"0"}});
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->runs.size(), 25u);
  EXPECT_EQ(all->runs.front().info.run_id, runs.back());
  EXPECT_EQ(all->runs.front().metrics.size(), 1u);
  EXPECT_EQ(all->runs.front().params.size(), 1u);

  auto bad = service_->SearchRuns({.experiment_ids = {"0"}, .filter = "metrics.acc >> 1"});
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(service_->SearchRuns({.experiment_ids = {"0"}, .max_results = 50001}).error().code(),
            ErrorCode::kInvalidParameterValue);
  ASSERT_TRUE(service_->DeleteRun(runs[0]).ok());
  auto deleted = service_->SearchRuns({.experiment_ids = {"0"}, .run_view_type = ViewType::kDeletedOnly});
  ASSERT_EQ(deleted->runs.size(), 1u);
}

TEST_P(TrackingTest, SearchExperimentsFilterAndOrder) {
  for (const char* name : {"alpha", "beta", "gamma"}) {
    ASSERT_TRUE(service_->CreateExperiment({.name = name}).has_value());
    clock_.Advance(10);
  }
  auto page = service_->SearchExperiments({.filter = "name LIKE '%a'", .order_by = {"name ASC"}});
  ASSERT_TRUE(page.has_value()) << page.error().ToString();
  ASSERT_EQ(page->experiments.size(), 3u);  // alpha, beta, gamma (Default has no trailing a)
  EXPECT_EQ(page->experiments[0].name, "alpha");
  auto newest = service_->SearchExperiments({.max_results = 1});
  ASSERT_TRUE(newest.has_value());
  EXPECT_EQ(newest->experiments[0].name, "gamma");
  EXPECT_FALSE(newest->next_page_token.empty());
}

TEST_P(TrackingTest, InputsAreLinkedAndDeduplicated) {
  std::string run = NewRun();
  DatasetInput in{{{"mlflow.data.context", "training"}},
                  {"iris", "abc123", "local", "{\"uri\":\"x\"}", "", ""}};
  ASSERT_TRUE(service_->LogInputs(run, std::vector<DatasetInput>{in}).ok());
  ASSERT_TRUE(service_->LogInputs(run, std::vector<DatasetInput>{in}).ok());
  auto got = service_->GetRun(run);
  ASSERT_EQ(got->inputs.size(), 1u);
  EXPECT_EQ(got->inputs[0].dataset.digest, "abc123");
  ASSERT_EQ(got->inputs[0].tags.size(), 1u);
  auto filtered = service_->SearchRuns({.experiment_ids = {"0"}, .filter = "datasets.digest = 'abc123'"});
  ASSERT_TRUE(filtered.has_value()) << filtered.error().ToString();
  EXPECT_EQ(filtered->runs.size(), 1u);
}

TEST_P(TrackingTest, BulkIntervalSamplesSteps) {
  std::string a = NewRun();
  std::string b = NewRun();
  std::vector<Metric> ma, mb;
  for (int i = 0; i < 1000; ++i) ma.push_back({"loss", double(i), 1, i});
  for (int i = 0; i < 10; ++i) mb.push_back({"loss", double(i), 1, i * 3});
  ASSERT_TRUE(service_->LogBatch(a, ma, {}, {}).ok());
  ASSERT_TRUE(service_->LogBatch(b, mb, {}, {}).ok());
  auto r = service_->GetMetricHistoryBulkInterval({.run_ids = {a, b}, .metric_key = "loss", .max_results = 50});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  size_t from_a = 0;
  for (const auto& m : *r) from_a += m.run_id == a;
  EXPECT_GE(from_a, 50u);
  EXPECT_LE(from_a, 60u);
  EXPECT_EQ(r->front().metric.step, 0);
  EXPECT_EQ(service_->GetMetricHistoryBulkInterval({.run_ids = {a}, .metric_key = "loss", .max_results = 0})
                .error()
                .code(),
            ErrorCode::kInvalidParameterValue);
}

TEST_P(TrackingTest, ConcurrentLoggingLosesNothing) {
  std::string run = NewRun();
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        if (!service_->LogMetric(run, {"m" + std::to_string(t), double(i), i, i}).ok()) errors++;
        if (!service_->SetTag(run, {"t" + std::to_string(t), std::to_string(i)}).ok()) errors++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  for (int t = 0; t < 6; ++t) {
    auto h = service_->GetMetricHistory({.run_id = run, .metric_key = "m" + std::to_string(t)});
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->metrics.size(), 100u);
  }
}

// A database written by schema v1 keeps every run, param, tag and metric
// point through the v2 upgrade, and new metric series never reuse an old id.
TEST_P(TrackingTest, SchemaV2UpgradeKeepsDataAndNumbersNewSeriesAfterOldOnes) {
  auto scratch = sql::testing::ScratchDatabase::Create(GetParam());
  ASSERT_TRUE(scratch.has_value()) << scratch.error().ToString();
  auto opened_db = (*scratch)->Open();
  ASSERT_TRUE(opened_db.has_value()) << opened_db.error().ToString();
  sql::Database& db = **opened_db;
  ASSERT_TRUE(db.Migrate("tracking", TrackingMigrations().first(1)).ok());
  Status seeded = db.Transact(sql::TxMode::kWrite, [](sql::Connection& c) -> Status {
    RETURN_IF_ERROR(c.ExecScript(
        "INSERT INTO experiments (experiment_id, name, artifact_location, creation_time, "
        "last_update_time) VALUES (0, 'Default', 'mlflow-artifacts:/0', 1, 1);"
        "INSERT INTO runs (run_uuid, experiment_id, status, start_time, artifact_uri) VALUES "
        "('0123456789abcdef0123456789abcdef', 0, 'RUNNING', 5, 'mlflow-artifacts:/0/r');"
        "INSERT INTO params (run_uuid, key, value) VALUES "
        "('0123456789abcdef0123456789abcdef', 'lr', '0.1');"
        "INSERT INTO tags (run_uuid, key, value) VALUES "
        "('0123456789abcdef0123456789abcdef', 'team', 'a');"
        "INSERT INTO latest_metrics (series_id, run_uuid, key, value, timestamp, step, is_nan) "
        "VALUES (41, '0123456789abcdef0123456789abcdef', 'loss', 0.5, 20, 2, 0);"
        "INSERT INTO metrics (series_id, step, timestamp, value, is_nan) VALUES "
        "(41, 1, 10, 0.9, 0), (41, 2, 20, 0.5, 0);"));
    return Status::Ok();
  });
  ASSERT_TRUE(seeded.ok()) << seeded.ToString();

  auto service = TrackingService::Open(db, clock_, *ids_);  // applies v2
  ASSERT_TRUE(service.has_value()) << service.error().ToString();
  const std::string run = "0123456789abcdef0123456789abcdef";
  auto loaded = (*service)->GetRun(run);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().ToString();
  ASSERT_EQ(loaded->params.size(), 1u);
  EXPECT_EQ(loaded->params[0].value, "0.1");
  ASSERT_EQ(loaded->metrics.size(), 1u);
  EXPECT_EQ(loaded->metrics[0].value, 0.5);

  ASSERT_TRUE((*service)->LogMetric(run, {.key = "acc", .value = 0.7, .timestamp = 30, .step = 0}).ok());
  ASSERT_TRUE((*service)->LogMetric(run, {.key = "loss", .value = 0.4, .timestamp = 30, .step = 3}).ok());
  // The same point as a v1 row again: still stored once.
  ASSERT_TRUE((*service)->LogMetric(run, {.key = "loss", .value = 0.9, .timestamp = 10, .step = 1}).ok());
  auto loss = (*service)->GetMetricHistory({.run_id = run, .metric_key = "loss"});
  ASSERT_TRUE(loss.has_value());
  ASSERT_EQ(loss->metrics.size(), 3u);  // the two old points and the new one, nothing of "acc"
  EXPECT_EQ(loss->metrics[2].value, 0.4);
  auto acc = (*service)->GetMetricHistory({.run_id = run, .metric_key = "acc"});
  ASSERT_TRUE(acc.has_value());
  ASSERT_EQ(acc->metrics.size(), 1u);
  EXPECT_EQ(acc->metrics[0].value, 0.7);
  auto page = (*service)->SearchRuns(
      {.experiment_ids = {"0"}, .filter = "metrics.loss < 0.45 AND params.lr = '0.1'"});
  ASSERT_TRUE(page.has_value()) << page.error().ToString();
  EXPECT_EQ(page->runs.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, TrackingTest,
                         ::testing::Values(sql::Backend::kSqlite, sql::Backend::kPostgres),
                         [](const auto& info) {
                           return info.param == sql::Backend::kSqlite ? "sqlite" : "postgres";
                         });

}  // namespace
}  // namespace mlforge::tracking

// AlertManager on SQLite and PostgreSQL: rule CRUD and validation, firing
// once while a condition holds and one resolved notice, for_windows,
// wildcards, webhook retries with backoff in the delivery log, Observe not
// waiting for deliveries, and firing state surviving a restart. Webhooks go
// to an HTTP server from src/http on 127.0.0.1, port 0.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/ids.h"
#include "base/json.h"
#include "http/http.h"
#include "monitor/monitor.h"
#include "support/scratch_database.h"
#include "support/webhook_receiver.h"

namespace mlforge::monitor {
namespace {

using mlforge::testing::Receiver;

using std::chrono::milliseconds;


class Recorder final : public AlertListener {
 public:
  void OnAlert(const AlertEvent& e) override {
    std::lock_guard lock(mu_);
    events.push_back(e);
  }
  std::mutex mu_;
  std::vector<AlertEvent> events;
};

MetricPoint Point(std::string deployment, std::string metric, double value, int64_t window) {
  return MetricPoint{.deployment = std::move(deployment),
                     .window_start_ms = window * 60'000,
                     .window_end_ms = (window + 1) * 60'000,
                     .metric = std::move(metric),
                     .value = value};
}

class AlertsTest : public ::testing::TestWithParam<sql::Backend> {
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
    OpenManager();
  }

  void OpenManager() {
    WebhookOptions options;
    options.max_attempts = 3;
    options.base_backoff = milliseconds(5);
    options.max_backoff = milliseconds(20);
    options.timeout = milliseconds(5000);
    auto m = AlertManager::Open(*db_, clock_, *ids_, options);
    ASSERT_TRUE(m.has_value()) << m.error().ToString();
    manager_ = std::move(*m);
  }

  AlertRule MustCreate(AlertRule r) {
    auto created = manager_->CreateRule(r);
    EXPECT_TRUE(created.has_value()) << created.error().ToString();
    return created ? *created : AlertRule{};
  }

  void Eval(std::vector<MetricPoint> points) {
    ASSERT_OK(manager_->Evaluate(points));
    clock_.Advance(60'000);
  }

  FakeClock clock_;
  std::unique_ptr<IdGenerator> ids_ = MakeSequentialIdGenerator(5);
  std::unique_ptr<sql::testing::ScratchDatabase> scratch_;
  std::unique_ptr<sql::Database> db_;
  std::unique_ptr<AlertManager> manager_;
};

TEST_P(AlertsTest, RuleCrudAndValidation) {
  AlertRule r{.name = "drift",
              .deployment = "fraud",
              .metric = "drift_share",
              .op = CompareOp::kGe,
              .threshold = 0.5,
              .for_windows = 2,
              .webhooks = {"http://hooks.example:8080/a?b=c"}};
  AlertRule created = MustCreate(r);
  EXPECT_EQ(created.id.size(), 32u);
  EXPECT_EQ(created.creation_timestamp, clock_.NowMillis());
  auto got = manager_->GetRule(created.id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->name, "drift");
  EXPECT_EQ(got->op, CompareOp::kGe);
  EXPECT_EQ(got->threshold, 0.5);
  EXPECT_EQ(got->for_windows, 2);
  EXPECT_EQ(got->webhooks, r.webhooks);
  EXPECT_TRUE(got->enabled);

  clock_.Advance(10);
  auto updated =
      manager_->UpdateRule(AlertRuleUpdate{.id = created.id, .threshold = 0.7, .enabled = false});
  ASSERT_TRUE(updated.has_value()) << updated.error().ToString();
  EXPECT_EQ(updated->threshold, 0.7);
  EXPECT_FALSE(updated->enabled);
  EXPECT_EQ(updated->name, "drift");  // untouched
  EXPECT_EQ(updated->last_updated_timestamp, created.creation_timestamp + 10);
  // An update that makes the rule invalid is refused as a whole.
  auto bad_update = manager_->UpdateRule(AlertRuleUpdate{.id = created.id, .for_windows = 0});
  ASSERT_FALSE(bad_update.has_value());
  EXPECT_NE(bad_update.error().message().find("for_windows"), std::string::npos);
  EXPECT_EQ(manager_->GetRule(created.id)->for_windows, 2);

  MustCreate(AlertRule{.name = "second", .metric = "feature_drift.*", .threshold = 0});
  auto all = manager_->ListRules();
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "drift");

  ASSERT_OK(manager_->DeleteRule(created.id));
  EXPECT_EQ(manager_->GetRule(created.id).error().code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(manager_->DeleteRule(created.id).code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(manager_->UpdateRule(AlertRuleUpdate{.id = "nope", .threshold = 1}).error().code(),
            ErrorCode::kResourceDoesNotExist);

  struct Bad {
    AlertRule rule;
    const char* field;
  };
  const AlertRule ok{.name = "n", .metric = "rmse"};
  std::vector<Bad> bad;
  bad.push_back({AlertRule{.name = "", .metric = "rmse"}, "name"});
  bad.push_back({AlertRule{.name = "n", .metric = ""}, "metric"});
  bad.push_back({AlertRule{.name = "n", .metric = "feature*"}, "metric"});
  bad.push_back({AlertRule{.name = "n", .metric = "a.*.b"}, "metric"});
  bad.push_back({AlertRule{.name = "n", .metric = "rmse", .threshold = kNaN}, "threshold"});
  bad.push_back({AlertRule{.name = "n", .metric = "rmse", .for_windows = 0}, "for_windows"});
  for (const char* url : {"ftp://x/y", "http://", "http://h:0/", "http://h:99999/",
                          "https://secure/", "http://u:p@h/", "http://h/a b"}) {
    AlertRule r2 = ok;
    r2.webhooks = {"http://fine/", url};
    bad.push_back({r2, "webhooks[1]"});
  }
  for (const Bad& b : bad) {
    auto result = manager_->CreateRule(b.rule);
    ASSERT_FALSE(result.has_value()) << b.field;
    EXPECT_EQ(result.error().code(), ErrorCode::kInvalidParameterValue);
    EXPECT_NE(result.error().message().find(b.field), std::string::npos)
        << result.error().message();
  }
  EXPECT_EQ(manager_->ListRules()->size(), 1u);
}

TEST_P(AlertsTest, FiresOnceWhileTrueAndResolvesOnce) {
  Receiver receiver;
  Recorder listener;
  manager_->AddListener(&listener);
  AlertRule rule = MustCreate(AlertRule{.name = "drift share",
                                        .metric = "drift_share",
                                        .op = CompareOp::kGt,
                                        .threshold = 0.3,
                                        .webhooks = {receiver.url()}});
  const int64_t fired_at = clock_.NowMillis();
  Eval({Point("fraud", "drift_share", 0.5, 1), Point("fraud", "rows", 100, 1)});
  Eval({Point("fraud", "drift_share", 0.6, 2)});
  Eval({Point("fraud", "drift_share", 0.7, 3)});
  const int64_t resolved_at = clock_.NowMillis();
  Eval({Point("fraud", "drift_share", 0.1, 4)});
  Eval({Point("fraud", "drift_share", 0.05, 5)});
  ASSERT_TRUE(manager_->WaitForDeliveries(milliseconds(10'000)));

  const auto bodies = receiver.bodies();
  ASSERT_EQ(bodies.size(), 2u);
  auto firing = json::Parse(bodies[0]);
  auto resolved = json::Parse(bodies[1]);
  ASSERT_TRUE(firing && resolved);
  EXPECT_EQ(firing->Find("status")->as_string(), "firing");
  const json::Value& fa = *firing->Find("alert");
  EXPECT_EQ(fa.Find("rule_id")->as_string(), rule.id);
  EXPECT_EQ(fa.Find("rule_name")->as_string(), "drift share");
  EXPECT_EQ(fa.Find("deployment")->as_string(), "fraud");
  EXPECT_EQ(fa.Find("metric")->as_string(), "drift_share");
  EXPECT_EQ(fa.Find("op")->as_string(), ">");
  EXPECT_DOUBLE_EQ(fa.Find("value")->as_double(), 0.5);
  EXPECT_DOUBLE_EQ(fa.Find("threshold")->as_double(), 0.3);
  EXPECT_EQ(fa.Find("window_start")->as_int64(), 60'000);
  EXPECT_EQ(fa.Find("first_seen")->as_int64(), fired_at);
  EXPECT_EQ(resolved->Find("status")->as_string(), "resolved");
  EXPECT_EQ(resolved->Find("alert")->Find("id")->as_string(), fa.Find("id")->as_string());
  EXPECT_DOUBLE_EQ(resolved->Find("alert")->Find("value")->as_double(), 0.1);
  EXPECT_EQ(resolved->Find("alert")->Find("resolved_time")->as_int64(), resolved_at);
  // Firing lasted three windows: last_seen is the third.
  EXPECT_EQ(resolved->Find("alert")->Find("last_seen")->as_int64(), fired_at + 2 * 60'000);

  {
    std::lock_guard lock(listener.mu_);
    ASSERT_EQ(listener.events.size(), 2u);
    EXPECT_EQ(listener.events[0].state, AlertState::kFiring);
    EXPECT_EQ(listener.events[1].state, AlertState::kResolved);
  }
  auto alerts = manager_->ListAlerts(AlertFilter{});
  ASSERT_TRUE(alerts.has_value());
  ASSERT_EQ(alerts->size(), 1u);
  EXPECT_EQ((*alerts)[0].state, AlertState::kResolved);
  EXPECT_EQ(manager_->ListAlerts(AlertFilter{.state = AlertState::kFiring})->size(), 0u);

  // It can fire again: same alert row, a new firing notice.
  Eval({Point("fraud", "drift_share", 0.9, 6)});
  ASSERT_TRUE(manager_->WaitForDeliveries(milliseconds(10'000)));
  EXPECT_EQ(receiver.bodies().size(), 3u);
  alerts = manager_->ListAlerts(AlertFilter{.deployment = "fraud"});
  ASSERT_EQ(alerts->size(), 1u);
  EXPECT_EQ((*alerts)[0].state, AlertState::kFiring);
  EXPECT_EQ((*alerts)[0].resolved_ms, 0);

  auto log = manager_->ListDeliveries(DeliveryFilter{.rule_id = rule.id});
  ASSERT_TRUE(log.has_value());
  ASSERT_EQ(log->size(), 3u);
  for (const DeliveryAttempt& a : *log) {
    EXPECT_TRUE(a.success);
    EXPECT_EQ(a.status_code, 200);
    EXPECT_EQ(a.attempt, 1);
  }
  manager_->RemoveListener(&listener);
}

TEST_P(AlertsTest, ForWindowsNeedsConsecutiveWindows) {
  Recorder listener;
  manager_->AddListener(&listener);
  MustCreate(AlertRule{.name = "auc",
                       .deployment = "fraud",
                       .metric = "roc_auc",
                       .op = CompareOp::kLt,
                       .threshold = 0.7,
                       .for_windows = 3});
  for (double v : {0.6, 0.65, 0.8, 0.6, 0.5}) Eval({Point("fraud", "roc_auc", v, 1)});
  EXPECT_TRUE(listener.events.empty());
  EXPECT_TRUE(manager_->ListAlerts(AlertFilter{})->empty());
  Eval({Point("fraud", "roc_auc", 0.69, 2)});
  ASSERT_EQ(listener.events.size(), 1u);
  EXPECT_EQ(listener.events[0].alert.value, 0.69);
  // NaN is "no data": neither holds nor resolves.
  Eval({Point("fraud", "roc_auc", kNaN, 3)});
  EXPECT_EQ(manager_->ListAlerts(AlertFilter{.state = AlertState::kFiring})->size(), 1u);
  manager_->RemoveListener(&listener);
}

TEST_P(AlertsTest, WildcardsDeploymentsAndDisabledRules) {
  Recorder listener;
  manager_->AddListener(&listener);
  AlertRule any = MustCreate(AlertRule{.name = "features",
                                       .deployment = "fraud",
                                       .metric = "feature_drift.*",
                                       .op = CompareOp::kGe,
                                       .threshold = 1});
  MustCreate(AlertRule{
      .name = "off", .metric = "rows", .op = CompareOp::kGe, .threshold = 0, .enabled = false});
  Eval({Point("fraud", "feature_drift.age", 1, 1), Point("fraud", "feature_drift.income", 1, 1),
        Point("fraud", "feature_drift.zip", 0, 1), Point("fraud", "feature_drift", 1, 1),
        Point("fraud", "feature_drifty.x", 1, 1), Point("churn", "feature_drift.age", 1, 1),
        Point("fraud", "rows", 5, 1)});
  ASSERT_EQ(listener.events.size(), 2u);
  auto alerts = manager_->ListAlerts(AlertFilter{.rule_id = any.id});
  ASSERT_EQ(alerts->size(), 2u);
  std::vector<std::string> metrics{(*alerts)[0].metric, (*alerts)[1].metric};
  std::sort(metrics.begin(), metrics.end());
  EXPECT_EQ(metrics, (std::vector<std::string>{"feature_drift.age", "feature_drift.income"}));
  EXPECT_TRUE(manager_->ListAlerts(AlertFilter{.deployment = "churn"})->empty());
  EXPECT_FALSE(manager_->ListAlerts(AlertFilter{.max_results = 0}).has_value());
  manager_->RemoveListener(&listener);
}

TEST_P(AlertsTest, WebhookRetriesWithBackoffAreLogged) {
  Receiver flaky(/*fail_first=*/2);
  // A port nobody listens on: every attempt fails without a response.
  uint16_t dead_port = 0;
  {
    Receiver gone;
    dead_port = static_cast<uint16_t>(std::stoi(gone.url().substr(17)));
  }
  const std::string dead = "http://127.0.0.1:" + std::to_string(dead_port) + "/hook";
  AlertRule rule = MustCreate(AlertRule{
      .name = "err", .metric = "error_rate", .threshold = 0.05, .webhooks = {flaky.url(), dead}});
  Eval({Point("svc", "error_rate", 0.2, 1)});
  ASSERT_TRUE(manager_->WaitForDeliveries(milliseconds(20'000)));
  EXPECT_EQ(flaky.requests(), 3);
  ASSERT_EQ(flaky.bodies().size(), 1u);

  auto log = manager_->ListDeliveries(DeliveryFilter{.rule_id = rule.id});
  ASSERT_TRUE(log.has_value());
  std::vector<DeliveryAttempt> to_flaky;
  std::vector<DeliveryAttempt> to_dead;
  for (auto it = log->rbegin(); it != log->rend(); ++it) {  // oldest first
    (it->url == dead ? to_dead : to_flaky).push_back(*it);
  }
  ASSERT_EQ(to_flaky.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(to_flaky[i].attempt, i + 1);
    EXPECT_EQ(to_flaky[i].event, AlertState::kFiring);
  }
  EXPECT_EQ(to_flaky[0].status_code, 500);
  EXPECT_EQ(to_flaky[0].error, "HTTP 500");
  EXPECT_FALSE(to_flaky[1].success);
  EXPECT_FALSE(to_flaky[1].final);
  EXPECT_EQ(to_flaky[2].status_code, 200);
  EXPECT_TRUE(to_flaky[2].success);
  EXPECT_TRUE(to_flaky[2].final);
  // max_attempts = 3, then it gives up.
  ASSERT_EQ(to_dead.size(), 3u);
  for (const DeliveryAttempt& a : to_dead) {
    EXPECT_EQ(a.status_code, 0);
    EXPECT_FALSE(a.error.empty());
    EXPECT_FALSE(a.success);
  }
  EXPECT_FALSE(to_dead[1].final);
  EXPECT_TRUE(to_dead[2].final);
  const int64_t alert_id = to_dead[0].alert_id;
  EXPECT_EQ(manager_->ListDeliveries(DeliveryFilter{.alert_id = alert_id})->size(), 6u);
  EXPECT_EQ(manager_->ListDeliveries(DeliveryFilter{.alert_id = alert_id + 1000})->size(), 0u);
}

TEST_P(AlertsTest, ObserveDoesNotWaitForWebhooks) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> timed_out{false};
  std::atomic<int> calls{0};
  Receiver slow(0, [&](http::Request&, http::Response& res) {
    ++calls;
    if (released.wait_for(std::chrono::seconds(20)) != std::future_status::ready) timed_out = true;
    res.SetJson("{}");
  });
  MustCreate(AlertRule{.name = "slow", .metric = "rmse", .threshold = 1, .webhooks = {slow.url()}});
  // Both evaluations return while the receiver holds the first delivery.
  Eval({Point("reg", "rmse", 2, 1)});
  Eval({Point("reg", "rmse", 0.5, 2)});
  EXPECT_EQ(manager_->ListAlerts(AlertFilter{})->at(0).state, AlertState::kResolved);
  // No attempt has finished: had Evaluate waited for the webhook, the
  // first attempt would be logged (a timeout) by now.
  EXPECT_TRUE(manager_->ListDeliveries(DeliveryFilter{})->empty());
  release.set_value();
  ASSERT_TRUE(manager_->WaitForDeliveries(milliseconds(20'000)));
  EXPECT_FALSE(timed_out.load());
  EXPECT_EQ(calls.load(), 2);
}

TEST_P(AlertsTest, FiringStateSurvivesARestart) {
  Receiver receiver;
  MustCreate(AlertRule{
      .name = "lat", .metric = "latency_p99_ms", .threshold = 100, .webhooks = {receiver.url()}});
  Eval({Point("api", "latency_p99_ms", 250, 1)});
  ASSERT_TRUE(manager_->WaitForDeliveries(milliseconds(10'000)));
  manager_->Shutdown();
  manager_.reset();
  OpenManager();
  // Still firing after the restart: no second firing notice...
  Eval({Point("api", "latency_p99_ms", 300, 2)});
  // ...and the resolution is announced.
  Eval({Point("api", "latency_p99_ms", 50, 3)});
  ASSERT_TRUE(manager_->WaitForDeliveries(milliseconds(10'000)));
  const auto bodies = receiver.bodies();
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_EQ(json::Parse(bodies[1])->Find("status")->as_string(), "resolved");
  EXPECT_DOUBLE_EQ(json::Parse(bodies[1])->Find("alert")->Find("value")->as_double(), 50);
}

INSTANTIATE_TEST_SUITE_P(Backends, AlertsTest,
                         ::testing::Values(sql::Backend::kSqlite, sql::Backend::kPostgres),
                         [](const auto& info) {
                           return info.param == sql::Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

TEST(AlertRulesTest, MetricPatternsAndOperators) {
  EXPECT_TRUE(MetricMatches("rmse", "rmse"));
  EXPECT_FALSE(MetricMatches("rmse", "rmse2"));
  EXPECT_TRUE(MetricMatches("p_value.*", "p_value.age"));
  EXPECT_FALSE(MetricMatches("p_value.*", "p_value."));
  EXPECT_FALSE(MetricMatches("p_value.*", "p_value"));
  EXPECT_TRUE(MetricMatches("change.*", "change.adwin"));
  EXPECT_TRUE(Compare(1, CompareOp::kGe, 1));
  EXPECT_FALSE(Compare(1, CompareOp::kGt, 1));
  EXPECT_TRUE(Compare(1, CompareOp::kLe, 1));
  EXPECT_FALSE(Compare(1, CompareOp::kLt, 1));
  EXPECT_FALSE(Compare(kNaN, CompareOp::kLt, 1));
  for (CompareOp op : {CompareOp::kGt, CompareOp::kGe, CompareOp::kLt, CompareOp::kLe}) {
    EXPECT_EQ(ParseCompareOp(CompareOpName(op)).value(), op);
  }
  EXPECT_EQ(ParseCompareOp("lt").value(), CompareOp::kLt);
  EXPECT_FALSE(ParseCompareOp("==").has_value());
}

}  // namespace
}  // namespace mlforge::monitor

// ServingEngine (the model manager): loading, alias moves and route changes
// as atomic swaps, failed loads that leave the old version serving, hot swap
// under running traffic, shadows, batching, unloading and metrics.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/thread_priority.h"
#include "serving/deploy_test_util.h"
#include "serving/model_manager.h"
#include "serving/serving.h"
#include "support/scratch_database.h"

namespace mlforge::serving {
namespace {

using namespace std::chrono_literals;
using testing::AliasRoute;
using testing::FakeModels;
using testing::Row;
using testing::VersionRoute;

struct Answer {
  Status status;
  int64_t version = 0;  // what the request was routed to
  double value = 0;     // the prediction (version * 1000 + features)
};

Answer Ask(ServingEngine& engine, std::string_view deployment, float x = 1,
           std::string_view key = {}, std::optional<int64_t> version = std::nullopt) {
  auto routed = engine.Route(deployment, version, key);
  if (!routed) return {routed.error()};
  Answer answer;
  answer.version = routed->version();
  std::promise<Result<double>> done;
  auto result = done.get_future();
  routed->Predict(Row(x), "req", [&done](const Result<PredictionBatch>& p) {
    if (p) {
      done.set_value(p->values.at(0));
    } else {
      done.set_value(Err(p.error()));
    }
  });
  auto value = result.get();
  if (!value) {
    answer.status = value.error();
  } else {
    answer.value = *value;
  }
  return answer;
}

class ManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto scratch = sql::testing::ScratchDatabase::Create(sql::Backend::kSqlite);
    ASSERT_TRUE(scratch.has_value()) << scratch.error().ToString();
    scratch_ = std::move(*scratch);
    auto db = scratch_->Open();
    ASSERT_TRUE(db.has_value());
    db_ = std::move(*db);
    auto store = DeploymentStore::Open(*db_, clock_);
    ASSERT_TRUE(store.has_value());
    store_ = std::move(*store);
    for (int v = 1; v <= 6; ++v) models_.AddVersion("fraud", v);
    models_.SetAlias("fraud", "champion", 1);
  }

  void StartEngine(std::chrono::milliseconds poll = 3600s) {
    EngineOptions options;
    options.poll_interval = poll;
    options.retry_interval = 3600s;  // a failed revision is retried only when something changes
    options.loader = models_.Loader();
    auto engine = ServingEngine::Start(*store_, models_, registry_, options);
    ASSERT_TRUE(engine.has_value()) << engine.error().ToString();
    engine_ = std::move(*engine);
  }

  void Create(const std::string& name, std::vector<RouteSpec> routes,
              DeploymentConfig config = {}) {
    CreateDeploymentRequest req;
    req.name = name;
    req.routes = std::move(routes);
    req.config = config;
    auto d = store_->Create(Actor{}, req);
    ASSERT_TRUE(d.has_value()) << d.error().ToString();
  }

  void SetRoutes(const std::string& name, std::vector<RouteSpec> routes) {
    UpdateDeploymentRequest req;
    req.name = name;
    req.routes = std::move(routes);
    ASSERT_TRUE(store_->Update(Actor{}, req).has_value());
  }

  double LoadedModels() { return registry_.GetGauge("mlforge_serving_loaded_models", "").value(); }

  // The last request's job is released on its batch thread just after its
  // answer, so an unload can lag the answer by a moment.
  bool EventuallyLoaded(double n) {
    for (int i = 0; i < 200; ++i) {
      engine_->Refresh();
      if (LoadedModels() == n) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  void TearDown() override {
    if (engine_) engine_->Shutdown();
  }

  FakeClock clock_;
  FakeModels models_;
  metrics::Registry registry_;
  std::unique_ptr<sql::testing::ScratchDatabase> scratch_;
  std::unique_ptr<sql::Database> db_;
  std::unique_ptr<DeploymentStore> store_;
  std::unique_ptr<ServingEngine> engine_;
};

TEST_F(ManagerTest, ServesWhatTheStoreHoldsAtStart) {
  Create("fraud-api", {AliasRoute("fraud", "champion")});
  StartEngine();
  Answer a = Ask(*engine_, "fraud-api", 2);
  ASSERT_TRUE(a.status.ok()) << a.status.ToString();
  EXPECT_EQ(a.version, 1);
  EXPECT_DOUBLE_EQ(a.value, 1004);
  auto status = engine_->GetStatus("fraud-api");
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->state, DeploymentState::kReady);
  EXPECT_EQ(status->serving_revision, 1);
  ASSERT_EQ(status->routes.size(), 1u);
  EXPECT_EQ(status->routes[0].version, 1);
  EXPECT_TRUE(engine_->IsReady("fraud-api", std::nullopt));
  EXPECT_TRUE(engine_->AllReady());
  EXPECT_EQ(LoadedModels(), 1);

  EXPECT_EQ(Ask(*engine_, "nope").status.code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(Ask(*engine_, "fraud-api", 1, "", 1).version, 1);
  EXPECT_EQ(Ask(*engine_, "fraud-api", 1, "", 2).status.code(), ErrorCode::kResourceDoesNotExist);
  auto info = engine_->Describe("fraud-api", std::nullopt);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->flavor, "test.fake");
  EXPECT_EQ(info->signature.inputs.size(), 2u);
}

// A thread's nice value is inherited by the threads it starts: batch threads
// started by a background-priority thread used to run at nice 19, behind the
// I/O threads whose requests they answer.
TEST_F(ManagerTest, BatchThreadsKeepNormalPriorityWhileLoadsRunInTheBackground) {
  const int normal = testing::ThreadNice();
  Create("fraud-api", {AliasRoute("fraud", "champion")});
  StartEngine();
  Answer a = Ask(*engine_, "fraud-api", 2);
  ASSERT_TRUE(a.status.ok()) << a.status.ToString();
  EXPECT_EQ(models_.predict_nice.load(), normal) << "the batch thread's nice value";
  if (normal < kBackgroundNice) {
    EXPECT_EQ(models_.load_nice.load(), kBackgroundNice) << "the loading thread's nice value";
  }
}

TEST_F(ManagerTest, AliasMoveAndRouteChangeSwapAndUnloadTheOldVersion) {
  Create("d", {AliasRoute("fraud", "champion")});
  StartEngine();
  EXPECT_EQ(Ask(*engine_, "d").version, 1);
  models_.SetAlias("fraud", "champion", 2);
  engine_->Refresh();
  EXPECT_EQ(Ask(*engine_, "d").version, 2);
  EXPECT_EQ(LoadedModels(), 2);  // version 1 stays loaded: the warm standby
  // Moving back swaps without a load.
  const int64_t loads = models_.loads();
  models_.SetAlias("fraud", "champion", 1);
  engine_->Refresh();
  EXPECT_EQ(Ask(*engine_, "d").version, 1);
  EXPECT_EQ(models_.loads(), loads);
  SetRoutes("d", {VersionRoute("fraud", 3)});
  engine_->Refresh();
  EXPECT_EQ(Ask(*engine_, "d").version, 3);
  EXPECT_EQ(engine_->GetStatus("d")->serving_revision, 2);
  EXPECT_TRUE(EventuallyLoaded(2));  // 3 serves, 1 is the standby, 2 is gone

  // A request routed before a swap finishes on its version, which stays
  // loaded until then even when it is no longer the standby.
  auto held = engine_->Route("d", std::nullopt, "");
  ASSERT_TRUE(held.has_value());
  SetRoutes("d", {VersionRoute("fraud", 4)});
  engine_->Refresh();
  SetRoutes("d", {VersionRoute("fraud", 5)});
  engine_->Refresh();
  EXPECT_EQ(LoadedModels(), 3);  // 5 serves, 4 is the standby, 3 is held
  std::promise<double> done;
  held->Predict(Row(0), "late",
                [&](const Result<PredictionBatch>& p) { done.set_value(p->values[0]); });
  EXPECT_DOUBLE_EQ(done.get_future().get(), 3000);
  EXPECT_EQ(Ask(*engine_, "d").version, 5);
  EXPECT_TRUE(EventuallyLoaded(2));  // version 3 goes once its last request is done
}

TEST_F(ManagerTest, FailedLoadKeepsTheOldVersionServingAndIsReported) {
  Create("d", {AliasRoute("fraud", "champion")});
  StartEngine();
  models_.BreakVersion("fraud", 5);
  models_.SetAlias("fraud", "champion", 5);
  engine_->Refresh();
  EXPECT_EQ(Ask(*engine_, "d").version, 1);
  auto status = engine_->GetStatus("d");
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->state, DeploymentState::kDegraded);
  EXPECT_NE(status->message.find("corrupt model file"), std::string::npos) << status->message;
  EXPECT_NE(status->message.find("fraud version 5"), std::string::npos) << status->message;
  EXPECT_EQ(
      registry_.GetCounter("mlforge_serving_model_loads_total", "", {{"result", "error"}}).value(),
      1u);
  // Not retried on every poll.
  const int64_t loads = models_.loads();
  engine_->Refresh();
  EXPECT_EQ(models_.loads(), loads);
  // An alias that no longer resolves is a failure of the same kind.
  models_.SetAlias("fraud", "champion", 2);
  engine_->Refresh();
  EXPECT_EQ(Ask(*engine_, "d").version, 2);
  EXPECT_EQ(engine_->GetStatus("d")->state, DeploymentState::kReady);
  EXPECT_TRUE(engine_->GetStatus("d")->message.empty());
}

TEST_F(ManagerTest, FirstRevisionFailingLeavesNothingServed) {
  models_.BreakVersion("fraud", 6);
  Create("broken", {VersionRoute("fraud", 6)});
  Create("ghost", {AliasRoute("fraud", "no-such-alias")});
  Create("ok", {VersionRoute("fraud", 1)});
  StartEngine();
  EXPECT_EQ(Ask(*engine_, "broken").status.code(), ErrorCode::kTemporarilyUnavailable);
  EXPECT_EQ(engine_->GetStatus("broken")->state, DeploymentState::kFailed);
  EXPECT_EQ(engine_->GetStatus("ghost")->state, DeploymentState::kFailed);
  EXPECT_NE(engine_->GetStatus("ghost")->message.find("no-such-alias"), std::string::npos);
  EXPECT_FALSE(engine_->AllReady());
  EXPECT_EQ(Ask(*engine_, "ok").version, 1);
  // Fixing the routes brings it up.
  SetRoutes("broken", {VersionRoute("fraud", 2)});
  engine_->Refresh();
  EXPECT_EQ(Ask(*engine_, "broken").version, 2);
  EXPECT_EQ(engine_->GetStatus("broken")->state, DeploymentState::kReady);
}

TEST_F(ManagerTest, DeletedDeploymentStopsServing) {
  Create("d", {VersionRoute("fraud", 1)});
  StartEngine();
  ASSERT_TRUE(store_->Delete(Actor{}, "d").ok());
  engine_->Refresh();
  EXPECT_EQ(Ask(*engine_, "d").status.code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_FALSE(engine_->GetStatus("d").has_value());
  EXPECT_TRUE(EventuallyLoaded(0));
}

TEST_F(ManagerTest, PollingPicksUpAliasMovesWithoutRefresh) {
  Create("d", {AliasRoute("fraud", "champion")});
  StartEngine(20ms);
  models_.SetAlias("fraud", "champion", 3);
  int64_t seen = 0;
  for (int i = 0; i < 500 && seen != 3; ++i) {
    seen = Ask(*engine_, "d").version;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(seen, 3);
}

TEST_F(ManagerTest, HotSwapUnderTrafficLosesNoRequest) {
  models_.SetDelay(200us);
  models_.BreakVersion("fraud", 5);
  Create("d", {AliasRoute("fraud", "champion")}, DeploymentConfig{.max_batch_rows = 16});
  StartEngine(5ms);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> failures{0};
  std::atomic<int64_t> wrong{0};
  std::atomic<int64_t> answered{0};
  std::vector<std::vector<int64_t>> seen(6);
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&, t] {
      while (!stop.load()) {
        Answer a = Ask(*engine_, "d", float(t));
        if (!a.status.ok()) {
          failures.fetch_add(1);
          continue;
        }
        // The answer comes from the version the request was routed to.
        if (a.value != a.version * 1000.0 + 2 * t) wrong.fetch_add(1);
        if (seen[t].empty() || seen[t].back() != a.version) seen[t].push_back(a.version);
        answered.fetch_add(1);
      }
    });
  }
  auto settle = [&](int64_t version) {
    for (int i = 0; i < 1000; ++i) {
      bool all = true;
      for (int t = 0; t < 6 && all; ++t) all = Ask(*engine_, "d", float(t)).version == version;
      if (all) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  };
  for (int64_t v : {2, 3, 4}) {
    models_.SetAlias("fraud", "champion", v);
    EXPECT_TRUE(settle(v)) << v;
  }
  models_.SetAlias("fraud", "champion", 5);  // fails to load: 4 serves on
  engine_->Refresh();
  EXPECT_EQ(engine_->GetStatus("d")->state, DeploymentState::kDegraded);
  std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(settle(4));
  models_.SetAlias("fraud", "champion", 6);
  EXPECT_TRUE(settle(6));
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(answered.load(), 100);
  // Every client saw versions only move forward: old, then new.
  for (const auto& versions : seen) {
    EXPECT_TRUE(std::is_sorted(versions.begin(), versions.end()));
    EXPECT_EQ(versions.back(), 6);
    EXPECT_EQ(std::count(versions.begin(), versions.end(), 5), 0);
  }
  EXPECT_EQ(engine_->GetStatus("d")->state, DeploymentState::kReady);
}

TEST_F(ManagerTest, ShadowNeverChangesTheAnswerAndIsRecorded) {
  Create("plain", {VersionRoute("fraud", 1)});
  Create("shadowed", {VersionRoute("fraud", 1), VersionRoute("fraud", 2, 0, RouteRole::kShadow)});
  StartEngine();
  for (int i = 0; i < 20; ++i) {
    Answer plain = Ask(*engine_, "plain", float(i));
    Answer shadowed = Ask(*engine_, "shadowed", float(i));
    ASSERT_TRUE(shadowed.status.ok());
    EXPECT_EQ(shadowed.version, plain.version);
    EXPECT_DOUBLE_EQ(shadowed.value, plain.value);
  }
  std::optional<ShadowStats> stats;
  for (int i = 0; i < 500; ++i) {
    stats = engine_->Shadow("shadowed");
    if (stats && stats->mirrored == 20) break;
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->mirrored, 20u);
  EXPECT_EQ(stats->dropped, 0u);
  ASSERT_EQ(stats->samples.size(), 20u);
  const ShadowSample& last = stats->samples.back();
  EXPECT_EQ(last.primary_version, 1);
  EXPECT_EQ(last.request_id, "req");
  ASSERT_EQ(last.shadows.size(), 1u);
  EXPECT_EQ(last.shadows[0].version, 2);
  EXPECT_DOUBLE_EQ(last.shadows[0].values[0], last.primary_values[0] + 1000);
  EXPECT_EQ(engine_->Shadow("plain")->mirrored, 0u);
  const std::string text = registry_.Render();
  EXPECT_NE(
      text.find("mlforge_serving_shadow_requests_total{deployment=\"shadowed\",model=\"fraud\","
                "version=\"2\"} 20"),
      std::string::npos)
      << text;
}

TEST_F(ManagerTest, ConcurrentRequestsAreBatchedAndCounted) {
  models_.SetDelay(1ms);
  Create("d", {VersionRoute("fraud", 1)}, DeploymentConfig{.max_batch_rows = 4});
  StartEngine();
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        if (!Ask(*engine_, "d").status.ok()) failures.fetch_add(1);
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(models_.max_batch_rows.load(), 1);
  EXPECT_LE(models_.max_batch_rows.load(), 4);
  const std::string text = registry_.Render();
  EXPECT_NE(
      text.find(
          "mlforge_serving_requests_total{deployment=\"d\",model=\"fraud\",version=\"1\"} 200"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find("mlforge_serving_batch_rows_count{deployment=\"d\",model=\"fraud\",version=\"1\"}"),
      std::string::npos);
  EXPECT_NE(
      text.find("mlforge_serving_queue_rows{deployment=\"d\",model=\"fraud\",version=\"1\"} 0"),
      std::string::npos);
  EXPECT_NE(text.find("mlforge_serving_request_duration_seconds_bucket{deployment=\"d\""),
            std::string::npos);
}

TEST_F(ManagerTest, RejectedRequestsAreCounted) {
  Create("d", {VersionRoute("fraud", 1)});
  StartEngine();
  auto routed = engine_->Route("d", std::nullopt, "");
  ASSERT_TRUE(routed.has_value());
  routed->Reject();
  EXPECT_EQ(registry_
                .GetCounter("mlforge_serving_request_errors_total", "",
                            {{"deployment", "d"}, {"reason", "bad_request"}})
                .value(),
            1u);
}

TEST(DeploymentStates, TransitionsAreListedOnce) {
  using S = DeploymentState;
  EXPECT_TRUE(IsLegalTransition(S::kPending, S::kReady));
  EXPECT_TRUE(IsLegalTransition(S::kReady, S::kUpdating));
  EXPECT_TRUE(IsLegalTransition(S::kUpdating, S::kDegraded));
  EXPECT_TRUE(IsLegalTransition(S::kDegraded, S::kReady));
  EXPECT_TRUE(IsLegalTransition(S::kFailed, S::kPending));
  EXPECT_FALSE(IsLegalTransition(S::kReady, S::kFailed));
  EXPECT_FALSE(IsLegalTransition(S::kPending, S::kDegraded));
  EXPECT_FALSE(IsLegalTransition(S::kFailed, S::kUpdating));
  EXPECT_EQ(DeploymentStateName(S::kDegraded), "DEGRADED");
}

}  // namespace
}  // namespace mlforge::serving

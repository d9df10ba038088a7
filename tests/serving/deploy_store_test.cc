// DeploymentStore on SQLite and PostgreSQL: create/get/list/update/delete,
// the append-only history, rollback, validation and concurrent updates.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/json.h"
#include "serving/serving.h"
#include "support/scratch_database.h"

namespace mlforge::serving {
namespace {

RouteSpec Alias(std::string model, std::string alias, double weight = 1,
                RouteRole role = RouteRole::kPrimary) {
  RouteSpec r;
  r.model_name = std::move(model);
  r.alias = std::move(alias);
  r.weight = weight;
  r.role = role;
  return r;
}

RouteSpec Number(std::string model, int64_t version, double weight = 1,
                 RouteRole role = RouteRole::kPrimary) {
  RouteSpec r;
  r.model_name = std::move(model);
  r.version = version;
  r.weight = weight;
  r.role = role;
  return r;
}

class DeployStoreTest : public ::testing::TestWithParam<sql::Backend> {
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
    auto store = DeploymentStore::Open(*db_, clock_);
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    store_ = std::move(*store);
  }

  Deployment MustCreate(const std::string& name, std::vector<RouteSpec> routes) {
    CreateDeploymentRequest req;
    req.name = name;
    req.routes = std::move(routes);
    auto d = store_->Create(alice_, req);
    EXPECT_TRUE(d.has_value()) << d.error().ToString();
    return d ? *d : Deployment{};
  }

  Result<Deployment> SetRoutes(const std::string& name, std::vector<RouteSpec> routes) {
    UpdateDeploymentRequest req;
    req.name = name;
    req.routes = std::move(routes);
    return store_->Update(alice_, req);
  }

  FakeClock clock_;
  Actor alice_{"alice"};
  std::unique_ptr<sql::testing::ScratchDatabase> scratch_;
  std::unique_ptr<sql::Database> db_;
  std::unique_ptr<DeploymentStore> store_;
};

TEST_P(DeployStoreTest, CreateGetListRoundTrip) {
  Deployment d = MustCreate("fraud-api", {Alias("fraud", "champion", 70),
                                          Alias("fraud", "challenger", 30, RouteRole::kChallenger),
                                          Number("fraud", 7, 0, RouteRole::kShadow)});
  EXPECT_EQ(d.revision, 1);
  EXPECT_EQ(d.creation_timestamp, clock_.NowMillis());
  auto got = store_->Get("fraud-api");
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  ASSERT_EQ(got->routes.size(), 3u);
  EXPECT_EQ(got->routes[0], Alias("fraud", "champion", 70));
  EXPECT_EQ(got->routes[1], Alias("fraud", "challenger", 30, RouteRole::kChallenger));
  EXPECT_EQ(got->routes[2], Number("fraud", 7, 0, RouteRole::kShadow));
  EXPECT_EQ(got->config, DeploymentConfig{});

  MustCreate("churn", {Number("churn", 2)});
  auto all = store_->List();
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "churn");
  EXPECT_EQ((*all)[1].name, "fraud-api");
}

TEST_P(DeployStoreTest, ErrorCases) {
  MustCreate("a", {Number("m", 1)});
  CreateDeploymentRequest dup;
  dup.name = "a";
  dup.routes = {Number("m", 2)};
  EXPECT_EQ(store_->Create(alice_, dup).error().code(), ErrorCode::kResourceAlreadyExists);

  EXPECT_EQ(store_->Get("nope").error().code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(SetRoutes("nope", {Number("m", 1)}).error().code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(store_->Delete(alice_, "nope").code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(store_->Rollback(alice_, "a", std::nullopt).error().code(), ErrorCode::kInvalidState);

  for (const char* bad : {"", "a/b", "../x", ".hidden", "sp ace"}) {
    CreateDeploymentRequest req;
    req.name = bad;
    req.routes = {Number("m", 1)};
    EXPECT_EQ(store_->Create(alice_, req).error().code(), ErrorCode::kInvalidParameterValue) << bad;
  }
  // Bad routes: none, no traffic weight, alias and version both, duplicates.
  EXPECT_EQ(SetRoutes("a", {}).error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(SetRoutes("a", {Number("m", 1, 0)}).error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(SetRoutes("a", {Number("m", 1, 5, RouteRole::kShadow)}).error().code(),
            ErrorCode::kInvalidParameterValue);
  RouteSpec both = Alias("m", "champion");
  both.version = 3;
  EXPECT_EQ(SetRoutes("a", {both}).error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(SetRoutes("a", {Number("m", 1), Number("m", 1)}).error().code(),
            ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(SetRoutes("a", {Number("m", 1, -1)}).error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(SetRoutes("a", {Alias("m", "bad alias")}).error().code(),
            ErrorCode::kInvalidParameterValue);
  UpdateDeploymentRequest cfg;
  cfg.name = "a";
  cfg.config = DeploymentConfig{.max_batch_rows = 0};
  EXPECT_EQ(store_->Update(alice_, cfg).error().code(), ErrorCode::kInvalidParameterValue);
  UpdateDeploymentRequest nothing;
  nothing.name = "a";
  EXPECT_EQ(store_->Update(alice_, nothing).error().code(), ErrorCode::kInvalidParameterValue);
  // A refused change leaves the deployment as it was.
  EXPECT_EQ(store_->Get("a")->revision, 1);
}

TEST_P(DeployStoreTest, EveryChangeIsAnEventAndRollbackReappliesRoutes) {
  MustCreate("fraud", {Number("m", 1)});
  clock_.Advance(10);
  ASSERT_TRUE(SetRoutes("fraud", {Number("m", 2)}).has_value());
  clock_.Advance(10);
  auto r3 = SetRoutes("fraud", {Number("m", 2, 90), Number("m", 3, 10, RouteRole::kChallenger)});
  ASSERT_TRUE(r3.has_value());
  EXPECT_EQ(r3->revision, 3);

  // Rollback: the routes of revision 2, as revision 4.
  auto back = store_->Rollback(Actor{"bob"}, "fraud", std::nullopt);
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_EQ(back->revision, 4);
  ASSERT_EQ(back->routes.size(), 1u);
  EXPECT_EQ(back->routes[0], Number("m", 2));
  // Explicit target.
  auto first = store_->Rollback(alice_, "fraud", 1);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->revision, 5);
  EXPECT_EQ(first->routes[0], Number("m", 1));
  EXPECT_EQ(store_->Rollback(alice_, "fraud", 5).error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(store_->Rollback(alice_, "fraud", 9).error().code(), ErrorCode::kInvalidParameterValue);

  ASSERT_TRUE(store_->Delete(alice_, "fraud").ok());
  auto events = store_->ListEvents("fraud", 100, "");
  ASSERT_TRUE(events.has_value()) << events.error().ToString();
  ASSERT_EQ(events->events.size(), 6u);
  std::vector<std::string> actions;
  for (const auto& e : events->events) actions.push_back(e.action);
  EXPECT_EQ(actions, (std::vector<std::string>{"create", "update", "update", "rollback", "rollback",
                                               "delete"}));
  EXPECT_EQ(events->events[0].before_json, "");
  EXPECT_EQ(events->events[5].after_json, "");
  EXPECT_EQ(events->events[3].user, "bob");
  EXPECT_EQ(events->events[3].revision, 4);
  auto before = json::Parse(events->events[3].before_json);
  auto after = json::Parse(events->events[3].after_json);
  ASSERT_TRUE(before.has_value() && after.has_value());
  EXPECT_EQ(before->Find("revision")->as_int64(), 3);
  EXPECT_EQ(after->Find("revision")->as_int64(), 4);
  EXPECT_EQ(after->Find("routes")->items().size(), 1u);
  EXPECT_EQ(events->events[1].timestamp, events->events[0].timestamp + 10);

  // Paging, and the history survives a re-created name.
  auto page = store_->ListEvents("fraud", 4, "");
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->events.size(), 4u);
  auto rest = store_->ListEvents("fraud", 4, page->next_page_token);
  ASSERT_TRUE(rest.has_value());
  EXPECT_EQ(rest->events.size(), 2u);
  EXPECT_TRUE(rest->next_page_token.empty());
  MustCreate("fraud", {Number("m", 9)});
  EXPECT_EQ(store_->Get("fraud")->revision, 1);
  EXPECT_EQ(store_->ListEvents("fraud", 100, "")->events.size(), 7u);
  // Rollback never reaches into the deleted deployment's revisions.
  EXPECT_EQ(store_->Rollback(alice_, "fraud", std::nullopt).error().code(),
            ErrorCode::kInvalidState);
  EXPECT_EQ(store_->ListEvents("never", 10, "").error().code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(store_->ListEvents("fraud", 0, "").error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(store_->ListEvents("fraud", 10, "garbage").error().code(),
            ErrorCode::kInvalidParameterValue);
}

TEST_P(DeployStoreTest, UpdateConfigDescriptionAndExpectedRevision) {
  MustCreate("d", {Number("m", 1)});
  UpdateDeploymentRequest req;
  req.name = "d";
  req.config = DeploymentConfig{.max_batch_rows = 8, .max_wait_us = 500};
  req.description = "fraud scoring";
  req.expected_revision = 1;
  auto d = store_->Update(alice_, req);
  ASSERT_TRUE(d.has_value()) << d.error().ToString();
  EXPECT_EQ(d->config.max_batch_rows, 8);
  EXPECT_EQ(d->config.max_wait_us, 500);
  EXPECT_EQ(store_->Get("d")->description, "fraud scoring");
  EXPECT_EQ(store_->Get("d")->routes[0], Number("m", 1));  // untouched
  // A stale expected revision is refused.
  EXPECT_EQ(store_->Update(alice_, req).error().code(), ErrorCode::kInvalidState);
}

TEST_P(DeployStoreTest, ConcurrentUpdatesEachGetTheirOwnRevision) {
  MustCreate("c", {Number("m", 1)});
  constexpr int kThreads = 4;
  constexpr int kEach = 10;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (!SetRoutes("c", {Number("m", 1 + t * 100 + i)}).has_value()) failures.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store_->Get("c")->revision, 1 + kThreads * kEach);
  auto events = store_->ListEvents("c", 1000, "");
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->events.size(), static_cast<size_t>(1 + kThreads * kEach));
  // Revisions form an unbroken chain: each event's before is the previous after.
  for (size_t i = 1; i < events->events.size(); ++i) {
    EXPECT_EQ(events->events[i].revision, static_cast<int64_t>(i + 1));
    EXPECT_EQ(events->events[i].before_json, events->events[i - 1].after_json);
  }
}

TEST(DeployJson, ParseRoutesAndConfig) {
  auto v = json::Parse(R"([{"model_name":"m","alias":"champion","weight":70},)"
                       R"({"model_name":"m","version":"3","weight":30,"role":"challenger"},)"
                       R"({"model_name":"m","version":4,"role":"shadow"}])");
  ASSERT_TRUE(v.has_value());
  auto routes = ParseRoutes(*v);
  ASSERT_TRUE(routes.has_value()) << routes.error().ToString();
  EXPECT_EQ((*routes)[0], Alias("m", "champion", 70));
  EXPECT_EQ((*routes)[1], Number("m", 3, 30, RouteRole::kChallenger));
  EXPECT_EQ((*routes)[2], Number("m", 4, 0, RouteRole::kShadow));

  auto bad = [](std::string_view text) {
    auto parsed = json::Parse(text);
    EXPECT_TRUE(parsed.has_value()) << text;
    auto r = ParseRoutes(*parsed);
    return r ? std::string("<ok>") : r.error().message();
  };
  EXPECT_NE(bad(R"([{"model_name":"m","version":1,"weight":"x"}])").find("routes[0].weight"),
            std::string::npos);
  EXPECT_NE(bad(R"([{"model_name":"m","version":1,"colour":1}])").find("routes[0].colour"),
            std::string::npos);
  EXPECT_NE(bad(R"([{"model_name":"m","version":1,"role":"boss"}])").find("boss"),
            std::string::npos);
  EXPECT_NE(bad(R"([{"model_name":"m","version":0}])").find("routes[0].version"),
            std::string::npos);
  EXPECT_NE(bad(R"({"model_name":"m"})").find("list"), std::string::npos);

  auto cfg = json::Parse(R"({"max_batch_rows":16,"max_wait_us":"250"})");
  auto config = ParseConfig(*cfg);
  ASSERT_TRUE(config.has_value()) << config.error().ToString();
  EXPECT_EQ(config->max_batch_rows, 16);
  EXPECT_EQ(config->max_wait_us, 250);
  EXPECT_EQ(config->shadow_samples, DeploymentConfig{}.shadow_samples);
  auto bad_cfg = json::Parse(R"({"max_batch_rows":1.5})");
  EXPECT_FALSE(ParseConfig(*bad_cfg).has_value());

  json::Writer w;
  WriteRoutes(w, *routes);
  auto again = ParseRoutes(*json::Parse(w.str()));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, *routes);
}

INSTANTIATE_TEST_SUITE_P(Backends, DeployStoreTest,
                         ::testing::Values(sql::Backend::kSqlite, sql::Backend::kPostgres),
                         [](const auto& info) {
                           return info.param == sql::Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

}  // namespace
}  // namespace mlforge::serving

// End-to-end behaviour of the real binary: start/stop, durability across
// kill -9, concurrent writers, and that bad input never takes it down.
#include <gtest/gtest.h>

#include <atomic>
#include <sys/wait.h>

#include <cstdlib>
#include <thread>

#include "base/json.h"
#include "http/http.h"
#include "integration/server_process.h"

namespace mlforge::testing {
namespace {

class ServerTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  void SetUp() override {
    if (GetParam() == TestBackend::kPostgres && PostgresTestsDisabled()) {
      GTEST_SKIP() << "MLFORGE_TEST_PG=off";
    }
  }
};

json::Value MustParse(const std::string& body) {
  auto v = json::Parse(body);
  EXPECT_TRUE(v.has_value()) << body;
  return v ? *v : json::Value();
}

std::string CreateRun(http::Client& client, const std::string& experiment_id) {
  auto r = client.PostJson("/api/2.0/mlflow/runs/create",
                           R"({"experiment_id":")" + experiment_id + R"(","start_time":1})");
  EXPECT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200) << r->body;
  return MustParse(r->body).Find("run")->Find("info")->Find("run_id")->as_string();
}

TEST_P(ServerTest, HealthVersionAndDefaultExperiment) {
  ServerProcess server(GetParam());
  http::Client client("127.0.0.1", server.port());
  auto health = client.Get("/health");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "OK");
  auto exp = client.Get("/api/2.0/mlflow/experiments/get?experiment_id=0");
  ASSERT_TRUE(exp.has_value());
  ASSERT_EQ(exp->status, 200) << exp->body;
  EXPECT_EQ(MustParse(exp->body).Find("experiment")->Find("name")->as_string(), "Default");
}

TEST_P(ServerTest, AcknowledgedWritesSurviveKill9) {
  ServerProcess server(GetParam());
  std::string run_id;
  constexpr int kPoints = 200;
  {
    http::Client client("127.0.0.1", server.port());
    run_id = CreateRun(client, "0");
    for (int i = 0; i < kPoints; ++i) {
      auto r = client.PostJson("/api/2.0/mlflow/runs/log-metric",
                               R"({"run_id":")" + run_id + R"(","key":"loss","value":)" +
                                   std::to_string(i * 0.5) + R"(,"timestamp":)" +
                                   std::to_string(1000 + i) + R"(,"step":)" + std::to_string(i) +
                                   "}");
      ASSERT_TRUE(r.has_value());
      ASSERT_EQ(r->status, 200) << r->body;
    }
  }
  server.Kill();
  server.Restart();
  http::Client client("127.0.0.1", server.port());
  auto history =
      client.Get("/api/2.0/mlflow/metrics/get-history?run_id=" + run_id + "&metric_key=loss");
  ASSERT_TRUE(history.has_value());
  ASSERT_EQ(history->status, 200) << history->body;
  json::Value parsed = MustParse(history->body);
  const json::Value* metrics = parsed.Find("metrics");
  ASSERT_NE(metrics, nullptr);
  ASSERT_EQ(metrics->items().size(), static_cast<size_t>(kPoints));
  EXPECT_EQ(metrics->items().back().Find("step")->as_int64(), kPoints - 1);
}

TEST_P(ServerTest, ConcurrentWritersLoseNothingAndNeverFail) {
  ServerProcess server(GetParam());
  std::string run_id;
  {
    http::Client client("127.0.0.1", server.port());
    run_id = CreateRun(client, "0");
  }
  constexpr int kThreads = 8;
  constexpr int kPerThread = 150;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      http::Client client("127.0.0.1", server.port());
      for (int i = 0; i < kPerThread; ++i) {
        std::string body;
        if (i % 3 == 0) {
          // log-batch from several writers at once, plus params and tags.
          body = R"({"run_id":")" + run_id + R"(","metrics":[{"key":"m)" + std::to_string(t) +
                 R"(","value":1,"timestamp":)" + std::to_string(i) + R"(,"step":)" +
                 std::to_string(i) + R"(}],"params":[{"key":"p)" + std::to_string(t) + "_" +
                 std::to_string(i) + R"(","value":"v"}],"tags":[{"key":"t)" + std::to_string(t) +
                 R"(","value":")" + std::to_string(i) + R"("}]})";
          auto r = client.PostJson("/api/2.0/mlflow/runs/log-batch", body);
          if (!r || r->status != 200) failures++;
        } else {
          body = R"({"run_id":")" + run_id + R"(","key":"m)" + std::to_string(t) +
                 R"(","value":2,"timestamp":)" + std::to_string(i) + R"(,"step":)" +
                 std::to_string(i) + "}";
          auto r = client.PostJson("/api/2.0/mlflow/runs/log-metric", body);
          if (!r || r->status != 200) failures++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  http::Client client("127.0.0.1", server.port());
  for (int t = 0; t < kThreads; ++t) {
    auto h = client.Get("/api/2.0/mlflow/metrics/get-history?run_id=" + run_id + "&metric_key=m" +
                        std::to_string(t));
    ASSERT_TRUE(h.has_value());
    ASSERT_EQ(h->status, 200);
    EXPECT_EQ(MustParse(h->body).Find("metrics")->items().size(), static_cast<size_t>(kPerThread));
  }
  auto run = client.Get("/api/2.0/mlflow/runs/get?run_id=" + run_id);
  ASSERT_TRUE(run.has_value());
  json::Value parsed = MustParse(run->body);
  const json::Value* params = parsed.Find("run")->Find("data")->Find("params");
  ASSERT_NE(params, nullptr);
  EXPECT_EQ(params->items().size(), static_cast<size_t>(kThreads * ((kPerThread + 2) / 3)));
}

TEST_P(ServerTest, BadInputNeverTakesTheServerDown) {
  ServerProcess server(GetParam());
  http::Client client("127.0.0.1", server.port());
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"/api/2.0/mlflow/runs/log-metric", "{"},
      {"/api/2.0/mlflow/runs/log-metric", "[]"},
      {"/api/2.0/mlflow/runs/log-metric", R"({"run_id": 5})"},
      {"/api/2.0/mlflow/runs/log-metric", R"({"run_id":"x","key":"a","value":1,"timestamp":1e400})"},
      {"/api/2.0/mlflow/experiments/create", std::string(200, '[') + std::string(200, ']')},
      {"/api/2.0/mlflow/runs/search", R"({"experiment_ids":["0"],"filter":"metrics.a >> 1"})"},
      {"/api/2.0/mlflow/runs/search", R"({"experiment_ids":["0"],"max_results":50001})"},
  };
  for (const auto& [path, body] : bad) {
    auto r = client.PostJson(path, body);
    ASSERT_TRUE(r.has_value()) << path << " " << body;
    EXPECT_GE(r->status, 400) << body;
    EXPECT_LT(r->status, 500) << body << " -> " << r->body;
    auto parsed = json::Parse(r->body);
    ASSERT_TRUE(parsed.has_value()) << r->body;
    EXPECT_NE(parsed->Find("error_code"), nullptr) << r->body;
  }
  auto health = client.Get("/health");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);
}

TEST_P(ServerTest, GracefulStopExitsCleanly) {
  ServerProcess server(GetParam());
  int status = server.Stop();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         [](const auto& info) { return BackendName(info.param); });

TEST(ServerCli, BadArgumentsExitNonZero) {
  std::string cmd = MlforgeBinary() + " server --port notaport >/dev/null 2>&1";
  EXPECT_NE(std::system(cmd.c_str()), 0);
  cmd = MlforgeBinary() + " server --backend-store-uri bogus://x --port 0 >/dev/null 2>&1";
  EXPECT_NE(std::system(cmd.c_str()), 0);
}

}  // namespace
}  // namespace mlforge::testing

// Serving under traffic through the real binary: hot swaps while clients
// hammer infer (including a version that fails to load), weighted and
// sticky routing, shadows that never change an answer, and the /metrics
// output checked by promtool.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "integration/serving_support.h"

namespace mlforge::testing {
namespace {

using namespace std::chrono_literals;

class ServingTrafficTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(TestBackend::kSqlite,
                                              std::vector<std::string>{"--serving-poll-ms", "20"});
    client_ = std::make_unique<http::Client>("127.0.0.1", server_->port());
    models_ = std::make_unique<ModelRegistrar>(server_->port());
  }

  http::ClientResponse Infer(http::Client& c, const std::string& deployment, double x,
                             const std::string& route_key = "") {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"content-type", "application/json"}};
    if (!route_key.empty()) headers.emplace_back("x-mlforge-route-key", route_key);
    auto r = c.Send(http::Method::kPost, "/v2/models/" + deployment + "/infer", InferBody(x, 0, 0),
                    headers);
    return r ? *r : http::ClientResponse{};
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<http::Client> client_;
  std::unique_ptr<ModelRegistrar> models_;
};

TEST_F(ServingTrafficTest, HotSwapUnderTrafficFailsNoRequest) {
  std::vector<int64_t> v;
  for (int i = 1; i <= 4; ++i) v.push_back(models_->AddVersion("fraud", 1000.0 * i));
  const int64_t broken = models_->AddVersion("fraud", 0, /*broken=*/true);
  const int64_t last = models_->AddVersion("fraud", 9000);
  models_->SetAlias("fraud", "champion", v[0]);
  CreateDeployment(*client_, "live", R"([{"model_name":"fraud","alias":"champion"}])");

  constexpr int kClients = 6;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> failed{0};
  std::atomic<int64_t> inconsistent{0};
  std::atomic<int64_t> answered{0};
  std::mutex mu;
  std::map<int, std::vector<std::string>> seen;  // per client: versions in the order they answered
  std::atomic<int64_t> newest{0};                // the latest version any client saw
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      http::Client c("127.0.0.1", server_->port());
      std::vector<std::string> mine;
      while (!stop.load()) {
        const double x = t * 0.5;
        auto r = Infer(c, "live", x);
        if (r.status != 200) {
          failed.fetch_add(1);
          continue;
        }
        const std::string version(r.Header("x-mlforge-model-version"));
        // The answer, the header and model_version agree on the version.
        const double intercept = OipPrediction(r.body) - x;
        if (Str(ParseOrNull(r.body), "model_version") != version ||
            std::lround(intercept) % 1000 != 0) {
          inconsistent.fetch_add(1);
        }
        if (mine.empty() || mine.back() != version) mine.push_back(version);
        int64_t n = std::stoll(version);
        int64_t cur = newest.load();
        while (n > cur && !newest.compare_exchange_weak(cur, n)) {
        }
        answered.fetch_add(1);
      }
      std::lock_guard lock(mu);
      seen[t] = std::move(mine);
    });
  }
  auto wait_for = [&](int64_t version) {
    for (int i = 0; i < 1000 && newest.load() < version; ++i) std::this_thread::sleep_for(10ms);
    return newest.load() >= version;
  };
  ASSERT_TRUE(wait_for(v[0]));
  for (size_t i = 1; i < v.size(); ++i) {
    models_->SetAlias("fraud", "champion", v[i]);
    EXPECT_TRUE(wait_for(v[i])) << "version " << v[i] << " never answered";
    std::this_thread::sleep_for(30ms);
  }
  // A version that fails to load: the previous one keeps answering and the
  // failure is reported.
  models_->SetAlias("fraud", "champion", broken);
  std::string state;
  std::string message;
  for (int i = 0; i < 500 && state != "DEGRADED"; ++i) {
    auto got = client_->Get("/api/2.0/mlforge/deployments/get?name=live");
    json::Value status = *ParseOrNull(got->body).Find("deployment")->Find("status");
    state = Str(status, "state");
    message = Str(status, "message");
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(state, "DEGRADED");
  EXPECT_NE(message.find("version " + std::to_string(broken)), std::string::npos) << message;
  std::this_thread::sleep_for(100ms);
  models_->SetAlias("fraud", "champion", last);
  EXPECT_TRUE(wait_for(last));
  std::this_thread::sleep_for(50ms);
  stop = true;
  for (auto& c : clients) c.join();

  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(inconsistent.load(), 0);
  EXPECT_GT(answered.load(), 200);
  for (const auto& [t, versions] : seen) {
    // Old, then new: each client saw the versions in alias order, never the broken one.
    std::vector<int64_t> numbers;
    for (const std::string& s : versions) numbers.push_back(std::stoll(s));
    EXPECT_TRUE(std::is_sorted(numbers.begin(), numbers.end())) << "client " << t;
    EXPECT_EQ(std::count(numbers.begin(), numbers.end(), broken), 0);
    ASSERT_FALSE(numbers.empty());
    EXPECT_EQ(numbers.back(), last);
  }
  auto log = client_->Get("/api/2.0/mlforge/deployments/get?name=live");
  EXPECT_EQ(Str(*ParseOrNull(log->body).Find("deployment")->Find("status"), "state"), "READY");
}

// With polling effectively off, an alias move made through this server's
// registry API still reaches serving at once; moving back loads nothing.
TEST(ServingAliasNudge, RegistryChangesApplyWithoutWaitingForThePoll) {
  ServerProcess server(TestBackend::kSqlite, {"--serving-poll-ms", "3600000"});
  http::Client client("127.0.0.1", server.port());
  ModelRegistrar models(server.port());
  const int64_t v1 = models.AddVersion("nudge", 1000);
  const int64_t v2 = models.AddVersion("nudge", 2000);
  models.SetAlias("nudge", "champion", v1);
  CreateDeployment(client, "nudged", R"([{"model_name":"nudge","alias":"champion"}])");
  auto answering = [&] {
    auto r = client.Send(http::Method::kPost, "/v2/models/nudged/infer", InferBody(0, 0, 0),
                         {{"content-type", "application/json"}});
    return r && r->status == 200 ? std::string(r->Header("x-mlforge-model-version")) : "";
  };
  auto wait_for = [&](int64_t version) {
    for (int i = 0; i < 500; ++i) {
      if (answering() == std::to_string(version)) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  };
  auto loads = [&] {
    auto r = client.Get("/metrics");
    const std::string line = R"(mlforge_serving_model_loads_total{result="ok"} )";
    const size_t at = r ? r->body.find(line) : std::string::npos;
    return at == std::string::npos ? -1.0 : std::stod(r->body.substr(at + line.size()));
  };
  ASSERT_TRUE(wait_for(v1));
  const double first = loads();
  models.SetAlias("nudge", "champion", v2);
  EXPECT_TRUE(wait_for(v2)) << "the alias move was not applied";
  EXPECT_EQ(loads(), first + 1);
  // Moving back finds the previous version still loaded (warm standby).
  models.SetAlias("nudge", "champion", v1);
  EXPECT_TRUE(wait_for(v1)) << "the alias move back was not applied";
  EXPECT_EQ(loads(), first + 1);
}

// |observed - n p| within 5 binomial standard deviations.
void ExpectShare(int observed, int n, double p) {
  const double sd = std::sqrt(n * p * (1 - p));
  EXPECT_NEAR(observed, n * p, 5 * sd) << observed << " of " << n << ", expected share " << p;
}

TEST_F(ServingTrafficTest, WeightedRoutingAndStickyKeys) {
  const int64_t a = models_->AddVersion("fraud", 1000);
  const int64_t b = models_->AddVersion("fraud", 2000);
  CreateDeployment(*client_, "ab",
                   R"([{"model_name":"fraud","version":")" + std::to_string(a) +
                       R"(","weight":70},{"model_name":"fraud","version":")" + std::to_string(b) +
                       R"(","weight":30,"role":"challenger"}])");
  constexpr int kThreads = 4;
  constexpr int kEach = 2500;
  std::atomic<int> on_a{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      http::Client c("127.0.0.1", server_->port());
      for (int i = 0; i < kEach; ++i) {
        auto r = Infer(c, "ab", 0);
        if (r.status != 200) {
          failures.fetch_add(1);
        } else if (r.Header("x-mlforge-model-version") == std::to_string(a)) {
          on_a.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  ExpectShare(on_a.load(), kThreads * kEach, 0.7);

  // Sticky: a key always lands on the same route; keys still split 70/30.
  int keys_on_a = 0;
  constexpr int kKeys = 400;
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = "customer-" + std::to_string(k);
    const std::string first(Infer(*client_, "ab", 0, key).Header("x-mlforge-model-version"));
    for (int again = 0; again < 3; ++again) {
      ASSERT_EQ(Infer(*client_, "ab", 0, key).Header("x-mlforge-model-version"), first) << key;
    }
    if (first == std::to_string(a)) ++keys_on_a;
  }
  ExpectShare(keys_on_a, kKeys, 0.7);
}

TEST_F(ServingTrafficTest, ShadowNeverChangesTheResponseAndIsRecorded) {
  const int64_t a = models_->AddVersion("fraud", 1000);
  const int64_t b = models_->AddVersion("fraud", 5000);
  const std::string primary = R"({"model_name":"fraud","version":")" + std::to_string(a) + R"("})";
  CreateDeployment(*client_, "plain", "[" + primary + "]");
  CreateDeployment(*client_, "shadowed",
                   "[" + primary + R"(,{"model_name":"fraud","version":")" + std::to_string(b) +
                       R"(","role":"shadow"}])");
  constexpr int kRequests = 50;
  for (int i = 0; i < kRequests; ++i) {
    const std::string body =
        R"({"dataframe_records":[{"x1":)" + std::to_string(i) + R"(,"x2":0.25,"n":1}]})";
    auto plain = client_->PostJson("/deployments/plain/invocations", body);
    auto shadowed = client_->PostJson("/deployments/shadowed/invocations", body);
    ASSERT_TRUE(plain && shadowed);
    ASSERT_EQ(shadowed->status, 200) << shadowed->body;
    EXPECT_EQ(shadowed->body, plain->body);
    EXPECT_EQ(shadowed->Header("x-mlforge-model-version"),
              plain->Header("x-mlforge-model-version"));
  }
  json::Value shadow;
  for (int i = 0; i < 500; ++i) {
    shadow = ParseOrNull(client_->Get("/api/2.0/mlforge/deployments/shadow?name=shadowed")->body);
    if (shadow.Find("mirrored") && shadow.Find("mirrored")->as_int64() == kRequests) break;
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(shadow.is_object());
  EXPECT_EQ(shadow.Find("mirrored")->as_int64(), kRequests);
  EXPECT_EQ(shadow.Find("dropped")->as_int64(), 0);
  EXPECT_EQ(shadow.Find("errors")->as_int64(), 0);
  const auto& samples = shadow.Find("samples")->items();
  ASSERT_FALSE(samples.empty());
  for (const json::Value& s : samples) {
    const double p = s.Find("primary")->Find("values")->items()[0].as_double();
    const json::Value& out = s.Find("shadows")->items()[0];
    EXPECT_EQ(Str(out, "version"), std::to_string(b));
    EXPECT_DOUBLE_EQ(out.Find("values")->items()[0].as_double(), p + 4000);
  }
  EXPECT_EQ(client_->Get("/api/2.0/mlforge/deployments/shadow?name=plain")->status, 200);
  EXPECT_EQ(client_->Get("/api/2.0/mlforge/deployments/shadow?name=nope")->status, 404);
}

TEST_F(ServingTrafficTest, MetricsPassPromtool) {
  const int64_t a = models_->AddVersion("fraud", 1000);
  const int64_t b = models_->AddVersion("fraud", 2000);
  CreateDeployment(*client_, "m",
                   R"([{"model_name":"fraud","version":")" + std::to_string(a) +
                       R"("},{"model_name":"fraud","version":")" + std::to_string(b) +
                       R"(","role":"shadow"}])");
  for (int i = 0; i < 20; ++i) ASSERT_EQ(Infer(*client_, "m", i).status, 200);
  EXPECT_EQ(client_->PostJson("/v2/models/m/infer", "{bad")->status, 400);
  EXPECT_EQ(client_->PostJson("/v2/models/unknown/infer", InferBody(1, 2, 3))->status, 404);
  std::this_thread::sleep_for(100ms);  // let the shadow run
  auto metrics = client_->Get("/metrics");
  ASSERT_TRUE(metrics.has_value());
  ASSERT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->Header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = metrics->body;
  for (const std::string& needle :
       {std::string("mlforge_serving_requests_total{deployment=\"m\",model=\"fraud\",version=\"") +
            std::to_string(a) + "\"} 20",
        std::string(
            "mlforge_serving_request_errors_total{deployment=\"m\",reason=\"bad_request\"} 1"),
        std::string("mlforge_serving_unknown_deployment_requests_total 1"),
        std::string("mlforge_serving_request_duration_seconds_bucket{deployment=\"m\""),
        std::string("mlforge_serving_batch_rows_bucket{deployment=\"m\""),
        std::string("mlforge_serving_queue_rows{deployment=\"m\""),
        std::string("mlforge_serving_loaded_models 2"),
        std::string("mlforge_serving_shadow_requests_total{deployment=\"m\""),
        std::string("process_resident_memory_bytes ")}) {
    EXPECT_NE(text.find(needle), std::string::npos) << needle << "\n" << text;
  }
  // promtool reads the exposition on stdin and lints it.
  TempDir dir;
  const std::filesystem::path file = dir.path() / "metrics.txt";
  std::ofstream(file) << text;
  const std::string cmd = "promtool check metrics < '" + file.string() + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "promtool: " << out << "\n" << text;
  EXPECT_EQ(out.find("command not found"), std::string::npos) << "promtool is required: " << out;
}

}  // namespace
}  // namespace mlforge::testing

// `mlforge demo` end to end: the real binary fills a fresh server, then the
// REST API shows every kind of content the UI pages need; a second run leaves
// the demo as it is; a name already in use and an unreachable server are
// refused with a message.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <map>
#include <set>
#include <string>

#include "base/json.h"
#include "http/http.h"
#include "integration/server_process.h"
#include "integration/serving_support.h"
#include "support/temp_dir.h"

namespace mlforge::testing {
namespace {

constexpr char kName[] = "demo-churn";

double Num(const json::Value& v, std::string_view key) {
  const json::Value* f = v.Find(key);
  return f != nullptr && f->is_number() ? f->as_double() : NAN;
}

const json::Value& At(const json::Value& v, std::string_view key) {
  static const json::Value kNull;
  const json::Value* f = v.Find(key);
  return f != nullptr ? *f : kNull;
}

class DemoTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  void SetUp() override {
    if (GetParam() == TestBackend::kPostgres && PostgresTestsDisabled()) {
      GTEST_SKIP() << "MLFORGE_TEST_PG=off";
    }
    server_ = std::make_unique<ServerProcess>(GetParam());
    client_ = std::make_unique<http::Client>("127.0.0.1", server_->port());
  }

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  json::Value Get(const std::string& target) {
    auto r = client_->Get(target);
    EXPECT_TRUE(r && r->status == 200) << target << ": " << (r ? r->body : "no answer");
    return r ? ParseOrNull(r->body) : json::Value();
  }
  json::Value Post(const std::string& target, const std::string& body) {
    auto r = client_->PostJson(target, body);
    EXPECT_TRUE(r && r->status == 200) << target << ": " << (r ? r->body : "no answer");
    return r ? ParseOrNull(r->body) : json::Value();
  }

  json::Value SearchRuns(const std::string& experiment_id) {
    return Post("/api/2.0/mlflow/runs/search",
                R"({"experiment_ids":[")" + experiment_id + R"("],"max_results":100})");
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<http::Client> client_;
  TempDir dir_;
};

TEST_P(DemoTest, FillsEveryKindOfContentAndASecondRunChangesNothing) {
  CommandResult demo = RunMlforge(dir_.path(), "demo --tracking-uri " + Url());
  ASSERT_EQ(demo.exit_code, 0) << demo.output;
  EXPECT_NE(demo.output.find("Open " + Url() + "/"), std::string::npos) << demo.output;

  // Dataset: three versions, the newest used by runs.
  json::Value versions = Get(std::string("/api/2.0/mlforge/datasets/versions/list?name=") + kName);
  ASSERT_EQ(At(versions, "versions").items().size(), 3u) << json::Serialize(versions);
  std::set<std::string> version_ids;
  for (const json::Value& v : At(versions, "versions").items()) {
    version_ids.insert(Str(v, "version_id"));
    EXPECT_GE(Num(v, "file_count"), 2) << json::Serialize(v);
  }
  EXPECT_EQ(version_ids.size(), 3u);
  const std::string newest = Str(At(versions, "versions").items().back(), "version_id");
  json::Value users = Get("/api/2.0/mlforge/datasets/versions/runs?version_id=" + newest);
  EXPECT_FALSE(At(users, "runs").items().empty()) << json::Serialize(users);

  // Runs: finished, with params, tags, a dataset input and metric histories.
  json::Value experiment =
      Get(std::string("/api/2.0/mlflow/experiments/get-by-name?experiment_name=") + kName);
  const std::string experiment_id = Str(At(experiment, "experiment"), "experiment_id");
  ASSERT_FALSE(experiment_id.empty()) << json::Serialize(experiment);
  json::Value runs = SearchRuns(experiment_id);
  const auto& run_list = At(runs, "runs").items();
  ASSERT_GE(run_list.size(), 5u);
  ASSERT_LE(run_list.size(), 8u);
  int xgboost_runs = 0;
  for (const json::Value& run : run_list) {
    const json::Value& info = At(run, "info");
    const json::Value& data = At(run, "data");
    EXPECT_EQ(Str(info, "status"), "FINISHED") << json::Serialize(info);
    EXPECT_FALSE(At(data, "params").items().empty());
    EXPECT_FALSE(At(data, "metrics").items().empty());
    std::map<std::string, std::string> tags;
    for (const json::Value& t : At(data, "tags").items()) tags[Str(t, "key")] = Str(t, "value");
    EXPECT_EQ(tags["mlflow.source.name"], "mlforge demo");
    const auto& inputs = At(At(run, "inputs"), "dataset_inputs").items();
    ASSERT_EQ(inputs.size(), 1u) << json::Serialize(run);
    const std::string digest = Str(At(inputs[0], "dataset"), "digest");
    bool names_a_version = false;
    for (const std::string& id : version_ids) names_a_version |= id.starts_with(digest);
    EXPECT_TRUE(names_a_version) << digest;
    // The package: xgboost models are real files the server can hand out.
    json::Value files =
        Get("/api/2.0/mlflow/artifacts/list?run_id=" + Str(info, "run_id") + "&path=model");
    std::set<std::string> paths;
    for (const json::Value& f : At(files, "files").items()) paths.insert(Str(f, "path"));
    EXPECT_TRUE(paths.contains("model/MLmodel")) << json::Serialize(files);
    for (const json::Value& p : At(data, "params").items()) {
      if (Str(p, "key") == "max_depth") ++xgboost_runs;
    }
    // A loss curve: one point per boosting round (or Newton step).
    json::Value history = Get("/api/2.0/mlflow/metrics/get-history?run_id=" + Str(info, "run_id") +
                              "&metric_key=validation-logloss");
    const auto& points = At(history, "metrics").items();
    ASSERT_GE(points.size(), 2u) << Str(info, "run_name");
    EXPECT_LT(Num(points.front(), "step"), Num(points.back(), "step"));
  }
  EXPECT_GE(xgboost_runs, 1);

  // Registry: champion names a version whose run exists and is in the experiment.
  json::Value champion =
      Get(std::string("/api/2.0/mlflow/registered-models/alias?name=") + kName + "&alias=champion");
  const std::string champion_run = Str(At(champion, "model_version"), "run_id");
  ASSERT_FALSE(champion_run.empty()) << json::Serialize(champion);
  json::Value run = Get("/api/2.0/mlflow/runs/get?run_id=" + champion_run);
  EXPECT_EQ(Str(At(At(run, "run"), "info"), "experiment_id"), experiment_id);
  EXPECT_EQ(Str(At(champion, "model_version"), "current_stage"), "Production");
  json::Value challenger = Get(std::string("/api/2.0/mlflow/registered-models/alias?name=") +
                               kName + "&alias=challenger");
  EXPECT_NE(Str(At(challenger, "model_version"), "version"),
            Str(At(champion, "model_version"), "version"));

  // Deployment: answers inference with a churn probability.
  json::Value deployment = Get(std::string("/api/2.0/mlforge/deployments/get?name=") + kName);
  EXPECT_EQ(Str(At(At(deployment, "deployment"), "status"), "state"), "READY");
  auto infer = client_->PostJson(
      std::string("/deployments/") + kName + "/invocations",
      R"({"dataframe_split":{"columns":["tenure_months","monthly_charges","total_charges",)"
      R"("contract_months","support_calls","late_payments","age","satisfaction"],)"
      R"("data":[[3,99.5,298.5,1,6,2,30,1]]}})");
  ASSERT_TRUE(infer.has_value());
  ASSERT_EQ(infer->status, 200) << infer->body;
  const json::Value answer = ParseOrNull(infer->body);
  const json::Value& predictions = At(answer, "predictions");
  ASSERT_EQ(predictions.items().size(), 1u) << infer->body;
  const double p = predictions.items()[0].as_double();
  EXPECT_TRUE(p > 0 && p < 1) << infer->body;

  // Monitor: normal windows without drift, then a drifted window; labels
  // give every window its accuracy.
  json::Value results = Get(std::string("/api/2.0/mlforge/monitors/results?deployment=") + kName);
  const auto& windows = At(results, "results").items();
  ASSERT_GE(windows.size(), 2u) << json::Serialize(results);
  for (const json::Value& w : windows) {
    EXPECT_TRUE(At(w, "compared").as_bool()) << json::Serialize(w);
    EXPECT_GT(Num(w, "labelled_rows"), 0);
    EXPECT_GE(Num(At(w, "performance"), "accuracy"), 0) << json::Serialize(w);
  }
  EXPECT_FALSE(At(windows.front(), "dataset_drift").as_bool()) << json::Serialize(windows.front());
  EXPECT_TRUE(At(windows.back(), "dataset_drift").as_bool()) << json::Serialize(windows.back());

  // Alerts: the drift rule fired.
  json::Value alerts =
      Get(std::string("/api/2.0/mlforge/alerts/list?state=firing&deployment=") + kName);
  std::set<std::string> metrics;
  for (const json::Value& a : At(alerts, "alerts").items()) metrics.insert(Str(a, "metric"));
  EXPECT_TRUE(metrics.contains("dataset_drift")) << json::Serialize(alerts);

  // A second run finds the finished demo and adds nothing.
  CommandResult again = RunMlforge(dir_.path(), "demo --tracking-uri " + Url());
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("already loaded"), std::string::npos) << again.output;
  EXPECT_EQ(At(SearchRuns(experiment_id), "runs").items().size(), run_list.size());
  EXPECT_EQ(
      At(Get(std::string("/api/2.0/mlforge/datasets/versions/list?name=") + kName), "versions")
          .items()
          .size(),
      3u);
}

TEST_P(DemoTest, RefusesANameInUseThatIsNotAFinishedDemo) {
  Post("/api/2.0/mlflow/registered-models/create", R"({"name":"taken"})");
  CommandResult demo = RunMlforge(dir_.path(), "demo --name taken --tracking-uri " + Url());
  EXPECT_EQ(demo.exit_code, 1) << demo.output;
  EXPECT_NE(demo.output.find("a registered model named 'taken'"), std::string::npos) << demo.output;
  EXPECT_NE(demo.output.find("--name"), std::string::npos) << demo.output;
  // Nothing was created.
  auto experiment = client_->Get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=taken");
  ASSERT_TRUE(experiment.has_value());
  EXPECT_EQ(experiment->status, 404) << experiment->body;
}

INSTANTIATE_TEST_SUITE_P(Backends, DemoTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         [](const auto& info) { return BackendName(info.param); });

// A port nothing listens on: bound, then closed.
uint16_t ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(DemoCliTest, AnUnreachableServerExitsNonZeroWithAMessage) {
  TempDir dir;
  const std::string url = "http://127.0.0.1:" + std::to_string(ClosedPort());
  CommandResult demo = RunMlforge(dir.path(), "demo --tracking-uri " + url);
  EXPECT_NE(demo.exit_code, 0) << demo.output;
  EXPECT_NE(demo.output.find("cannot reach"), std::string::npos) << demo.output;
  EXPECT_NE(demo.output.find(url), std::string::npos) << demo.output;
}

TEST(DemoCliTest, ABadNameIsRefusedBeforeTheServerIsAsked) {
  TempDir dir;
  const std::string url = "http://127.0.0.1:" + std::to_string(ClosedPort());
  CommandResult demo = RunMlforge(dir.path(), "demo --name 'no spaces' --tracking-uri " + url);
  EXPECT_EQ(demo.exit_code, 1) << demo.output;
  EXPECT_NE(demo.output.find("--name"), std::string::npos) << demo.output;
  EXPECT_EQ(demo.output.find("cannot reach"), std::string::npos) << demo.output;
}

}  // namespace
}  // namespace mlforge::testing

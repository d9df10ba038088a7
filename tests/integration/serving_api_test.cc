// Serving through the real binary: the deployments API and CLI, Open
// Inference Protocol v2 and MLflow /invocations with every error case, and
// a `mlforge serve` replica; on SQLite and PostgreSQL.
#include <gtest/gtest.h>

#include <cstdio>

#include "integration/serving_support.h"

namespace mlforge::testing {
namespace {

class ServingApiTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  void SetUp() override {
    if (GetParam() == TestBackend::kPostgres && PostgresTestsDisabled()) {
      GTEST_SKIP() << "MLFORGE_TEST_PG=off";
    }
    server_ = std::make_unique<ServerProcess>(
        GetParam(), std::vector<std::string>{"--serving-poll-ms", "50", "--max-body-mb", "1"});
    client_ = std::make_unique<http::Client>("127.0.0.1", server_->port());
    models_ = std::make_unique<ModelRegistrar>(server_->port());
    v1_ = models_->AddVersion("fraud", 1000);
    v2_ = models_->AddVersion("fraud", 2000);
    models_->SetAlias("fraud", "champion", v1_);
  }

  http::ClientResponse Post(const std::string& path, const std::string& body,
                            const std::string& content_type = "application/json") {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!content_type.empty()) headers.emplace_back("content-type", content_type);
    auto r = client_->Send(http::Method::kPost, path, body, headers);
    return r ? *r : http::ClientResponse{};
  }
  http::ClientResponse Get(const std::string& path) {
    auto r = client_->Get(path);
    return r ? *r : http::ClientResponse{};
  }

  // An OIP error: the status and {"error": "..."} containing `needle`.
  void ExpectOipError(const http::ClientResponse& r, int status, const std::string& needle) {
    EXPECT_EQ(r.status, status) << r.body;
    json::Value v = ParseOrNull(r.body);
    ASSERT_TRUE(v.is_object()) << r.body;
    EXPECT_NE(Str(v, "error").find(needle), std::string::npos) << r.body;
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<http::Client> client_;
  std::unique_ptr<ModelRegistrar> models_;
  int64_t v1_ = 0;
  int64_t v2_ = 0;
};

TEST_P(ServingApiTest, DeploymentsApiLifecycleEventsAndRollback) {
  auto created = DeploymentsCall(
      *client_, http::Method::kPost, "create",
      R"({"name":"fraud-api","description":"scores","routes":[{"model_name":"fraud","alias":"champion"}],)"
      R"("config":{"max_batch_rows":32}})");
  ASSERT_EQ(created.status, 200) << created.body;
  json::Value d = *ParseOrNull(created.body).Find("deployment");
  EXPECT_EQ(Str(d, "name"), "fraud-api");
  EXPECT_EQ(d.Find("revision")->as_int64(), 1);
  EXPECT_EQ(d.Find("config")->Find("max_batch_rows")->as_int64(), 32);
  // Applied before the call returned: it already serves.
  EXPECT_EQ(Str(*d.Find("status"), "state"), "READY");
  EXPECT_EQ(Str(d.Find("status")->Find("routes")->items()[0], "version"), std::to_string(v1_));

  auto updated =
      DeploymentsCall(*client_, http::Method::kPost, "update",
                      R"({"name":"fraud-api","routes":[{"model_name":"fraud","version":")" +
                          std::to_string(v2_) + R"("}]})");
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(ParseOrNull(updated.body).Find("deployment")->Find("revision")->as_int64(), 2);
  auto infer = Post("/v2/models/fraud-api/infer", InferBody(1, 2, 3));
  ASSERT_EQ(infer.status, 200) << infer.body;
  EXPECT_EQ(infer.Header("x-mlforge-model-version"), std::to_string(v2_));

  auto rolled =
      DeploymentsCall(*client_, http::Method::kPost, "rollback", R"({"name":"fraud-api"})");
  ASSERT_EQ(rolled.status, 200) << rolled.body;
  EXPECT_EQ(ParseOrNull(rolled.body).Find("deployment")->Find("revision")->as_int64(), 3);
  infer = Post("/v2/models/fraud-api/infer", InferBody(1, 2, 3));
  EXPECT_EQ(infer.Header("x-mlforge-model-version"), std::to_string(v1_));
  EXPECT_DOUBLE_EQ(OipPrediction(infer.body), 1006);

  auto got = Get("/api/2.0/mlforge/deployments/get?name=fraud-api");
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(Str(*ParseOrNull(got.body).Find("deployment"), "description"), "scores");
  auto list = Get("/api/2.0/mlforge/deployments/list");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(ParseOrNull(list.body).Find("deployments")->items().size(), 1u);

  auto events =
      client_->Send(http::Method::kGet, "/api/2.0/mlforge/deployments/events?name=fraud-api", {},
                    {{"x-mlforge-user", "carol"}});
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->status, 200) << events->body;
  json::Value ev = ParseOrNull(events->body);
  ASSERT_EQ(ev.Find("events")->items().size(), 3u);
  EXPECT_EQ(Str(ev.Find("events")->items()[2], "action"), "rollback");
  EXPECT_TRUE(ev.Find("events")->items()[0].Find("before") == nullptr);
  EXPECT_EQ(ev.Find("events")->items()[2].Find("after")->Find("revision")->as_int64(), 3);

  auto user_delete = client_->Send(
      http::Method::kDelete, "/api/2.0/mlforge/deployments/delete", R"({"name":"fraud-api"})",
      {{"content-type", "application/json"}, {"x-mlforge-user", "dave"}});
  ASSERT_TRUE(user_delete.has_value());
  EXPECT_EQ(user_delete->status, 200) << user_delete->body;
  ExpectOipError(Post("/v2/models/fraud-api/infer", InferBody(1, 2, 3)), 404, "fraud-api");
  events = client_->Get("/api/2.0/mlforge/deployments/events?name=fraud-api");
  ev = ParseOrNull(events->body);
  ASSERT_EQ(ev.Find("events")->items().size(), 4u);
  EXPECT_EQ(Str(ev.Find("events")->items()[3], "user"), "dave");
}

TEST_P(ServingApiTest, DeploymentsApiErrorsAreMlflowShaped) {
  struct Case {
    http::Method method;
    std::string verb;
    std::string body;
    int status;
    std::string code;
    std::string needle;
  };
  CreateDeployment(*client_, "d", R"([{"model_name":"fraud","version":"1"}])");
  const std::vector<Case> cases = {
      {http::Method::kPost, "create",
       R"({"name":"d","routes":[{"model_name":"fraud","version":"1"}]})", 400,
       "RESOURCE_ALREADY_EXISTS", "already exists"},
      {http::Method::kPost, "create", R"({"routes":[{"model_name":"fraud","version":"1"}]})", 400,
       "INVALID_PARAMETER_VALUE", "'name'"},
      {http::Method::kPost, "create", R"({"name":"e"})", 400, "INVALID_PARAMETER_VALUE",
       "'routes'"},
      {http::Method::kPost, "create",
       R"({"name":"a/b","routes":[{"model_name":"m","version":"1"}]})", 400,
       "INVALID_PARAMETER_VALUE", "deployment name"},
      {http::Method::kPost, "create",
       R"({"name":"e","routes":[{"model_name":"m","weight":"x","version":1}]})", 400,
       "INVALID_PARAMETER_VALUE", "routes[0].weight"},
      {http::Method::kPost, "create",
       R"({"name":"e","routes":[{"model_name":"m","version":1}],"config":{"max_batch_rows":0}})",
       400, "INVALID_PARAMETER_VALUE", "max_batch_rows"},
      {http::Method::kPost, "create", "{not json", 400, "MALFORMED_REQUEST", ""},
      {http::Method::kPost, "update", R"({"name":"zzz","routes":[{"model_name":"m","version":1}]})",
       404, "RESOURCE_DOES_NOT_EXIST", "zzz"},
      {http::Method::kPost, "update", R"({"name":"d","expected_revision":7,"description":"x"})",
       400, "INVALID_STATE", "revision"},
      {http::Method::kPost, "rollback", R"({"name":"d"})", 400, "INVALID_STATE",
       "nothing to roll back"},
      {http::Method::kDelete, "delete", R"({"name":"zzz"})", 404, "RESOURCE_DOES_NOT_EXIST", "zzz"},
  };
  for (const Case& c : cases) {
    auto r = DeploymentsCall(*client_, c.method, c.verb, c.body);
    EXPECT_EQ(r.status, c.status) << c.verb << " " << c.body << " -> " << r.body;
    json::Value v = ParseOrNull(r.body);
    EXPECT_EQ(Str(v, "error_code"), c.code) << r.body;
    EXPECT_NE(Str(v, "message").find(c.needle), std::string::npos) << r.body;
  }
  EXPECT_EQ(Get("/api/2.0/mlforge/deployments/get?name=zzz").status, 404);
  EXPECT_EQ(Get("/api/2.0/mlforge/deployments/get").status, 400);
  EXPECT_EQ(Get("/api/2.0/mlforge/deployments/events?name=zzz").status, 404);
  EXPECT_EQ(Get("/api/2.0/mlforge/deployments/events?name=d&max_results=0").status, 400);
  // Without a JSON content type, like every MLflow POST.
  EXPECT_EQ(Post("/api/2.0/mlforge/deployments/create", R"({"name":"x"})", "text/plain").status,
            400);
}

TEST_P(ServingApiTest, OpenInferenceProtocolCases) {
  CreateDeployment(*client_, "fraud-api",
                   R"([{"model_name":"fraud","alias":"champion","weight":1},)"
                   R"({"model_name":"fraud","version":")" +
                       std::to_string(v2_) + R"(","weight":0,"role":"challenger"}])");
  EXPECT_EQ(Get("/v2/health/live").body, R"({"live":true})");
  auto ready = Get("/v2/health/ready");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, R"({"ready":true})");
  json::Value meta = ParseOrNull(Get("/v2").body);
  EXPECT_EQ(Str(meta, "name"), "mlforge");
  EXPECT_TRUE(meta.Find("extensions")->is_array());

  auto model = Get("/v2/models/fraud-api");
  ASSERT_EQ(model.status, 200) << model.body;
  json::Value m = ParseOrNull(model.body);
  EXPECT_EQ(Str(m, "name"), "fraud-api");
  EXPECT_EQ(Str(m, "platform"), "mlforge_linear");
  EXPECT_EQ(m.Find("versions")->items().size(), 2u);
  ASSERT_EQ(m.Find("inputs")->items().size(), 3u);
  EXPECT_EQ(Str(m.Find("inputs")->items()[2], "datatype"), "INT64");
  EXPECT_EQ(Get("/v2/models/fraud-api/versions/" + std::to_string(v2_)).status, 200);
  EXPECT_EQ(ParseOrNull(Get("/v2/models/fraud-api/ready").body).Find("ready")->as_bool(), true);
  EXPECT_EQ(Get("/v2/models/fraud-api/versions/" + std::to_string(v2_) + "/ready").status, 200);

  // Infer: id echoed, model_version and headers name the version.
  auto ok = Post("/v2/models/fraud-api/infer", InferBody(1.5, 2, 3, "req-7"));
  ASSERT_EQ(ok.status, 200) << ok.body;
  json::Value answer = ParseOrNull(ok.body);
  EXPECT_EQ(Str(answer, "model_name"), "fraud-api");
  EXPECT_EQ(Str(answer, "model_version"), std::to_string(v1_));
  EXPECT_EQ(Str(answer, "id"), "req-7");
  EXPECT_DOUBLE_EQ(OipPrediction(ok.body), 1006.5);
  EXPECT_EQ(ok.Header("x-mlforge-model-name"), "fraud");
  EXPECT_EQ(ok.Header("x-mlforge-model-version"), std::to_string(v1_));
  // A pinned version answers even with weight 0.
  auto pinned =
      Post("/v2/models/fraud-api/versions/" + std::to_string(v2_) + "/infer", InferBody(1, 1, 1));
  ASSERT_EQ(pinned.status, 200) << pinned.body;
  EXPECT_DOUBLE_EQ(OipPrediction(pinned.body), 2003);
  // Batched input: one [2, 3] tensor in signature order (integers: `n` is a long column).
  auto batch = Post(
      "/v2/models/fraud-api/infer",
      R"({"inputs":[{"name":"all","shape":[2,3],"datatype":"INT64","data":[[1,2,3],[4,5,6]]}]})");
  ASSERT_EQ(batch.status, 200) << batch.body;
  EXPECT_NE(batch.body.find("[1006.0,1015.0]"), std::string::npos) << batch.body;

  ExpectOipError(Post("/v2/models/nope/infer", InferBody(1, 2, 3)), 404, "nope");
  ExpectOipError(Get("/v2/models/nope"), 404, "nope");
  ExpectOipError(Get("/v2/models/nope/ready"), 404, "nope");
  ExpectOipError(Post("/v2/models/fraud-api/versions/99/infer", InferBody(1, 2, 3)), 404, "99");
  ExpectOipError(Post("/v2/models/fraud-api/versions/abc/infer", InferBody(1, 2, 3)), 400, "abc");
  ExpectOipError(Post("/v2/models/fraud-api/infer", "{\"inputs\": [ "), 400, "");
  ExpectOipError(Post("/v2/models/fraud-api/infer", R"({"inputs":{"x1":1}})"), 400, "");
  // Wrong shape: data does not fill the shape.
  ExpectOipError(
      Post("/v2/models/fraud-api/infer",
           R"({"inputs":[{"name":"all","shape":[2,3],"datatype":"FP64","data":[1,2,3]}]})"),
      400, "");
  // Missing, extra and wrong-typed columns are named.
  ExpectOipError(Post("/v2/models/fraud-api/infer",
                      R"({"inputs":[{"name":"x1","shape":[1],"datatype":"FP64","data":[1]},)"
                      R"({"name":"n","shape":[1],"datatype":"INT64","data":[1]}]})"),
                 400, "x2");
  ExpectOipError(Post("/v2/models/fraud-api/infer",
                      R"({"inputs":[{"name":"x1","shape":[1],"datatype":"FP64","data":[1]},)"
                      R"({"name":"x2","shape":[1],"datatype":"FP64","data":[1]},)"
                      R"({"name":"n","shape":[1],"datatype":"INT64","data":[1]},)"
                      R"({"name":"colour","shape":[1],"datatype":"FP64","data":[1]}]})"),
                 400, "colour");
  ExpectOipError(Post("/v2/models/fraud-api/infer",
                      R"({"inputs":[{"name":"x1","shape":[1],"datatype":"FP64","data":[1]},)"
                      R"({"name":"x2","shape":[1],"datatype":"FP64","data":[1]},)"
                      R"({"name":"n","shape":[1],"datatype":"FP64","data":[1.5]}]})"),
                 400, "'n'");
  ExpectOipError(Post("/v2/models/fraud-api/infer", InferBody(1, 2, 3), "text/plain"), 400,
                 "Content-Type");
  // Oversized body: refused by the HTTP layer before it is read (413).
  auto big = Post("/v2/models/fraud-api/infer", std::string(2 << 20, ' '));
  EXPECT_EQ(big.status, 413);
  // The server is fine afterwards.
  http::Client fresh("127.0.0.1", server_->port());
  auto after = fresh.PostJson("/v2/models/fraud-api/infer", InferBody(1, 2, 3));
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->status, 200);
}

TEST_P(ServingApiTest, MlflowInvocationsCases) {
  CreateDeployment(*client_, "fraud-api", R"([{"model_name":"fraud","alias":"champion"}])");
  const std::string path = "/deployments/fraud-api/invocations";
  auto records =
      Post(path, R"({"dataframe_records":[{"x1":1,"x2":2,"n":3},{"x1":0,"x2":0,"n":1}]})");
  ASSERT_EQ(records.status, 200) << records.body;
  EXPECT_EQ(records.body, R"({"predictions":[1006.0,1001.0]})");
  EXPECT_EQ(records.Header("x-mlforge-model-version"), std::to_string(v1_));
  auto split = Post(path, R"({"dataframe_split":{"columns":["n","x1","x2"],"data":[[3,1,2]]}})");
  EXPECT_EQ(split.body, R"({"predictions":[1006.0]})");
  auto csv = Post(path, "x1,x2,n\n1,2,3\n", "text/csv");
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_EQ(csv.body, R"({"predictions":[1006.0]})");

  auto expect_error = [&](const http::ClientResponse& r, int status, const std::string& needle) {
    EXPECT_EQ(r.status, status) << r.body;
    json::Value v = ParseOrNull(r.body);
    EXPECT_FALSE(Str(v, "error_code").empty()) << r.body;
    EXPECT_NE(Str(v, "message").find(needle), std::string::npos) << r.body;
  };
  expect_error(Post(path, "{\"dataframe_records\": ["), 400, "");
  expect_error(Post(path, R"({"dataframe_records":[{"x1":1,"n":3}]})"), 400, "x2");
  expect_error(Post(path, R"({"dataframe_records":[{"x1":1,"x2":2,"n":3,"zz":1}]})"), 400, "zz");
  expect_error(Post(path, R"({"dataframe_records":[{"x1":1,"x2":2,"n":"three"}]})"), 400, "n");
  expect_error(Post(path, R"({"rows":[]})"), 400, "");
  expect_error(Post(path, "x1,x2,n\n1,2,3\n", "text/plain"), 415, "text/plain");
  expect_error(Post("/deployments/nope/invocations", R"({"dataframe_records":[]})"), 404, "nope");
}

TEST_P(ServingApiTest, MlforgeServeReplicaServesOneDeployment) {
  CreateDeployment(*client_, "fraud-api", R"([{"model_name":"fraud","alias":"champion"}])");
  CreateDeployment(*client_, "other", R"([{"model_name":"fraud","version":"1"}])");
  ReplicaProcess replica(*server_, "fraud-api", {"--poll-ms", "50"});
  ASSERT_NE(replica.port(), 0) << replica.log();
  http::Client c("127.0.0.1", replica.port());
  EXPECT_EQ(c.Get("/ping")->status, 200);
  EXPECT_EQ(c.Get("/health")->status, 200);
  EXPECT_FALSE(c.Get("/version")->body.empty());
  auto inv = c.PostJson("/invocations", R"({"inputs":{"x1":[1],"x2":[2],"n":[3]}})");
  ASSERT_TRUE(inv.has_value());
  ASSERT_EQ(inv->status, 200) << inv->body;
  EXPECT_EQ(inv->body, R"({"predictions":[1006.0]})");
  auto oip = c.PostJson("/v2/models/fraud-api/infer", InferBody(0, 0, 1));
  EXPECT_DOUBLE_EQ(OipPrediction(oip->body), 1001);
  // Only its deployment; no deployments API.
  EXPECT_EQ(c.PostJson("/v2/models/other/infer", InferBody(0, 0, 1))->status, 404);
  EXPECT_EQ(c.Get("/api/2.0/mlforge/deployments/list")->status, 404);
  auto metrics = c.Get("/metrics");
  EXPECT_NE(metrics->body.find("mlforge_serving_requests_total{deployment=\"fraud-api\""),
            std::string::npos);

  // An alias moved through the server reaches the replica by polling.
  models_->SetAlias("fraud", "champion", v2_);
  double seen = 0;
  for (int i = 0; i < 500 && seen != 2001; ++i) {
    seen = OipPrediction(c.PostJson("/v2/models/fraud-api/infer", InferBody(0, 0, 1))->body);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(seen, 2001);

  ReplicaProcess missing(*server_, "no-such-deployment");
  EXPECT_EQ(missing.port(), 0);
  EXPECT_NE(missing.log().find("no-such-deployment"), std::string::npos) << missing.log();
}

// Runs `mlforge <args>` against the test server; returns (exit code, output).
std::pair<int, std::string> Cli(uint16_t port, const std::string& args) {
  const std::string cmd = "MLFLOW_TRACKING_URI=http://127.0.0.1:" + std::to_string(port) + " '" +
                          MlforgeBinary() + "' " + args + " 2>&1";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return {-1, ""};
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST_P(ServingApiTest, DeploymentsCli) {
  const uint16_t port = server_->port();
  auto [code, out] =
      Cli(port, "deployments create cli-api --route fraud@champion:90 --route fraud/" +
                    std::to_string(v2_) + ":10:challenger --shadow fraud/" + std::to_string(v2_) +
                    " --max-batch-rows 16");
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("READY"), std::string::npos) << out;
  EXPECT_NE(out.find("challenger"), std::string::npos) << out;
  EXPECT_NE(out.find("max_batch_rows 16"), std::string::npos) << out;
  std::tie(code, out) = Cli(port, "deployments get cli-api --json");
  ASSERT_EQ(code, 0) << out;
  json::Value v = ParseOrNull(out);
  ASSERT_TRUE(v.is_object()) << out;
  EXPECT_EQ(v.Find("deployment")->Find("routes")->items().size(), 3u);
  std::tie(code, out) =
      Cli(port, "deployments set-routes cli-api --route fraud/" + std::to_string(v2_));
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("revision 2"), std::string::npos) << out;
  std::tie(code, out) = Cli(port, "deployments list");
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("cli-api"), std::string::npos) << out;
  std::tie(code, out) = Cli(port, "deployments rollback cli-api");
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("revision 3"), std::string::npos) << out;
  std::tie(code, out) = Cli(port, "deployments events cli-api");
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("rollback"), std::string::npos) << out;
  std::tie(code, out) = Cli(port, "deployments create bad --route fraud");
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("MODEL@ALIAS"), std::string::npos) << out;
  std::tie(code, out) = Cli(port, "deployments get nope");
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("not found"), std::string::npos) << out;
  std::tie(code, out) = Cli(port, "deployments delete cli-api");
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(Get("/api/2.0/mlforge/deployments/get?name=cli-api").status, 404);
}

INSTANTIATE_TEST_SUITE_P(Backends, ServingApiTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace mlforge::testing

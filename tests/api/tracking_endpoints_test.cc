// Tracking endpoints over a real in-process stack (SQLite, TrackingService,
// http::Server): shapes, MLflow's error codes and messages, and that the
// server keeps serving after every error.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/api_test_env.h"
#include "base/json.h"
#include "http/http.h"

namespace mlforge::api {
namespace {

using testing::ApiTestEnv;
using testing::Json;
using testing::StringAt;

constexpr std::string_view kMlflow = "/api/2.0/mlflow/";

std::string Url(std::string_view path) { return std::string(kMlflow) + std::string(path); }

std::string Quote(std::string_view s) {
  std::string out;
  json::AppendQuoted(out, s);
  return out;
}

class TrackingEndpointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = std::make_unique<ApiTestEnv>();
    ASSERT_TRUE(env_->ok()) << env_->error();
  }

  ApiTestEnv& env() { return *env_; }
  http::ClientResponse Post(std::string_view path, std::string_view json) {
    return env_->Post(Url(path), json);
  }
  http::ClientResponse Get(std::string_view path_and_query) {
    return env_->Get(Url(path_and_query));
  }

  std::string CreateExperiment(std::string_view name) {
    auto r = Post("experiments/create", "{\"name\": " + Quote(name) + "}");
    EXPECT_EQ(r.status, 200) << r.body;
    return StringAt(Json(r), "experiment_id");
  }

  std::string CreateRun(std::string_view experiment_id, std::string_view extra = "") {
    std::string body = "{\"experiment_id\": " + Quote(experiment_id) +
                       ", \"start_time\": 1700000000000" + std::string(extra) + "}";
    auto r = Post("runs/create", body);
    EXPECT_EQ(r.status, 200) << r.body;
    json::Value parsed = Json(r);
    const json::Value* run = parsed.Find("run");
    return run && run->Find("info") ? StringAt(*run->Find("info"), "run_id") : "";
  }

  json::Value GetRunJson(std::string_view run_id) {
    auto r = Get("runs/get?run_id=" + std::string(run_id));
    EXPECT_EQ(r.status, 200) << r.body;
    json::Value body = Json(r);
    const json::Value* run = body.Find("run");
    return run ? *run : json::Value();
  }

  // Checks MLflow's error shape, then that the server still answers.
  void ExpectError(const http::ClientResponse& r, int status, std::string_view code,
                   std::string_view message_part = {}) {
    EXPECT_EQ(r.status, status) << r.body;
    json::Value body = Json(r);
    if (!code.empty()) {
      EXPECT_EQ(StringAt(body, "error_code"), code) << r.body;
    }
    EXPECT_NE(StringAt(body, "message").find(message_part), std::string::npos)
        << "message lacks '" << message_part << "': " << r.body;
    EXPECT_EQ(r.Header("content-type").substr(0, 16), "application/json");
    ExpectServing();
  }

  void ExpectServing() {
    auto health = env_->Get("/health");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(health.body, "OK");
  }

 private:
  std::unique_ptr<ApiTestEnv> env_;
};

TEST_F(TrackingEndpointsTest, HealthAndVersion) {
  auto health = env().Get("/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "OK");
  EXPECT_EQ(health.Header("content-type").substr(0, 10), "text/plain");
  auto version = env().Get("/version");
  EXPECT_EQ(version.status, 200);
  EXPECT_EQ(version.body, "2.12.1+mlforge.test");
  EXPECT_EQ(version.Header("content-type").substr(0, 10), "text/plain");
}

TEST_F(TrackingEndpointsTest, BothPrefixesServeTheApi) {
  auto created = env().Post("/ajax-api/2.0/mlflow/experiments/create", R"({"name": "ajax"})");
  ASSERT_EQ(created.status, 200) << created.body;
  std::string id = StringAt(Json(created), "experiment_id");
  auto got = env().Get("/api/2.0/mlflow/experiments/get?experiment_id=" + id);
  EXPECT_EQ(got.status, 200);
  auto got_ajax = env().Get("/ajax-api/2.0/mlflow/experiments/get?experiment_id=" + id);
  EXPECT_EQ(got_ajax.status, 200);
  EXPECT_EQ(got.body, got_ajax.body);
}

TEST_F(TrackingEndpointsTest, ExperimentLifecycle) {
  std::string id = CreateExperiment("exp-a");
  ASSERT_FALSE(id.empty());

  auto got = Get("experiments/get?experiment_id=" + id);
  ASSERT_EQ(got.status, 200) << got.body;
  json::Value e = *Json(got).Find("experiment");
  EXPECT_EQ(StringAt(e, "name"), "exp-a");
  EXPECT_EQ(StringAt(e, "lifecycle_stage"), "active");
  EXPECT_EQ(StringAt(e, "artifact_location"), "mlflow-artifacts:/" + id);
  ASSERT_NE(e.Find("creation_time"), nullptr);
  EXPECT_TRUE(e.Find("creation_time")->is_int64());  // int64 as a JSON number
  EXPECT_EQ(e.Find("tags"), nullptr);                // empty repeated: omitted

  auto by_name = Get("experiments/get-by-name?experiment_name=exp-a");
  ASSERT_EQ(by_name.status, 200);
  EXPECT_EQ(StringAt(*Json(by_name).Find("experiment"), "experiment_id"), id);

  auto renamed =
      Post("experiments/update", "{\"experiment_id\": \"" + id + "\", \"new_name\": \"exp-b\"}");
  EXPECT_EQ(renamed.status, 200);
  EXPECT_EQ(renamed.body, "{}");
  auto tag = Post("experiments/set-experiment-tag",
                  "{\"experiment_id\": \"" + id + "\", \"key\": \"team\", \"value\": \"x\"}");
  EXPECT_EQ(tag.status, 200) << tag.body;
  // An empty value is allowed (MLflow's handler does not require it).
  auto empty_tag = Post("experiments/set-experiment-tag",
                        "{\"experiment_id\": \"" + id + "\", \"key\": \"empty\"}");
  EXPECT_EQ(empty_tag.status, 200) << empty_tag.body;
  e = *Json(Get("experiments/get?experiment_id=" + id)).Find("experiment");
  EXPECT_EQ(StringAt(e, "name"), "exp-b");
  ASSERT_NE(e.Find("tags"), nullptr);
  EXPECT_EQ(e.Find("tags")->items().size(), 2u);

  auto deltag = Post("experiments/delete-experiment-tag",
                     "{\"experiment_id\": \"" + id + "\", \"key\": \"team\"}");
  EXPECT_EQ(deltag.status, 200) << deltag.body;
  ExpectError(Post("experiments/delete-experiment-tag",
                   "{\"experiment_id\": \"" + id + "\", \"key\": \"team\"}"),
              404, "RESOURCE_DOES_NOT_EXIST");

  auto deleted = Post("experiments/delete", "{\"experiment_id\": \"" + id + "\"}");
  EXPECT_EQ(deleted.status, 200);
  e = *Json(Get("experiments/get?experiment_id=" + id)).Find("experiment");
  EXPECT_EQ(StringAt(e, "lifecycle_stage"), "deleted");
  // Writes to a deleted experiment: 400, never 5xx.
  ExpectError(
      Post("experiments/update", "{\"experiment_id\": \"" + id + "\", \"new_name\": \"c\"}"), 400,
      "", "non-active");
  ExpectError(Post("runs/create", "{\"experiment_id\": \"" + id + "\"}"), 400,
              "INVALID_PARAMETER_VALUE", "must be in the 'active' state");
  auto restored = Post("experiments/restore", "{\"experiment_id\": \"" + id + "\"}");
  EXPECT_EQ(restored.status, 200) << restored.body;
  e = *Json(Get("experiments/get?experiment_id=" + id)).Find("experiment");
  EXPECT_EQ(StringAt(e, "lifecycle_stage"), "active");
}

TEST_F(TrackingEndpointsTest, ExperimentErrors) {
  ExpectError(Post("experiments/create", "{}"), 400, "INVALID_PARAMETER_VALUE",
              "Missing value for required parameter 'name'. See the API docs for more information "
              "about request parameters.");
  ExpectError(Post("experiments/create", R"({"name": ""})"), 400, "INVALID_PARAMETER_VALUE",
              "Missing value for required parameter 'name'.");
  ExpectError(Post("experiments/create", R"({"name": 123})"), 400, "INVALID_PARAMETER_VALUE",
              "Invalid value 123 for parameter 'name' supplied. Hint: Value was of type 'int'. See "
              "the API docs for more information about request parameters.");
  ExpectError(Post("experiments/create", R"({"name": "t", "tags": {"key": "a"}})"), 400,
              "INVALID_PARAMETER_VALUE", "parameter 'tags'");
  ExpectError(Post("experiments/create", R"({"name": "t", "tags": [{"key": 1}]})"), 400,
              "INVALID_PARAMETER_VALUE", "parameter 'tags[0].key'");
  ExpectError(Post("experiments/create",
                   R"({"name": "t", "artifact_location": "mlflow-artifacts:/x#frag"})"),
              400, "INVALID_PARAMETER_VALUE", "can't include fragments or params");
  ExpectError(
      Post("experiments/create", R"({"name": "t", "artifact_location": "http://h/p;params"})"), 400,
      "INVALID_PARAMETER_VALUE", "can't include fragments or params");
  ExpectError(
      Post("experiments/create", R"({"name": "t", "artifact_location": "http://h/p?a=%2e%2e/x"})"),
      400, "INVALID_PARAMETER_VALUE", "Invalid query string");
  CreateExperiment("dup");
  ExpectError(Post("experiments/create", R"({"name": "dup"})"), 400, "RESOURCE_ALREADY_EXISTS",
              "already exists");

  ExpectError(Get("experiments/get?experiment_id=98765"), 404, "RESOURCE_DOES_NOT_EXIST",
              "No Experiment with id=98765 exists");
  ExpectError(Get("experiments/get"), 400, "INVALID_PARAMETER_VALUE",
              "Missing value for required parameter 'experiment_id'");
  ExpectError(Get("experiments/get-by-name?experiment_name=nope"), 404, "RESOURCE_DOES_NOT_EXIST",
              "Could not find experiment with name 'nope'");
  ExpectError(Post("experiments/delete", R"({"experiment_id": "98765"})"), 404,
              "RESOURCE_DOES_NOT_EXIST");
  ExpectError(Post("experiments/restore", R"({})"), 400, "INVALID_PARAMETER_VALUE",
              "Missing value for required parameter 'experiment_id'");
  ExpectError(Post("experiments/update", R"({"experiment_id": "0"})"), 400,
              "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'new_name'");
  ExpectError(Post("experiments/set-experiment-tag", R"({"experiment_id": "0", "value": "v"})"),
              400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'key'");
  ExpectError(
      Post("experiments/set-experiment-tag", R"({"experiment_id": "0", "key": "k", "value": 5})"),
      400, "INVALID_PARAMETER_VALUE", "Invalid value 5 for parameter 'value'");
}

TEST_F(TrackingEndpointsTest, SearchExperiments) {
  for (int i = 0; i < 3; ++i) {
    CreateExperiment("search-" + std::to_string(i));
    env().clock().Advance(1000);
  }
  auto all = Post("experiments/search", R"({"max_results": 10, "filter": "name LIKE 'search-%'"})");
  ASSERT_EQ(all.status, 200) << all.body;
  json::Value all_body = Json(all);
  const json::Value* experiments = all_body.Find("experiments");
  ASSERT_NE(experiments, nullptr);
  ASSERT_EQ(experiments->items().size(), 3u);
  // Default order: creation_time DESC.
  EXPECT_EQ(StringAt(experiments->items()[0], "name"), "search-2");
  EXPECT_EQ(Json(all).Find("next_page_token"), nullptr);

  // GET with query parameters, max_results as a decimal string, paginated.
  auto page1 =
      Get("experiments/search?max_results=2&filter=name%20LIKE%20%27search-%25%27&order_by=name");
  ASSERT_EQ(page1.status, 200) << page1.body;
  json::Value p1 = Json(page1);
  ASSERT_EQ(p1.Find("experiments")->items().size(), 2u);
  EXPECT_EQ(StringAt(p1.Find("experiments")->items()[0], "name"), "search-0");
  std::string token = StringAt(p1, "next_page_token");
  ASSERT_FALSE(token.empty());
  auto page2 = Post(
      "experiments/search",
      R"({"max_results": "2", "filter": "name LIKE 'search-%'", "order_by": ["name"], "page_token": )" +
          Quote(token) + "}");
  ASSERT_EQ(page2.status, 200) << page2.body;
  json::Value p2 = Json(page2);
  ASSERT_EQ(p2.Find("experiments")->items().size(), 1u);
  EXPECT_EQ(StringAt(p2.Find("experiments")->items()[0], "name"), "search-2");

  // Without max_results we default to 1000 (MLflow requires it).
  auto defaulted = Post("experiments/search", "{}");
  EXPECT_EQ(defaulted.status, 200) << defaulted.body;
  // view_type by name and by number.
  auto deleted_only = Get("experiments/search?view_type=DELETED_ONLY&max_results=5");
  EXPECT_EQ(deleted_only.status, 200);
  EXPECT_EQ(deleted_only.body, "{}");
  auto all_views = Post("experiments/search", R"({"view_type": 3, "max_results": 100})");
  EXPECT_EQ(all_views.status, 200);
  EXPECT_EQ(Json(all_views).Find("experiments")->items().size(), 4u);  // + Default

  ExpectError(Post("experiments/search", R"({"max_results": 0})"), 400, "INVALID_PARAMETER_VALUE",
              "It must be a positive integer, but got 0");
  ExpectError(Post("experiments/search", R"({"max_results": 50001})"), 400,
              "INVALID_PARAMETER_VALUE", "It must be at most 50000, but got 50001");
  ExpectError(Post("experiments/search", R"({"max_results": "ten"})"), 400,
              "INVALID_PARAMETER_VALUE", "Invalid value ten for parameter 'max_results'");
  ExpectError(Post("experiments/search", R"({"max_results": 1.5})"), 400, "INVALID_PARAMETER_VALUE",
              "Hint: Value was of type 'float'");
  ExpectError(Post("experiments/search", R"({"view_type": "SOME"})"), 400,
              "INVALID_PARAMETER_VALUE", "parameter 'view_type'");
  ExpectError(Post("experiments/search", R"({"order_by": "name"})"), 400, "INVALID_PARAMETER_VALUE",
              "parameter 'order_by'");
  ExpectError(Post("experiments/search", R"({"filter": "name = "})"), 400,
              "INVALID_PARAMETER_VALUE");
  ExpectError(Post("experiments/search", R"({"page_token": "garbage!"})"), 400,
              "INVALID_PARAMETER_VALUE");
}

TEST_F(TrackingEndpointsTest, RunLifecycleAndShapes) {
  std::string exp = CreateExperiment("runs");
  auto created = Post("runs/create", "{\"experiment_id\": \"" + exp +
                                         "\", \"start_time\": \"1700000000000\", \"run_name\": "
                                         "\"first\", \"user_id\": \"alice\", \"tags\": [{\"key\": "
                                         "\"mlflow.user\", \"value\": \"alice\"}]}");
  ASSERT_EQ(created.status, 200) << created.body;
  json::Value run = *Json(created).Find("run");
  const json::Value& info = *run.Find("info");
  std::string run_id = StringAt(info, "run_id");
  EXPECT_EQ(run_id.size(), 32u);
  EXPECT_EQ(StringAt(info, "run_uuid"), run_id);
  EXPECT_EQ(StringAt(info, "run_name"), "first");
  EXPECT_EQ(StringAt(info, "experiment_id"), exp);
  EXPECT_EQ(StringAt(info, "user_id"), "alice");
  EXPECT_EQ(StringAt(info, "status"), "RUNNING");
  EXPECT_EQ(StringAt(info, "lifecycle_stage"), "active");
  EXPECT_EQ(StringAt(info, "artifact_uri"),
            "mlflow-artifacts:/" + exp + "/" + run_id + "/artifacts");
  EXPECT_EQ(info.Find("start_time")->as_int64(), 1700000000000);
  EXPECT_EQ(info.Find("end_time"), nullptr);
  ASSERT_NE(run.Find("data"), nullptr);
  EXPECT_EQ(run.Find("data")->Find("tags")->items().size(), 2u);  // + mlflow.runName
  ASSERT_NE(run.Find("inputs"), nullptr);
  EXPECT_TRUE(run.Find("inputs")->members().empty());

  // Metric with the client's encodings: int64 as strings, NaN as a string.
  auto metric =
      Post("runs/log-metric", "{\"run_id\": \"" + run_id + "\", \"run_uuid\": \"" + run_id +
                                  "\", \"key\": \"loss\", \"value\": \"NaN\", "
                                  "\"timestamp\": \"1700000000001\", \"step\": \"3\"}");
  EXPECT_EQ(metric.status, 200) << metric.body;
  EXPECT_EQ(metric.body, "{}");
  auto param = Post("runs/log-parameter",
                    "{\"run_uuid\": \"" + run_id + "\", \"key\": \"lr\", \"value\": \"0.1\"}");
  EXPECT_EQ(param.status, 200) << param.body;
  auto same_param = Post("runs/log-parameter",
                         "{\"run_id\": \"" + run_id + "\", \"key\": \"lr\", \"value\": \"0.1\"}");
  EXPECT_EQ(same_param.status, 200) << same_param.body;
  ExpectError(Post("runs/log-parameter",
                   "{\"run_id\": \"" + run_id + "\", \"key\": \"lr\", \"value\": \"0.2\"}"),
              400, "INVALID_PARAMETER_VALUE",
              "Changing param values is not allowed. Param with key='lr' was already logged with "
              "value='0.1' for run ID='" +
                  run_id + "'. Attempted logging new value '0.2'.");
  auto tag = Post("runs/set-tag",
                  "{\"run_id\": \"" + run_id + "\", \"key\": \"note\", \"value\": \"hi\"}");
  EXPECT_EQ(tag.status, 200) << tag.body;

  run = GetRunJson(run_id);
  const json::Value* metrics = run.Find("data")->Find("metrics");
  ASSERT_NE(metrics, nullptr);
  ASSERT_EQ(metrics->items().size(), 1u);
  EXPECT_EQ(StringAt(metrics->items()[0], "value"), "NaN");
  EXPECT_EQ(metrics->items()[0].Find("timestamp")->as_int64(), 1700000000001);
  EXPECT_EQ(metrics->items()[0].Find("step")->as_int64(), 3);
  EXPECT_EQ(run.Find("data")->Find("params")->items().size(), 1u);
  // run_uuid works for GET too.
  EXPECT_EQ(Get("runs/get?run_uuid=" + run_id).status, 200);

  auto untag = Post("runs/delete-tag", "{\"run_id\": \"" + run_id + "\", \"key\": \"note\"}");
  EXPECT_EQ(untag.status, 200) << untag.body;
  ExpectError(Post("runs/delete-tag", "{\"run_id\": \"" + run_id + "\", \"key\": \"note\"}"), 404,
              "RESOURCE_DOES_NOT_EXIST", "No tag with name: note");

  auto updated =
      Post("runs/update", "{\"run_id\": \"" + run_id +
                              "\", \"status\": \"FINISHED\", \"end_time\": 1700000005000}");
  ASSERT_EQ(updated.status, 200) << updated.body;
  json::Value run_info = *Json(updated).Find("run_info");
  EXPECT_EQ(StringAt(run_info, "status"), "FINISHED");
  EXPECT_EQ(run_info.Find("end_time")->as_int64(), 1700000005000);
  auto renamed = Post("runs/update",
                      "{\"run_id\": \"" + run_id + "\", \"run_name\": \"second\", \"status\": 4}");
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  EXPECT_EQ(StringAt(*Json(renamed).Find("run_info"), "run_name"), "second");
  EXPECT_EQ(StringAt(*Json(renamed).Find("run_info"), "status"), "FAILED");

  // Deleted runs refuse writes with 400 (never 5xx), and can be restored.
  EXPECT_EQ(Post("runs/delete", "{\"run_id\": \"" + run_id + "\"}").status, 200);
  EXPECT_EQ(StringAt(*GetRunJson(run_id).Find("info"), "lifecycle_stage"), "deleted");
  std::string expected =
      "The run " + run_id + " must be in the 'active' state. Current state is deleted.";
  ExpectError(Post("runs/log-metric", "{\"run_id\": \"" + run_id +
                                          "\", \"key\": \"m\", \"value\": 1, \"timestamp\": 1}"),
              400, "INVALID_PARAMETER_VALUE", expected);
  ExpectError(Post("runs/log-parameter",
                   "{\"run_id\": \"" + run_id + "\", \"key\": \"p\", \"value\": \"1\"}"),
              400, "INVALID_PARAMETER_VALUE", expected);
  ExpectError(
      Post("runs/set-tag", "{\"run_id\": \"" + run_id + "\", \"key\": \"t\", \"value\": \"1\"}"),
      400, "INVALID_PARAMETER_VALUE", expected);
  ExpectError(Post("runs/log-batch", "{\"run_id\": \"" + run_id +
                                         "\", \"params\": [{\"key\": \"b\", \"value\": \"1\"}]}"),
              400, "INVALID_PARAMETER_VALUE", expected);
  ExpectError(Post("runs/update", "{\"run_id\": \"" + run_id + "\", \"status\": \"KILLED\"}"), 400,
              "INVALID_PARAMETER_VALUE", expected);
  EXPECT_EQ(Post("runs/restore", "{\"run_id\": \"" + run_id + "\"}").status, 200);
  EXPECT_EQ(
      Post("runs/set-tag", "{\"run_id\": \"" + run_id + "\", \"key\": \"t\", \"value\": \"1\"}")
          .status,
      200);
}

TEST_F(TrackingEndpointsTest, RunErrors) {
  std::string exp = CreateExperiment("run-errors");
  std::string run_id = CreateRun(exp);
  const std::string rid = "\"run_id\": \"" + run_id + "\"";
  ExpectError(Get("runs/get?run_id=0123456789abcdef0123456789abcdef"), 404,
              "RESOURCE_DOES_NOT_EXIST", "Run with id=0123456789abcdef0123456789abcdef not found");
  ExpectError(Get("runs/get"), 400, "INVALID_PARAMETER_VALUE",
              "Missing value for required parameter 'run_id'");
  ExpectError(Post("runs/delete", R"({"run_id": "0123456789abcdef0123456789abcdef"})"), 404,
              "RESOURCE_DOES_NOT_EXIST");
  ExpectError(Post("runs/restore", R"({"run_id": 5})"), 400, "INVALID_PARAMETER_VALUE",
              "Invalid value 5 for parameter 'run_id'");
  ExpectError(Post("runs/create", R"({"experiment_id": "424242"})"), 404,
              "RESOURCE_DOES_NOT_EXIST");
  ExpectError(Post("runs/create", "{\"experiment_id\": \"" + exp + "\", \"start_time\": \"soon\"}"),
              400, "INVALID_PARAMETER_VALUE", "Invalid value soon for parameter 'start_time'");
  ExpectError(Post("runs/create", "{\"experiment_id\": \"" + exp + "\", \"run_name\": [\"a\"]}"),
              400, "INVALID_PARAMETER_VALUE",
              "Invalid value ['a'] for parameter 'run_name' supplied. "
              "Hint: Value was of type 'list'.");
  ExpectError(Post("runs/update", "{" + rid + ", \"status\": \"DONE\"}"), 400,
              "INVALID_PARAMETER_VALUE", "parameter 'status'");
  ExpectError(Post("runs/update", "{" + rid + ", \"end_time\": 1.25}"), 400,
              "INVALID_PARAMETER_VALUE", "Invalid value 1.25 for parameter 'end_time'");

  // log-metric: every field's type, MLflow's order of checks.
  ExpectError(Post("runs/log-metric", R"({"key": "m", "value": 1, "timestamp": 1})"), 400,
              "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'run_id'");
  ExpectError(Post("runs/log-metric", "{" + rid + ", \"value\": 1, \"timestamp\": 1}"), 400,
              "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'key'");
  ExpectError(Post("runs/log-metric", "{" + rid + ", \"key\": \"m\", \"timestamp\": 1}"), 400,
              "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'value'");
  ExpectError(Post("runs/log-metric", "{" + rid + ", \"key\": \"m\", \"value\": 1}"), 400,
              "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'timestamp'");
  ExpectError(Post("runs/log-metric",
                   "{" + rid + ", \"key\": \"m\", \"value\": \"abc\", \"timestamp\": 1}"),
              400, "INVALID_PARAMETER_VALUE",
              "Invalid value abc for parameter 'value' supplied. Hint: Value was of type 'str'.");
  ExpectError(
      Post("runs/log-metric", "{" + rid + ", \"key\": \"m\", \"value\": true, \"timestamp\": 1}"),
      400, "INVALID_PARAMETER_VALUE", "Hint: Value was of type 'bool'.");
  ExpectError(
      Post("runs/log-metric", "{" + rid + ", \"key\": \"m\", \"value\": 1, \"timestamp\": 1.5}"),
      400, "INVALID_PARAMETER_VALUE", "Invalid value 1.5 for parameter 'timestamp'");
  ExpectError(
      Post("runs/log-metric", "{" + rid + ", \"key\": \"m\", \"value\": 1, \"timestamp\": 1e400}"),
      400, "MALFORMED_REQUEST");
  ExpectError(Post("runs/log-metric",
                   "{" + rid + ", \"key\": \"m\", \"value\": 1, \"timestamp\": \"Infinity\"}"),
              400, "INVALID_PARAMETER_VALUE", "parameter 'timestamp'");
  ExpectError(
      Post("runs/log-metric",
           "{" + rid + ", \"key\": \"m\", \"value\": 1, \"timestamp\": 1, \"step\": false}"),
      400, "INVALID_PARAMETER_VALUE", "Invalid value False for parameter 'step'");
  ExpectError(Post("runs/log-metric",
                   "{" + rid + ", \"key\": \"bad key!\", \"value\": 1, \"timestamp\": 1}"),
              400, "INVALID_PARAMETER_VALUE", "Invalid metric name: 'bad key!'");
  ExpectError(
      Post(
          "runs/log-metric",
          R"({"run_id": "0123456789abcdef0123456789abcdef", "key": "m", "value": 1, "timestamp": 1})"),
      404, "RESOURCE_DOES_NOT_EXIST");
  // Infinity values are accepted.
  EXPECT_EQ(Post("runs/log-metric",
                 "{" + rid + ", \"key\": \"inf\", \"value\": \"-Infinity\", \"timestamp\": 1}")
                .status,
            200);

  ExpectError(Post("runs/log-parameter", "{" + rid + ", \"key\": \"p\", \"value\": 5}"), 400,
              "INVALID_PARAMETER_VALUE",
              "Invalid value 5 for parameter 'value' supplied. Hint: Value was of type 'int'.");
  ExpectError(Post("runs/log-parameter", "{" + rid + ", \"value\": \"5\"}"), 400,
              "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'key'");
  ExpectError(Post("runs/set-tag", "{" + rid + ", \"key\": {}}"), 400, "INVALID_PARAMETER_VALUE",
              "Invalid value {} for parameter 'key' supplied. Hint: Value was of type 'dict'.");
  ExpectError(Post("runs/delete-tag", "{" + rid + "}"), 400, "INVALID_PARAMETER_VALUE",
              "Missing value for required parameter 'key'");
}

TEST_F(TrackingEndpointsTest, LogBatch) {
  std::string run_id = CreateRun("0");
  auto ok = Post(
      "runs/log-batch",
      "{\"run_id\": \"" + run_id +
          "\", \"metrics\": [{\"key\": \"m\", \"value\": 1.5, \"timestamp\": 10, \"step\": 0}, "
          "{\"key\": \"m\", \"value\": \"Infinity\", \"timestamp\": \"11\", \"step\": \"1\"}], "
          "\"params\": [{\"key\": \"p\", \"value\": \"v\"}, {\"key\": \"empty\"}], "
          "\"tags\": [{\"key\": \"t\", \"value\": \"x\"}]}");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.body, "{}");
  json::Value run = GetRunJson(run_id);
  const json::Value& m = run.Find("data")->Find("metrics")->items()[0];
  EXPECT_EQ(m.Find("step")->as_int64(), 1);
  // MLflow stores +inf as DBL_MAX and returns that finite number.
  EXPECT_EQ(m.Find("value")->as_double(), 1.7976931348623157e308);
  EXPECT_EQ(run.Find("data")->Find("params")->items().size(), 2u);
  EXPECT_EQ(Post("runs/log-batch", "{\"run_id\": \"" + run_id + "\"}").status, 200);

  ExpectError(Post("runs/log-batch", R"({"metrics": []})"), 400, "INVALID_PARAMETER_VALUE",
              "Missing value for required parameter 'run_id'");
  ExpectError(
      Post("runs/log-batch",
           "{\"run_id\": \"" + run_id + "\", \"metrics\": [{\"key\": \"m\", \"value\": 1}]}"),
      400, "INVALID_PARAMETER_VALUE",
      "Invalid value [{'key': 'm', 'value': 1}] for parameter 'metrics' supplied. Hint: Value "
      "was of type 'list'.");
  ExpectError(Post("runs/log-batch",
                   "{\"run_id\": \"" + run_id +
                       "\", \"metrics\": [{\"key\": \"m\", \"value\": \"x\", \"timestamp\": 1}]}"),
              400, "INVALID_PARAMETER_VALUE", "parameter 'metrics[0].value'");
  ExpectError(
      Post("runs/log-batch", "{\"run_id\": \"" + run_id + "\", \"params\": [{\"value\": \"v\"}]}"),
      400, "INVALID_PARAMETER_VALUE", "parameter 'params' supplied");
  ExpectError(Post("runs/log-batch", "{\"run_id\": \"" + run_id +
                                         "\", \"params\": [{\"key\": \"k\", \"value\": 1}]}"),
              400, "INVALID_PARAMETER_VALUE", "parameter 'params[0].value'");
  ExpectError(Post("runs/log-batch", "{\"run_id\": \"" + run_id + "\", \"tags\": \"t\"}"), 400,
              "INVALID_PARAMETER_VALUE", "parameter 'tags'");
  ExpectError(
      Post("runs/log-batch", "{\"run_id\": \"" + run_id +
                                 "\", \"params\": [{\"key\": \"p\", \"value\": \"other\"}]}"),
      400, "INVALID_PARAMETER_VALUE", "Changing param values is not allowed");
  std::string many = "{\"run_id\": \"" + run_id + "\", \"params\": [";
  for (int i = 0; i < 101; ++i)
    many +=
        (i ? "," : "") + std::string("{\"key\": \"k") + std::to_string(i) + "\", \"value\": \"v\"}";
  many += "]}";
  ExpectError(Post("runs/log-batch", many), 400, "INVALID_PARAMETER_VALUE",
              "A batch logging request can contain at most");
}

TEST_F(TrackingEndpointsTest, LogModelAppendsHistory) {
  std::string run_id = CreateRun("0");
  std::string model = R"({\"artifact_path\": \"model\", \"flavors\": {\"python_function\": {}}, )"
                      R"(\"utc_time_created\": \"2024-01-01 00:00:00.000000\", \"run_id\": \")" +
                      run_id + R"(\"})";
  for (int i = 0; i < 2; ++i) {
    auto r = Post("runs/log-model",
                  "{\"run_id\": \"" + run_id + "\", \"model_json\": \"" + model + "\"}");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "{}");
  }
  json::Value run = GetRunJson(run_id);
  std::string history;
  for (const json::Value& t : run.Find("data")->Find("tags")->items()) {
    if (StringAt(t, "key") == "mlflow.log-model.history") history = StringAt(t, "value");
  }
  auto parsed = json::Parse(history);
  ASSERT_TRUE(parsed.has_value()) << history;
  ASSERT_TRUE(parsed->is_array());
  ASSERT_EQ(parsed->items().size(), 2u);
  EXPECT_EQ(StringAt(parsed->items()[1], "artifact_path"), "model");

  ExpectError(
      Post("runs/log-model", "{\"run_id\": \"" + run_id + "\", \"model_json\": \"{not json\"}"),
      400, "INVALID_PARAMETER_VALUE", "Malformed model info. \n {not json \n is not a valid JSON.");
  ExpectError(
      Post("runs/log-model",
           "{\"run_id\": \"" + run_id + "\", \"model_json\": \"{\\\"flavors\\\": {}}\"}"),
      400, "INVALID_PARAMETER_VALUE",
      "Model json is missing mandatory fields: {'artifact_path', 'run_id', 'utc_time_created'}");
  ExpectError(Post("runs/log-model", "{\"run_id\": \"" + run_id + "\"}"), 400,
              "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'model_json'");
  ExpectError(Post("runs/log-model", "{\"run_id\": \"" + run_id + "\", \"model_json\": {}}"), 400,
              "INVALID_PARAMETER_VALUE", "parameter 'model_json'");
  ExpectError(
      Post("runs/log-model",
           R"({"run_id": "0123456789abcdef0123456789abcdef", "model_json": ")" + model + "\"}"),
      404, "RESOURCE_DOES_NOT_EXIST");
}

TEST_F(TrackingEndpointsTest, LogInputs) {
  std::string run_id = CreateRun("0");
  auto ok = Post("runs/log-inputs",
                 "{\"run_id\": \"" + run_id +
                     "\", \"datasets\": [{\"tags\": [{\"key\": \"mlflow.data.context\", \"value\": "
                     "\"training\"}], \"dataset\": {\"name\": \"iris\", \"digest\": \"abc123\", "
                     "\"source_type\": \"local\", \"source\": \"{\\\"uri\\\": \\\"x\\\"}\", "
                     "\"schema\": \"{}\"}}]}");
  ASSERT_EQ(ok.status, 200) << ok.body;
  json::Value run = GetRunJson(run_id);
  const json::Value* inputs = run.Find("inputs")->Find("dataset_inputs");
  ASSERT_NE(inputs, nullptr);
  ASSERT_EQ(inputs->items().size(), 1u);
  const json::Value& d = *inputs->items()[0].Find("dataset");
  EXPECT_EQ(StringAt(d, "name"), "iris");
  EXPECT_EQ(StringAt(d, "schema"), "{}");
  EXPECT_EQ(d.Find("profile"), nullptr);
  EXPECT_EQ(inputs->items()[0].Find("tags")->items().size(), 1u);

  ExpectError(Post("runs/log-inputs", "{\"run_id\": \"" + run_id + "\"}"), 400,
              "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'datasets'");
  ExpectError(Post("runs/log-inputs", "{\"run_id\": \"" + run_id + "\", \"datasets\": [5]}"), 400,
              "INVALID_PARAMETER_VALUE", "parameter 'datasets[0]'");
  ExpectError(Post("runs/log-inputs", "{\"run_id\": \"" + run_id +
                                          "\", \"datasets\": [{\"dataset\": {\"name\": 1}}]}"),
              400, "INVALID_PARAMETER_VALUE", "parameter 'datasets[0].dataset.name'");
  ExpectError(Post("runs/log-inputs", "{\"run_id\": \"" + run_id +
                                          "\", \"datasets\": [{\"dataset\": {\"name\": \"n\"}}]}"),
              400, "INVALID_PARAMETER_VALUE");
}

TEST_F(TrackingEndpointsTest, SearchRuns) {
  std::string exp = CreateExperiment("search-runs");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    std::string id = CreateRun(exp, ", \"run_name\": \"r" + std::to_string(i) + "\"");
    ids.push_back(id);
    EXPECT_EQ(Post("runs/log-metric", "{\"run_id\": \"" + id + "\", \"key\": \"acc\", \"value\": " +
                                          std::to_string(i) + ", \"timestamp\": 1}")
                  .status,
              200);
    EXPECT_EQ(
        Post("runs/log-parameter", "{\"run_id\": \"" + id + "\", \"key\": \"p\", \"value\": \"v" +
                                       std::to_string(i) + "\"}")
            .status,
        200);
  }
  auto r = Post("runs/search",
                "{\"experiment_ids\": [" + exp +
                    "], \"filter\": \"metrics.acc >= 1\", \"order_by\": [\"metrics.acc DESC\"]}");
  ASSERT_EQ(r.status, 200) << r.body;
  json::Value r_body = Json(r);
  const json::Value* runs = r_body.Find("runs");
  ASSERT_NE(runs, nullptr);
  ASSERT_EQ(runs->items().size(), 2u);
  EXPECT_EQ(StringAt(*runs->items()[0].Find("info"), "run_id"), ids[2]);
  EXPECT_NE(runs->items()[0].Find("inputs"), nullptr);

  auto page = Post("runs/search", "{\"experiment_ids\": [\"" + exp +
                                      "\"], \"max_results\": 2, \"order_by\": [\"params.p ASC\"]}");
  ASSERT_EQ(page.status, 200) << page.body;
  std::string token = StringAt(Json(page), "next_page_token");
  ASSERT_FALSE(token.empty());
  auto page2 =
      Post("runs/search",
           "{\"experiment_ids\": [\"" + exp +
               "\"], \"max_results\": 2, \"order_by\": [\"params.p ASC\"], \"page_token\": " +
               Quote(token) + "}");
  ASSERT_EQ(page2.status, 200);
  ASSERT_EQ(Json(page2).Find("runs")->items().size(), 1u);
  EXPECT_EQ(StringAt(*Json(page2).Find("runs")->items()[0].Find("info"), "run_id"), ids[2]);

  EXPECT_EQ(Post("runs/delete", "{\"run_id\": \"" + ids[0] + "\"}").status, 200);
  auto deleted = Post("runs/search", "{\"experiment_ids\": [\"" + exp +
                                         "\"], \"run_view_type\": \"DELETED_ONLY\"}");
  ASSERT_EQ(deleted.status, 200);
  ASSERT_EQ(Json(deleted).Find("runs")->items().size(), 1u);
  auto active =
      Post("runs/search", "{\"experiment_ids\": [\"" + exp + "\"], \"run_view_type\": 1}");
  EXPECT_EQ(Json(active).Find("runs")->items().size(), 2u);
  auto none = Post("runs/search", R"({"experiment_ids": ["424242"]})");
  EXPECT_EQ(none.status, 200);
  EXPECT_EQ(none.body, "{}");

  ExpectError(
      Post("runs/search", R"({"experiment_ids": ["0"], "max_results": 50001})"), 400,
      "INVALID_PARAMETER_VALUE",
      "Invalid value 50001 for parameter 'max_results' supplied. Hint: Value was of type 'int'.");
  ExpectError(Post("runs/search", R"({"experiment_ids": "0"})"), 400, "INVALID_PARAMETER_VALUE",
              "parameter 'experiment_ids'");
  ExpectError(Post("runs/search", R"({"experiment_ids": ["0"], "order_by": [1]})"), 400,
              "INVALID_PARAMETER_VALUE", "parameter 'order_by'");
  ExpectError(Post("runs/search", R"({"experiment_ids": ["0"], "filter": "metrics.acc > 'x'"})"),
              400, "INVALID_PARAMETER_VALUE");
  ExpectError(
      Post("runs/search", R"({"experiment_ids": ["0"], "order_by": ["metrics.a", "metrics.a"]})"),
      400, "INVALID_PARAMETER_VALUE");
  ExpectError(Post("runs/search", R"({"experiment_ids": ["0"], "run_view_type": "NONE"})"), 400,
              "INVALID_PARAMETER_VALUE", "parameter 'run_view_type'");
  // Search is POST only in MLflow.
  auto get = Get("runs/search?experiment_ids=0");
  EXPECT_EQ(get.status, 405);
  ExpectServing();
}

TEST_F(TrackingEndpointsTest, MetricHistory) {
  std::string run_id = CreateRun("0");
  for (int step = 0; step < 5; ++step) {
    EXPECT_EQ(Post("runs/log-metric",
                   "{\"run_id\": \"" + run_id +
                       "\", \"key\": \"loss\", \"value\": " + std::to_string(step) +
                       ".5, \"timestamp\": 100, \"step\": " + std::to_string(step) + "}")
                  .status,
              200);
  }
  auto all = Get("metrics/get-history?run_id=" + run_id + "&metric_key=loss");
  ASSERT_EQ(all.status, 200) << all.body;
  json::Value body = Json(all);
  ASSERT_EQ(body.Find("metrics")->items().size(), 5u);
  EXPECT_EQ(body.Find("next_page_token"), nullptr);
  const json::Value& first = body.Find("metrics")->items()[0];
  EXPECT_EQ(StringAt(first, "key"), "loss");
  EXPECT_EQ(first.Find("value")->as_double(), 0.5);
  EXPECT_EQ(first.Find("timestamp")->as_int64(), 100);
  EXPECT_EQ(first.Find("step")->as_int64(), 0);

  // Our pagination extension.
  auto page1 = Get("metrics/get-history?run_uuid=" + run_id + "&metric_key=loss&max_results=2");
  ASSERT_EQ(page1.status, 200) << page1.body;
  ASSERT_EQ(Json(page1).Find("metrics")->items().size(), 2u);
  std::string token = StringAt(Json(page1), "next_page_token");
  ASSERT_FALSE(token.empty());
  auto page2 = Get("metrics/get-history?run_id=" + run_id +
                   "&metric_key=loss&max_results=2&page_token=" + http::PercentEncode(token));
  ASSERT_EQ(page2.status, 200) << page2.body;
  EXPECT_EQ(Json(page2).Find("metrics")->items()[0].Find("step")->as_int64(), 2);

  auto unknown_key = Get("metrics/get-history?run_id=" + run_id + "&metric_key=nothing");
  EXPECT_EQ(unknown_key.status, 200);
  EXPECT_EQ(unknown_key.body, "{}");
  ExpectError(Get("metrics/get-history?run_id=" + run_id), 400, "INVALID_PARAMETER_VALUE",
              "Missing value for required parameter 'metric_key'");
  ExpectError(Get("metrics/get-history?metric_key=loss"), 400, "INVALID_PARAMETER_VALUE",
              "Missing value for required parameter 'run_id'");
  ExpectError(Get("metrics/get-history?run_id=" + run_id + "&metric_key=loss&max_results=x"), 400,
              "INVALID_PARAMETER_VALUE", "parameter 'max_results'");
}

TEST_F(TrackingEndpointsTest, MetricHistoryBulkInterval) {
  std::string a = CreateRun("0");
  std::string b = CreateRun("0");
  for (const std::string& id : {a, b}) {
    for (int step = 0; step < 4; ++step) {
      EXPECT_EQ(Post("runs/log-metric", "{\"run_id\": \"" + id +
                                            "\", \"key\": \"loss\", \"value\": 1, "
                                            "\"timestamp\": 5, \"step\": " +
                                            std::to_string(step) + "}")
                    .status,
                200);
    }
  }
  auto r = Get("metrics/get-history-bulk-interval?run_ids=" + a + "&run_ids=" + b +
               "&metric_key=loss&max_results=10");
  ASSERT_EQ(r.status, 200) << r.body;
  json::Value r_body = Json(r);
  const json::Value* metrics = r_body.Find("metrics");
  ASSERT_NE(metrics, nullptr);
  ASSERT_EQ(metrics->items().size(), 8u);
  EXPECT_EQ(StringAt(metrics->items()[0], "run_id"), a);
  EXPECT_EQ(StringAt(metrics->items()[7], "run_id"), b);
  // A single run id is still a list; a range within the steps.
  auto ranged = Get("metrics/get-history-bulk-interval?run_ids=" + a +
                    "&metric_key=loss&start_step=1&end_step=2&max_results=10");
  ASSERT_EQ(ranged.status, 200) << ranged.body;
  EXPECT_EQ(Json(ranged).Find("metrics")->items().size(), 2u);
  // Default max_results (MLflow's 2500).
  auto defaulted = Get("metrics/get-history-bulk-interval?run_ids=" + a + "&metric_key=loss");
  EXPECT_EQ(defaulted.status, 200) << defaulted.body;

  ExpectError(Get("metrics/get-history-bulk-interval?metric_key=loss"), 400,
              "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'run_ids'");
  ExpectError(Get("metrics/get-history-bulk-interval?run_ids=" + a), 400, "INVALID_PARAMETER_VALUE",
              "Missing value for required parameter 'metric_key'");
  std::string many = "metrics/get-history-bulk-interval?metric_key=loss";
  for (int i = 0; i < 101; ++i) many += "&run_ids=r" + std::to_string(i);
  ExpectError(Get(many), 400, "INVALID_PARAMETER_VALUE",
              "GetMetricHistoryBulkInterval request must specify at most 100 run_ids. Received 101 "
              "run_ids. See the API docs");
  for (std::string_view bad : {"0", "2501", "-1"}) {
    ExpectError(Get("metrics/get-history-bulk-interval?run_ids=" + a +
                    "&metric_key=loss&max_results=" + std::string(bad)),
                400, "INVALID_PARAMETER_VALUE", "max_results must be between 1 and 2500.");
  }
  ExpectError(
      Get("metrics/get-history-bulk-interval?run_ids=" + a + "&metric_key=loss&max_results=many"),
      400, "INVALID_PARAMETER_VALUE", "Invalid value many for parameter 'max_results'");
  ExpectError(
      Get("metrics/get-history-bulk-interval?run_ids=" + a + "&metric_key=loss&start_step=1"), 400,
      "INVALID_PARAMETER_VALUE",
      "If either start step or end step are specified, both must be specified.");
  ExpectError(Get("metrics/get-history-bulk-interval?run_ids=" + a +
                  "&metric_key=loss&start_step=5&end_step=1"),
              400, "INVALID_PARAMETER_VALUE",
              "end_step must be greater than start_step. Found start_step=5 and end_step=1.");
  ExpectError(Get("metrics/get-history-bulk-interval?run_ids=" + a +
                  "&metric_key=loss&start_step=a&end_step=1"),
              400, "INVALID_PARAMETER_VALUE", "Invalid value a for parameter 'start_step'");
}

TEST_F(TrackingEndpointsTest, MalformedRequestsAndTransportErrors) {
  ExpectError(Post("experiments/create", "{\"name\": "), 400, "MALFORMED_REQUEST");
  ExpectError(Post("experiments/create", "not json at all"), 400, "MALFORMED_REQUEST");
  ExpectError(Post("experiments/create", "[{\"name\": \"x\"}]"), 400, "MALFORMED_REQUEST",
              "Request body must be a JSON object, got array.");
  ExpectError(Post("experiments/create", "\"str\""), 400, "MALFORMED_REQUEST");
  ExpectError(Post("experiments/create", "{\"name\": \"x\"} {}"), 400, "MALFORMED_REQUEST");
  std::string deep(100, '[');
  deep += std::string(100, ']');
  ExpectError(Post("experiments/create", "{\"name\": \"x\", \"tags\": " + deep + "}"), 400,
              "MALFORMED_REQUEST");

  ExpectError(env().Send(http::Method::kPost, Url("experiments/create"), R"({"name": "x"})"), 400,
              "INVALID_PARAMETER_VALUE", "Bad Request. Content-Type header is missing.");
  ExpectError(env().Send(http::Method::kPost, Url("experiments/create"), R"({"name": "x"})",
                         {{"content-type", "text/plain"}}),
              400, "INVALID_PARAMETER_VALUE",
              "Bad Request. Content-Type must be one of ['application/json'].");
  auto charset = env().Send(http::Method::kPost, Url("experiments/create"), R"({"name": "cs"})",
                            {{"content-type", "application/json; charset=utf-8"}});
  EXPECT_EQ(charset.status, 200) << charset.body;
  // Double-encoded JSON from old clients.
  auto doubled = Post("experiments/create", R"("{\"name\": \"doubled\"}")");
  EXPECT_EQ(doubled.status, 200) << doubled.body;
  // Unknown fields are ignored, as protobuf's ParseDict(ignore_unknown_fields).
  auto unknown = Post("experiments/create", R"({"name": "unk", "whatever": [1, {"a": 2}]})");
  EXPECT_EQ(unknown.status, 200) << unknown.body;

  // Wrong method and unknown paths (the http layer's errors).
  auto wrong_method = Get("experiments/create");
  EXPECT_EQ(wrong_method.status, 405);
  ExpectServing();
  auto unknown_path = Get("experiments/frobnicate");
  EXPECT_EQ(unknown_path.status, 404);
  ExpectServing();
  // 2.12 has no delete-experiment-tag; we do, as POST only.
  EXPECT_EQ(Get("experiments/delete-experiment-tag?experiment_id=0&key=a").status, 405);
  ExpectServing();

  // Oversized body: the memory route limit of this server is 1 MiB.
  std::string big = "{\"name\": \"" + std::string(2 << 20, 'x') + "\"}";
  auto too_big = Post("experiments/create", big);
  EXPECT_EQ(too_big.status, 413) << too_big.body.substr(0, 200);
  EXPECT_EQ(StringAt(Json(too_big), "error_code"), "PAYLOAD_TOO_LARGE");
  ExpectServing();
}

TEST_F(TrackingEndpointsTest, ListRunArtifacts) {
  std::string run_id = CreateRun("0");
  std::string root = "0/" + run_id + "/artifacts";
  ASSERT_TRUE(env().artifacts().Put(root + "/model/MLmodel", "flavors: {}\n").has_value());
  ASSERT_TRUE(env().artifacts().Put(root + "/model/data/w.bin", "1234").has_value());
  ASSERT_TRUE(env().artifacts().Put(root + "/metrics.json", "{}").has_value());
  ASSERT_TRUE(env().artifacts().Put(root + "/empty.txt", "").has_value());

  auto top = Get("artifacts/list?run_id=" + run_id);
  ASSERT_EQ(top.status, 200) << top.body;
  json::Value body = Json(top);
  EXPECT_EQ(StringAt(body, "root_uri"), "mlflow-artifacts:/0/" + run_id + "/artifacts");
  const json::Value* files = body.Find("files");
  ASSERT_NE(files, nullptr);
  ASSERT_EQ(files->items().size(), 3u);
  EXPECT_EQ(
      json::Serialize(*files),
      R"([{"path":"empty.txt","is_dir":false},{"path":"metrics.json","is_dir":false,"file_size":2},)"
      R"({"path":"model","is_dir":true}])");

  auto sub = Get("artifacts/list?run_uuid=" + run_id + "&path=model");
  ASSERT_EQ(sub.status, 200) << sub.body;
  EXPECT_EQ(
      json::Serialize(*Json(sub).Find("files")),
      R"([{"path":"model/MLmodel","is_dir":false,"file_size":12},{"path":"model/data","is_dir":true}])");
  auto deeper = Get("artifacts/list?run_id=" + run_id + "&path=model/data/");
  ASSERT_EQ(deeper.status, 200) << deeper.body;
  EXPECT_EQ(StringAt(Json(deeper).Find("files")->items()[0], "path"), "model/data/w.bin");

  auto missing_dir = Get("artifacts/list?run_id=" + run_id + "&path=nothing");
  ASSERT_EQ(missing_dir.status, 200);
  EXPECT_EQ(missing_dir.body, "{\"root_uri\":\"mlflow-artifacts:/0/" + run_id + "/artifacts\"}");

  for (std::string_view attack :
       {"..", "../..", "model/../../x", "%2e%2e", "..%2f..", "/etc", "%252e%252e", "a%5c..%5cb"}) {
    ExpectError(Get("artifacts/list?run_id=" + run_id + "&path=" + std::string(attack)), 400,
                "INVALID_PARAMETER_VALUE");
  }
  ExpectError(Get("artifacts/list?path=model"), 400, "INVALID_PARAMETER_VALUE",
              "Missing value for required parameter 'run_id'");
  ExpectError(Get("artifacts/list?run_id=0123456789abcdef0123456789abcdef"), 404,
              "RESOURCE_DOES_NOT_EXIST");
}

}  // namespace
}  // namespace mlforge::api

// The alerts REST API through the real binary, on SQLite and PostgreSQL:
// rules create/get/list/update/delete, alerts list, deliveries, and a 400
// naming the field for every kind of bad input.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/json.h"
#include "http/http.h"
#include "integration/server_process.h"

namespace mlforge::testing {
namespace {

constexpr char kPrefix[] = "/api/2.0/mlforge/alerts";

json::Value Parse(const std::string& body) {
  auto v = json::Parse(body);
  return v ? *v : json::Value();
}

class AlertsApiTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  void SetUp() override {
    if (GetParam() == TestBackend::kPostgres && PostgresTestsDisabled()) {
      GTEST_SKIP() << "MLFORGE_TEST_PG=off";
    }
    server_ = std::make_unique<ServerProcess>(GetParam());
    client_ = std::make_unique<http::Client>("127.0.0.1", server_->port());
  }

  http::ClientResponse Call(http::Method method, const std::string& path,
                            const std::string& body = {},
                            const std::string& content_type = "application/json") {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!body.empty() && !content_type.empty()) headers.emplace_back("content-type", content_type);
    auto r = client_->Send(method, std::string(kPrefix) + path, body, headers);
    return r ? *r : http::ClientResponse{};
  }

  // A 400 INVALID_PARAMETER_VALUE whose message names `field`.
  void ExpectBadField(const http::ClientResponse& r, const std::string& field) {
    EXPECT_EQ(r.status, 400) << r.body;
    json::Value v = Parse(r.body);
    ASSERT_TRUE(v.is_object()) << r.body;
    EXPECT_EQ(v.Find("error_code")->as_string(), "INVALID_PARAMETER_VALUE") << r.body;
    EXPECT_NE(v.Find("message")->as_string().find(field), std::string::npos) << r.body;
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<http::Client> client_;
};

TEST_P(AlertsApiTest, RulesLifecycle) {
  auto created = Call(http::Method::kPost, "/rules/create",
                      R"({"name":"drift","deployment":"fraud","metric":"feature_drift.*",)"
                      R"("op":">=","threshold":1,"for_windows":2,)"
                      R"("webhooks":["http://127.0.0.1:9/hook"]})");
  ASSERT_EQ(created.status, 200) << created.body;
  json::Value rule = *Parse(created.body).Find("rule");
  const std::string id = rule.Find("id")->as_string();
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(rule.Find("metric")->as_string(), "feature_drift.*");
  EXPECT_EQ(rule.Find("op")->as_string(), ">=");
  EXPECT_EQ(rule.Find("threshold")->as_double(), 1.0);
  EXPECT_EQ(rule.Find("for_windows")->as_int64(), 2);
  EXPECT_TRUE(rule.Find("enabled")->as_bool());
  ASSERT_EQ(rule.Find("webhooks")->items().size(), 1u);

  // Defaults: any deployment, one window, no webhooks, enabled.
  auto second = Call(http::Method::kPost, "/rules/create",
                     R"({"name":"rmse","metric":"rmse","op":"gt","threshold":"2.5"})");
  ASSERT_EQ(second.status, 200) << second.body;
  json::Value r2 = *Parse(second.body).Find("rule");
  EXPECT_EQ(r2.Find("deployment")->as_string(), "");
  EXPECT_EQ(r2.Find("for_windows")->as_int64(), 1);
  EXPECT_EQ(r2.Find("threshold")->as_double(), 2.5);
  EXPECT_TRUE(r2.Find("webhooks")->items().empty());

  auto got = Call(http::Method::kGet, "/rules/get?id=" + id);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(Parse(got.body).Find("rule")->Find("name")->as_string(), "drift");

  auto updated = Call(http::Method::kPost, "/rules/update",
                      R"({"id":")" + id + R"(","threshold":0.5,"enabled":false,"webhooks":[]})");
  ASSERT_EQ(updated.status, 200) << updated.body;
  json::Value u = *Parse(updated.body).Find("rule");
  EXPECT_EQ(u.Find("threshold")->as_double(), 0.5);
  EXPECT_FALSE(u.Find("enabled")->as_bool());
  EXPECT_TRUE(u.Find("webhooks")->items().empty());
  EXPECT_EQ(u.Find("metric")->as_string(), "feature_drift.*");

  auto list = Call(http::Method::kGet, "/rules/list");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(Parse(list.body).Find("rules")->items().size(), 2u);

  auto deleted = Call(http::Method::kDelete, "/rules/delete", R"({"id":")" + id + R"("})");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  auto by_query =
      Call(http::Method::kDelete,
           "/rules/delete?id=" + Parse(second.body).Find("rule")->Find("id")->as_string());
  ASSERT_EQ(by_query.status, 200) << by_query.body;
  EXPECT_TRUE(Parse(Call(http::Method::kGet, "/rules/list").body).Find("rules")->items().empty());

  auto gone = Call(http::Method::kGet, "/rules/get?id=" + id);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(Parse(gone.body).Find("error_code")->as_string(), "RESOURCE_DOES_NOT_EXIST");
  EXPECT_EQ(Call(http::Method::kDelete, "/rules/delete", R"({"id":")" + id + R"("})").status, 404);

  // No live monitor has reported windows: nothing fired, nothing delivered.
  auto alerts = Call(http::Method::kGet, "/list?deployment=fraud&state=firing");
  ASSERT_EQ(alerts.status, 200) << alerts.body;
  EXPECT_TRUE(Parse(alerts.body).Find("alerts")->items().empty());
  auto deliveries = Call(http::Method::kGet, "/deliveries?alert_id=1&max_results=10");
  ASSERT_EQ(deliveries.status, 200) << deliveries.body;
  EXPECT_TRUE(Parse(deliveries.body).Find("deliveries")->items().empty());
}

TEST_P(AlertsApiTest, BadInputIs400NamingTheField) {
  const std::string ok = R"("name":"n","metric":"rmse","op":">","threshold":1)";
  ExpectBadField(
      Call(http::Method::kPost, "/rules/create", R"({"metric":"rmse","op":">","threshold":1})"),
      "name");
  ExpectBadField(
      Call(http::Method::kPost, "/rules/create", R"({"name":"n","op":">","threshold":1})"),
      "metric");
  ExpectBadField(
      Call(http::Method::kPost, "/rules/create", R"({"name":"n","metric":"rmse","threshold":1})"),
      "op");
  ExpectBadField(Call(http::Method::kPost, "/rules/create",
                      R"({"name":"n","metric":"rmse","op":"==","threshold":1})"),
                 "op");
  ExpectBadField(Call(http::Method::kPost, "/rules/create",
                      R"({"name":"n","metric":"rmse","op":">","threshold":"high"})"),
                 "threshold");
  ExpectBadField(
      Call(http::Method::kPost, "/rules/create", R"({"name":"n","metric":"rmse","op":">"})"),
      "threshold");
  ExpectBadField(Call(http::Method::kPost, "/rules/create",
                      R"({"name":"n","metric":"rmse","op":">","threshold":"NaN"})"),
                 "threshold");
  ExpectBadField(Call(http::Method::kPost, "/rules/create", "{" + ok + R"(,"for_windows":0})"),
                 "for_windows");
  ExpectBadField(Call(http::Method::kPost, "/rules/create", "{" + ok + R"(,"for_windows":1.5})"),
                 "for_windows");
  ExpectBadField(Call(http::Method::kPost, "/rules/create", "{" + ok + R"(,"webhooks":"x"})"),
                 "webhooks");
  ExpectBadField(Call(http::Method::kPost, "/rules/create",
                      "{" + ok + R"(,"webhooks":["file:///etc/passwd"]})"),
                 "webhooks[0]");
  ExpectBadField(Call(http::Method::kPost, "/rules/create", "{" + ok + R"(,"enabled":"yes"})"),
                 "enabled");
  ExpectBadField(Call(http::Method::kPost, "/rules/create",
                      R"({"name":"n","metric":"drift*","op":">","threshold":1})"),
                 "metric");
  ExpectBadField(Call(http::Method::kPost, "/rules/update", R"({"threshold":1})"), "id");
  ExpectBadField(Call(http::Method::kGet, "/rules/get"), "id");
  ExpectBadField(Call(http::Method::kDelete, "/rules/delete", "{}"), "id");
  ExpectBadField(Call(http::Method::kGet, "/list?state=burning"), "state");
  ExpectBadField(Call(http::Method::kGet, "/list?max_results=0"), "max_results");
  ExpectBadField(Call(http::Method::kGet, "/list?max_results=many"), "max_results");
  ExpectBadField(Call(http::Method::kGet, "/deliveries?alert_id=abc"), "alert_id");

  // Not JSON, or not JSON's content type.
  auto garbage = Call(http::Method::kPost, "/rules/create", "{not json");
  EXPECT_EQ(garbage.status, 400) << garbage.body;
  EXPECT_EQ(Parse(garbage.body).Find("error_code")->as_string(), "MALFORMED_REQUEST");
  auto text = Call(http::Method::kPost, "/rules/create", "{" + ok + "}", "text/plain");
  EXPECT_EQ(text.status, 400) << text.body;
  // Nothing was stored by any of them.
  EXPECT_TRUE(Parse(Call(http::Method::kGet, "/rules/list").body).Find("rules")->items().empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, AlertsApiTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace mlforge::testing

// Live monitoring through the real binary: a deployment's traffic shifts
// halfway on two features; the monitor flags exactly those, only in the
// second window; labels ingested by request id give the window's
// performance; predictions made elsewhere are ingested; every endpoint
// answers bad input with a 4xx naming the problem.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <set>

#include "integration/serving_support.h"
#include "support/webhook_receiver.h"

namespace mlforge::testing {
namespace {

constexpr char kMonitors[] = "/api/2.0/mlforge/monitors/";
constexpr char kMonitoring[] = "/api/2.0/mlforge/monitoring/";

struct Row {
  double x1, x2;
  int64_t n;
};

// x1 ~ N(x1_mean, 1), x2 ~ N(x2_mean, 1), n uniform in 0..9. Fixed seeds:
// the same traffic every run.
std::vector<Row> Draw(int count, double x1_mean, double x2_mean, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> x1(x1_mean, 1), x2(x2_mean, 1);
  std::uniform_int_distribution<int> n(0, 9);
  std::vector<Row> rows;
  for (int i = 0; i < count; ++i) rows.push_back({x1(rng), x2(rng), n(rng)});
  return rows;
}

std::string Csv(const std::vector<Row>& rows) {
  std::string csv = "x1,x2,n\n";
  for (const Row& r : rows) csv += fmt::format("{},{},{}\n", r.x1, r.x2, r.n);
  return csv;
}

std::string Quoted(std::string_view s) {
  std::string out;
  json::AppendQuoted(out, s);
  return out;
}

std::set<std::string> Strings(const json::Value* array) {
  std::set<std::string> out;
  if (array == nullptr || !array->is_array()) return out;
  for (const json::Value& v : array->items()) out.insert(v.as_string());
  return out;
}

double Number(const json::Value& v, std::string_view key) {
  const json::Value* f = v.Find(key);
  return f != nullptr && f->is_number() ? f->as_double() : NAN;
}

class MonitoringE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(
        TestBackend::kSqlite, std::vector<std::string>{"--serving-poll-ms", "20",
                                                       "--prediction-retention-days", "2"});
    client_ = std::make_unique<http::Client>("127.0.0.1", server_->port());
  }

  http::ClientResponse Call(http::Method method, const std::string& target,
                            const std::string& body = "") {
    auto r = client_->Send(method, target, body,
                           body.empty() ? std::vector<std::pair<std::string, std::string>>{}
                                        : std::vector<std::pair<std::string, std::string>>{
                                              {"content-type", "application/json"}});
    return r ? *r : http::ClientResponse{};
  }
  http::ClientResponse Post(const std::string& target, const std::string& body) {
    return Call(http::Method::kPost, target, body);
  }
  http::ClientResponse Get(const std::string& target) { return Call(http::Method::kGet, target); }

  // One OIP request with a chosen X-Request-Id; returns the prediction.
  double Infer(const std::string& deployment, const Row& row, const std::string& id) {
    auto r = client_->Send(http::Method::kPost, "/v2/models/" + deployment + "/infer",
                           InferBody(row.x1, row.x2, row.n),
                           {{"content-type", "application/json"}, {"x-request-id", id}});
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    return r ? OipPrediction(r->body) : NAN;
  }

  // Expects a 4xx whose message mentions `needle`.
  void ExpectBad(const http::ClientResponse& r, int status, const std::string& needle,
                 const std::string& what) {
    EXPECT_EQ(r.status, status) << what << ": " << r.body;
    EXPECT_NE(r.body.find(needle), std::string::npos) << what << ": " << r.body;
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<http::Client> client_;
};

TEST_F(MonitoringE2eTest, FlagsTheShiftedFeaturesOnlyInTheShiftedWindow) {
  ModelRegistrar models(server_->port());
  const int64_t v = models.AddVersion("price", 0);
  models.SetAlias("price", "champion", v);
  CreateDeployment(*client_, "live", R"([{"model_name":"price","alias":"champion"}])");

  // An alert on any drifted feature of this deployment, to a webhook.
  Receiver receiver;
  auto rule = Post("/api/2.0/mlforge/alerts/rules/create",
                   R"({"name":"feature drift","deployment":"live","metric":"feature_drift.*",)"
                   R"("op":">=","threshold":1,"webhooks":[")" +
                       receiver.url() + R"("]})");
  ASSERT_EQ(rule.status, 200) << rule.body;

  // KS (approximate, from the window's sketch): "auto" would pick the
  // normalized Wasserstein distance for a reference over 1000 rows, whose
  // 0.1 threshold is within sampling noise for windows of a few hundred rows.
  const std::string reference = Csv(Draw(2000, 0, 0, 11));
  auto created = Post(std::string(kMonitors) + "create",
                      R"({"deployment":"live","window_seconds":3600,"sample_rate":1,)"
                      R"("drift":{"method":"ks"},"reference":{"csv":)" +
                          Quoted(reference) + "}}");
  ASSERT_EQ(created.status, 200) << created.body;
  json::Value monitor = *ParseOrNull(created.body).Find("monitor");
  EXPECT_EQ(Str(*monitor.Find("reference"), "kind"), "uploaded");

  // Window 1: the reference's distribution.
  constexpr int kRows = 600;
  const std::vector<Row> before = Draw(kRows, 0, 0, 12);
  for (int i = 0; i < kRows; ++i) Infer("live", before[i], "w1-" + std::to_string(i));
  auto close1 = Post(std::string(kMonitors) + "close-window", R"({"deployment":"live"})");
  ASSERT_EQ(close1.status, 200) << close1.body;

  // Window 2: x1 and x2 shift by three standard deviations; n does not.
  const std::vector<Row> after = Draw(kRows, 3, -3, 13);
  std::string labels = R"({"deployment":"live","labels":[)";
  for (int i = 0; i < kRows; ++i) {
    const std::string id = "w2-" + std::to_string(i);
    const double predicted = Infer("live", after[i], id);
    // Ground truth one above every prediction: MAE and RMSE are 1.
    labels += fmt::format(R"({}{{"request_id":"{}","label":{}}})", i ? "," : "", id,
                          predicted + 1.0);
  }
  labels += "]}";
  auto ingested = Post(std::string(kMonitoring) + "labels", labels);
  ASSERT_EQ(ingested.status, 200) << ingested.body;
  auto close2 = Post(std::string(kMonitors) + "close-window", R"({"deployment":"live"})");
  ASSERT_EQ(close2.status, 200) << close2.body;

  auto results = Get(std::string(kMonitors) + "results?deployment=live");
  ASSERT_EQ(results.status, 200) << results.body;
  json::Value body = ParseOrNull(results.body);
  const json::Value* list = body.Find("results");
  ASSERT_TRUE(list != nullptr && list->is_array());
  ASSERT_EQ(list->items().size(), 2u) << results.body;
  const json::Value& w1 = list->items()[0];
  const json::Value& w2 = list->items()[1];

  EXPECT_TRUE(w1.Find("compared")->as_bool()) << results.body;
  EXPECT_EQ(Strings(w1.Find("drifted_features")), std::set<std::string>{}) << results.body;
  EXPECT_FALSE(w1.Find("dataset_drift")->as_bool());
  EXPECT_EQ(Number(w1, "rows"), kRows);
  EXPECT_EQ(Number(*w1.Find("health"), "requests"), kRows);
  EXPECT_EQ(Number(*w1.Find("health"), "errors"), 0);
  EXPECT_GT(Number(*w1.Find("health"), "latency_p99_ms"), 0);
  EXPECT_GT(Number(*w1.Find("health"), "memory_bytes"), 0);

  EXPECT_EQ(Strings(w2.Find("drifted_features")), (std::set<std::string>{"x1", "x2"}))
      << results.body;
  EXPECT_TRUE(w2.Find("dataset_drift")->as_bool());
  EXPECT_EQ(Number(w2, "window_start"), Number(w1, "window_end"));
  EXPECT_EQ(Number(w2, "labelled_rows"), kRows);
  EXPECT_NEAR(Number(*w2.Find("performance"), "mae"), 1.0, 1e-6) << results.body;
  EXPECT_NEAR(Number(*w2.Find("performance"), "rmse"), 1.0, 1e-6);
  EXPECT_EQ(Number(w1, "labelled_rows"), 0);

  // Time range and paging.
  const int64_t w2_start = static_cast<int64_t>(Number(w2, "window_start"));
  auto later = Get(std::string(kMonitors) + "results?deployment=live&start_time=" +
                   std::to_string(w2_start));
  ASSERT_EQ(later.status, 200);
  EXPECT_EQ(ParseOrNull(later.body).Find("results")->items().size(), 1u);
  auto first = Get(std::string(kMonitors) + "results?deployment=live&max_results=1");
  ASSERT_EQ(first.status, 200);
  const std::string token = Str(ParseOrNull(first.body), "next_page_token");
  ASSERT_FALSE(token.empty()) << first.body;

  // The drift report of window 2, as JSON and HTML.
  auto report = Get(std::string(kMonitors) + "report?deployment=live&window_start=" +
                    std::to_string(w2_start));
  ASSERT_EQ(report.status, 200) << report.body;
  EXPECT_NE(report.body.find("\"x1\""), std::string::npos);
  auto html = Get(std::string(kMonitors) + "report?deployment=live&format=html&window_start=" +
                  std::to_string(w2_start));
  ASSERT_EQ(html.status, 200);
  EXPECT_NE(html.body.find("<html"), std::string::npos);
  EXPECT_NE(html.body.find("x2"), std::string::npos);

  // The webhook got one firing notice per drifted feature, and nothing for
  // window 1 or for n.
  auto notices = [&](size_t count) {
    for (int i = 0; i < 500 && receiver.bodies().size() < count; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::set<std::string> seen;
    for (const std::string& b : receiver.bodies()) {
      json::Value v = ParseOrNull(b);
      seen.insert(Str(v, "status") + " " + Str(*v.Find("alert"), "metric"));
    }
    return seen;
  };
  EXPECT_EQ(notices(2), (std::set<std::string>{"firing feature_drift.x1",
                                               "firing feature_drift.x2"}));
  // Window 3: back to the reference's distribution; each alert resolves once.
  const std::vector<Row> back = Draw(kRows, 0, 0, 14);
  for (int i = 0; i < kRows; ++i) Infer("live", back[i], "w3-" + std::to_string(i));
  auto close3 = Post(std::string(kMonitors) + "close-window", R"({"deployment":"live"})");
  ASSERT_EQ(close3.status, 200) << close3.body;
  EXPECT_EQ(notices(4), (std::set<std::string>{"firing feature_drift.x1", "firing feature_drift.x2",
                                               "resolved feature_drift.x1",
                                               "resolved feature_drift.x2"}));
  EXPECT_EQ(receiver.bodies().size(), 4u);
  auto alerts = Get("/api/2.0/mlforge/alerts/list?deployment=live&state=resolved");
  ASSERT_EQ(alerts.status, 200) << alerts.body;
  EXPECT_EQ(ParseOrNull(alerts.body).Find("alerts")->items().size(), 2u) << alerts.body;

  // get / list / update / delete.
  auto got = Get(std::string(kMonitors) + "get?deployment=live");
  ASSERT_EQ(got.status, 200);
  auto updated = Post(std::string(kMonitors) + "update",
                      R"({"deployment":"live","sample_rate":0.5,"drift":{"method":"psi"}})");
  ASSERT_EQ(updated.status, 200) << updated.body;
  json::Value u = *ParseOrNull(updated.body).Find("monitor");
  EXPECT_EQ(Number(u, "sample_rate"), 0.5);
  EXPECT_EQ(Number(u, "window_seconds"), 3600);  // unchanged
  EXPECT_EQ(Str(*u.Find("drift"), "method"), "psi");
  auto listed = Get(std::string(kMonitors) + "list");
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(ParseOrNull(listed.body).Find("monitors")->items().size(), 1u);
  auto deleted = Call(http::Method::kDelete, std::string(kMonitors) + "delete?deployment=live");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(Get(std::string(kMonitors) + "get?deployment=live").status, 404);
}

TEST_F(MonitoringE2eTest, IngestsPredictionsMadeElsewhere) {
  const std::string reference = Csv(Draw(1500, 0, 0, 21));
  ASSERT_EQ(Post(std::string(kMonitors) + "create",
                 R"({"deployment":"offline","drift":{"method":"ks"},"reference":{"csv":)" +
                     Quoted(reference) + "}}")
                .status,
            200);
  const std::vector<Row> rows = Draw(400, 0, 5, 22);  // x2 shifted
  std::string body = R"({"deployment":"offline","predictions":[)";
  std::string labels = R"({"deployment":"offline","labels":[)";
  for (size_t i = 0; i < rows.size(); ++i) {
    body += fmt::format(
        R"({}{{"request_id":"r{}","features":{{"x1":{},"x2":{},"n":{}}},"prediction":{}}})",
        i ? "," : "", i, rows[i].x1, rows[i].x2, rows[i].n, i % 2);
    labels += fmt::format(R"({}{{"request_id":"r{}","label":1}})", i ? "," : "", i);
  }
  body += "]}";
  labels += "]}";
  auto r = Post(std::string(kMonitoring) + "predictions", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Number(ParseOrNull(r.body), "ingested"), 400);
  auto closed = Post(std::string(kMonitors) + "close-window", R"({"deployment":"offline"})");
  ASSERT_EQ(closed.status, 200) << closed.body;
  json::Value w = *ParseOrNull(closed.body).Find("result");
  EXPECT_EQ(Number(w, "rows"), 400);
  EXPECT_EQ(Strings(w.Find("drifted_features")), std::set<std::string>{"x2"}) << closed.body;
  EXPECT_EQ(Number(w, "labelled_rows"), 0);
  // Labels that arrive after the window closed still reach its results.
  ASSERT_EQ(Post(std::string(kMonitoring) + "labels", labels).status, 200);
  auto results = Get(std::string(kMonitors) + "results?deployment=offline");
  json::Value stored = ParseOrNull(results.body).Find("results")->items()[0];
  EXPECT_EQ(Number(stored, "labelled_rows"), 400);
  EXPECT_DOUBLE_EQ(Number(*stored.Find("performance"), "accuracy"), 0.5) << results.body;
}

TEST_F(MonitoringE2eTest, BadInputGetsA4xxNamingTheProblem) {
  const std::string m = kMonitors;
  const std::string g = kMonitoring;
  // create
  ExpectBad(Post(m + "create", R"({"window_seconds":60})"), 400, "deployment", "create no name");
  ExpectBad(Post(m + "create", R"({"deployment":"../etc"})"), 400, "deployment", "create traversal");
  ExpectBad(Post(m + "create", R"({"deployment":"d","window_seconds":0})"), 400, "window_seconds",
            "create window");
  ExpectBad(Post(m + "create", R"({"deployment":"d","sample_rate":2})"), 400, "sample_rate",
            "create rate");
  ExpectBad(Post(m + "create", R"({"deployment":"d","drift":{"method":"magic"}})"), 400,
            "drift.method", "create method");
  ExpectBad(Post(m + "create", R"({"deployment":"d","reference":{"csv":5}})"), 400,
            "reference.csv", "create csv type");
  ExpectBad(Post(m + "create", R"({"deployment":"d","reference":{"csv":"a,b\n"}})"), 400,
            "reference.csv", "create csv without rows");
  ExpectBad(Post(m + "create", R"({"deployment":"d","reference":{"csv":"a\n\"1\n"}})"), 400,
            "reference.csv", "create bad csv");
  ExpectBad(Post(m + "create", R"({"deployment":"d","reference":{"profile":{"columns":7}}})"), 400,
            "reference.profile", "create bad profile");
  ExpectBad(Call(http::Method::kPost, m + "create", "not json"), 400, "", "create no json");
  ASSERT_EQ(Post(m + "create", R"({"deployment":"d"})").status, 200);
  ExpectBad(Post(m + "create", R"({"deployment":"d"})"), 400, "RESOURCE_ALREADY_EXISTS",
            "create twice");
  // get, update, delete
  ExpectBad(Get(m + "get"), 400, "deployment", "get no name");
  ExpectBad(Get(m + "get?deployment=nope"), 404, "nope", "get unknown");
  ExpectBad(Post(m + "update", R"({"deployment":"nope"})"), 404, "nope", "update unknown");
  ExpectBad(Post(m + "update", R"({"deployment":"d","enabled":"yes"})"), 400, "enabled",
            "update enabled");
  ExpectBad(Call(http::Method::kDelete, m + "delete?deployment=nope"), 404, "nope",
            "delete unknown");
  // close-window, results, report
  ExpectBad(Post(m + "close-window", R"({})"), 400, "deployment", "close no name");
  ExpectBad(Post(m + "close-window", R"({"deployment":"nope"})"), 404, "nope", "close unknown");
  ExpectBad(Get(m + "results"), 400, "deployment", "results no name");
  ExpectBad(Get(m + "results?deployment=nope"), 404, "nope", "results unknown");
  ExpectBad(Get(m + "results?deployment=d&max_results=0"), 400, "max_results", "results max");
  ExpectBad(Get(m + "results?deployment=d&page_token=zzz"), 400, "", "results token");
  ExpectBad(Get(m + "results?deployment=d&start_time=5&end_time=5"), 400, "start_time",
            "results range");
  ExpectBad(Get(m + "results?deployment=d&start_time=abc"), 400, "start_time", "results time");
  ExpectBad(Get(m + "report?deployment=d"), 400, "window_start", "report no window");
  ExpectBad(Get(m + "report?deployment=d&window_start=1&format=pdf"), 400, "format",
            "report format");
  ExpectBad(Get(m + "report?deployment=d&window_start=1"), 404, "window", "report unknown window");
  // predictions
  ExpectBad(Post(g + "predictions", R"({"deployment":"d"})"), 400, "predictions", "no predictions");
  ExpectBad(Post(g + "predictions", R"({"deployment":"d","predictions":[]})"), 400, "predictions",
            "empty predictions");
  ExpectBad(Post(g + "predictions", R"({"deployment":"d","predictions":[{"features":{"a":1}}]})"),
            400, "predictions[0].request_id", "no request id");
  ExpectBad(Post(g + "predictions",
                 R"({"deployment":"d","predictions":[{"request_id":"a","features":3}]})"),
            400, "predictions[0].features", "features type");
  ExpectBad(Post(g + "predictions",
                 R"({"deployment":"d","predictions":[{"request_id":"a","features":{"a":[1]}}]})"),
            400, "predictions[0].features", "feature value type");
  ExpectBad(Post(g + "predictions", R"({"deployment":"d","predictions":[{"request_id":"a",)"
                                    R"("features":[{"a":1},{"a":2}],"prediction":[1]}]})"),
            400, "predictions[0].prediction", "prediction count");
  ExpectBad(Post(g + "predictions", R"({"deployment":"d","predictions":[{"request_id":"a",)"
                                    R"("features":{"a":1},"prediction":"x"}]})"),
            400, "predictions[0].prediction", "prediction type");
  ExpectBad(Post(g + "predictions",
                 R"({"deployment":"nope","predictions":[{"request_id":"a","features":{"a":1}}]})"),
            404, "nope", "predictions unknown");
  // labels
  ExpectBad(Post(g + "labels", R"({"deployment":"d","labels":[{"request_id":"a"}]})"), 400,
            "labels[0].label", "no label");
  ExpectBad(Post(g + "labels", R"({"deployment":"d","labels":[{"request_id":"a","label":"x"}]})"),
            400, "labels[0].label", "label type");
  ExpectBad(Post(g + "labels", R"({"deployment":"d","labels":[{"label":1}]})"), 400,
            "labels[0].request_id", "label id");
  ExpectBad(Post(g + "labels", R"({"deployment":"nope","labels":[{"request_id":"a","label":1}]})"),
            404, "nope", "labels unknown");
  ExpectBad(Post(g + "labels", R"({"labels":[{"request_id":"a","label":1}]})"), 400, "deployment",
            "labels no deployment");
}

}  // namespace
}  // namespace mlforge::testing

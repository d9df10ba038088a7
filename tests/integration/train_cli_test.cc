// `mlforge train` end to end: the real binary trains against a real server,
// then the REST API shows what was recorded.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <regex>

#include "base/json.h"
#include "http/http.h"
#include "integration/server_process.h"
#include "support/temp_dir.h"

namespace mlforge::testing {
namespace {

namespace fs = std::filesystem;

CommandResult Mlforge(const fs::path& dir, const std::string& args) { return RunMlforge(dir, args); }

// 300 rows: y = 1 when 2a - b + noise > 0; c is noise.
std::string BinaryCsv() {
  std::string csv = "a,b,c,y\n";
  for (int i = 0; i < 300; ++i) {
    double a = std::sin(i * 0.37) * 2, b = std::cos(i * 0.91) * 3, c = (i * 7919 % 101) / 101.0;
    csv += std::to_string(a) + "," + std::to_string(b) + "," + std::to_string(c) + "," +
           (2 * a - b + 0.3 * std::sin(i * 5.3) > 0 ? "1" : "0") + "\n";
  }
  return csv;
}

std::string RegressionCsv() {
  std::string csv = "x1,x2,target\n";
  for (int i = 0; i < 120; ++i) {
    double x1 = i % 12, x2 = std::cos(i * 0.5);
    csv += std::to_string(x1) + "," + std::to_string(x2) + "," +
           std::to_string(4 + 1.5 * x1 - 2 * x2) + "\n";
  }
  return csv;
}

json::Value GetOk(http::Client& client, const std::string& target) {
  auto r = client.Get(target);
  EXPECT_TRUE(r.has_value());
  if (!r) return json::Value();
  EXPECT_EQ(r->status, 200) << target << ": " << r->body;
  auto v = json::Parse(r->body);
  EXPECT_TRUE(v.has_value()) << r->body;
  return v ? *v : json::Value();
}

std::string Str(const json::Value& v, std::string_view key) {
  const json::Value* f = v.Find(key);
  return f && f->is_string() ? f->as_string() : "";
}

std::map<std::string, std::string> KeyValues(const json::Value* list) {
  std::map<std::string, std::string> out;
  if (list == nullptr) return out;
  for (const json::Value& kv : list->items()) out[Str(kv, "key")] = Str(kv, "value");
  return out;
}

std::string RunIdOf(const std::string& output) {
  std::smatch m;
  return std::regex_search(output, m, std::regex("run ([0-9a-f]{32}) \\(")) ? m[1].str() : "";
}

class TrainCliTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  void SetUp() override {
    if (GetParam() == TestBackend::kPostgres && PostgresTestsDisabled()) {
      GTEST_SKIP() << "MLFORGE_TEST_PG=off";
    }
  }
};

TEST_P(TrainCliTest, XgboostFromADatasetVersionRecordsAndRegisters) {
  ServerProcess server(GetParam());
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
  TempDir dir;
  std::ofstream(dir.path() / "churn.csv") << BinaryCsv();
  ASSERT_EQ(Mlforge(dir.path(), "data add churn.csv --name churn").exit_code, 0);
  CommandResult push = Mlforge(dir.path(), "data push --remote " + url);
  ASSERT_EQ(push.exit_code, 0) << push.output;
  http::Client client("127.0.0.1", server.port());
  json::Value version =
      GetOk(client, "/api/2.0/mlforge/datasets/versions/get?name=churn&version=1");
  const std::string version_id = Str(*version.Find("version"), "version_id");
  ASSERT_EQ(version_id.size(), 64u);

  CommandResult train =
      Mlforge(dir.path(),
              "train --data dataset:churn@1 --target y --flavor xgboost --rounds 20 "
              "--param max_depth=3 --param eta=0.3 --experiment churn-exp --register churn "
              "--server " +
                  url);
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const std::string run_id = RunIdOf(train.output);
  ASSERT_FALSE(run_id.empty()) << train.output;
  EXPECT_NE(train.output.find("registered model 'churn' version 1"), std::string::npos)
      << train.output;

  json::Value run = GetOk(client, "/api/2.0/mlflow/runs/get?run_id=" + run_id);
  const json::Value& info = *run.Find("run")->Find("info");
  EXPECT_EQ(Str(info, "status"), "FINISHED");
  const json::Value& data = *run.Find("run")->Find("data");
  auto params = KeyValues(data.Find("params"));
  EXPECT_EQ(params["objective"], "binary:logistic");
  EXPECT_EQ(params["num_boost_round"], "20");
  EXPECT_EQ(params["max_depth"], "3");
  EXPECT_EQ(params["target"], "y");
  EXPECT_EQ(params["seed"], "42");
  EXPECT_EQ(params["train_rows"], "240");
  auto tags = KeyValues(data.Find("tags"));
  EXPECT_EQ(tags["mlforge.flavor"], "xgboost");
  EXPECT_EQ(tags["mlflow.source.name"], "mlforge train");
  EXPECT_EQ(tags["mlforge.training.dataset"], "churn@" + version_id);
  EXPECT_FALSE(tags["mlflow.user"].empty());
  double auc = -1;
  for (const json::Value& m : data.Find("metrics")->items()) {
    if (Str(m, "key") == "validation_roc_auc") auc = m.Find("value")->as_double();
  }
  EXPECT_GT(auc, 0.9);

  // Per-iteration history, step = iteration.
  json::Value history = GetOk(client, "/api/2.0/mlflow/metrics/get-history?run_id=" + run_id +
                                          "&metric_key=validation-logloss");
  const json::Value* points = history.Find("metrics");
  ASSERT_NE(points, nullptr);
  ASSERT_EQ(points->items().size(), 20u);
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(points->items()[i].Find("step")->as_int64(), static_cast<int64_t>(i + 1));
  }

  // The input dataset: digest = the version id (MLflow's 36-character cut), so
  // lineage finds the run.
  const json::Value* inputs = run.Find("run")->Find("inputs");
  ASSERT_NE(inputs, nullptr);
  const json::Value& ds = *inputs->Find("dataset_inputs")->items()[0].Find("dataset");
  EXPECT_EQ(Str(ds, "name"), "churn");
  EXPECT_EQ(Str(ds, "digest"), version_id.substr(0, 36));
  EXPECT_EQ(Str(ds, "source_type"), "mlforge_dataset");
  json::Value lineage =
      GetOk(client, "/api/2.0/mlforge/lineage/dataset-version?version_id=" + version_id);
  ASSERT_EQ(lineage.Find("runs")->items().size(), 1u);
  EXPECT_EQ(Str(lineage.Find("runs")->items()[0], "run_id"), run_id);
  ASSERT_EQ(lineage.Find("model_versions")->items().size(), 1u);

  // The package: MLmodel and model.json under model/.
  json::Value listing =
      GetOk(client, "/api/2.0/mlflow/artifacts/list?run_id=" + run_id + "&path=model");
  std::set<std::string> files;
  for (const json::Value& f : listing.Find("files")->items()) files.insert(Str(f, "path"));
  EXPECT_EQ(files, (std::set<std::string>{"model/MLmodel", "model/model.json"}));
  auto mlmodel = client.Get("/get-artifact?run_id=" + run_id + "&path=model/MLmodel");
  ASSERT_TRUE(mlmodel.has_value());
  EXPECT_NE(mlmodel->body.find("loader_module: mlflow.xgboost"), std::string::npos)
      << mlmodel->body;
  // Quoted or not: YAML quotes an id that starts with a digit.
  EXPECT_TRUE(std::regex_search(mlmodel->body, std::regex("\nrun_id: '?" + run_id + "'?\n")))
      << mlmodel->body;
  EXPECT_NE(mlmodel->body.find(version_id), std::string::npos);
  auto model_json = client.Get("/get-artifact?run_id=" + run_id + "&path=model/model.json");
  ASSERT_TRUE(model_json.has_value());
  EXPECT_TRUE(json::Parse(model_json->body).has_value());
  EXPECT_NE(model_json->body.find("\"learner\""), std::string::npos);

  // The registry accepted the package and pinned it.
  json::Value mv = GetOk(client, "/api/2.0/mlflow/model-versions/get?name=churn&version=1");
  EXPECT_EQ(Str(*mv.Find("model_version"), "run_id"), run_id);
  EXPECT_EQ(Str(*mv.Find("model_version"), "source"), "runs:/" + run_id + "/model");
  EXPECT_EQ(Str(*mv.Find("model_version"), "status"), "READY");
  json::Value uri =
      GetOk(client, "/api/2.0/mlflow/model-versions/get-download-uri?name=churn&version=1");
  auto pinned = client.Get(
      "/api/2.0/mlflow-artifacts/artifacts/" +
      Str(uri, "artifact_uri").substr(std::string("mlflow-artifacts:/").size()) + "/MLmodel");
  ASSERT_TRUE(pinned.has_value());
  EXPECT_EQ(pinned->status, 200);
  EXPECT_EQ(pinned->body, mlmodel->body);

  // The registered version serves: batch prediction through the registry
  // answers the training rows as the labels say.
  std::string features = "a,b,c\n", labels;
  {
    std::string csv = BinaryCsv();
    size_t pos = csv.find('\n') + 1;
    while (pos < csv.size()) {
      size_t eol = csv.find('\n', pos), comma = csv.rfind(',', eol);
      features += csv.substr(pos, comma - pos) + "\n";
      labels += csv[comma + 1];
      pos = eol + 1;
    }
  }
  std::ofstream(dir.path() / "features.csv") << features;
  CommandResult predict = Mlforge(dir.path(),
                                  "predict -q -m models:/churn/1 -i features.csv -o out.csv "
                                  "--threads 1 --server " +
                                      url);
  ASSERT_EQ(predict.exit_code, 0) << predict.output;
  std::ifstream out(dir.path() / "out.csv");
  std::string line;
  std::getline(out, line);
  EXPECT_EQ(line, "prediction");
  size_t rows = 0, right = 0;
  while (std::getline(out, line) && rows < labels.size()) {
    right += (std::stod(line) > 0.5) == (labels[rows] == '1');
    ++rows;
  }
  EXPECT_EQ(rows, 300u);
  EXPECT_GT(right, 280u);

  // A second training registers version 2 of the same model.
  CommandResult again = Mlforge(dir.path(),
                                "train -q --data dataset:churn --target y --rounds 5 "
                                "--experiment churn-exp --register churn --server " +
                                    url);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("registered model 'churn' version 2"), std::string::npos)
      << again.output;
}

TEST_P(TrainCliTest, LinearFromALocalCsv) {
  ServerProcess server(GetParam());
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
  TempDir dir;
  std::ofstream(dir.path() / "prices.csv") << RegressionCsv();
  // Run inside a git checkout: the run records its commit.
  CommandResult git = Mlforge(dir.path(),
                              "--version && git init -q && git -c user.name=t "
                              "-c user.email=t@example.com commit -q --allow-empty "
                              "-m init && git rev-parse HEAD");
  ASSERT_EQ(git.exit_code, 0) << git.output;
  const std::string commit = git.output.substr(git.output.size() - 41, 40);
  CommandResult train = Mlforge(dir.path(),
                                "train --data prices.csv --target target --flavor linear "
                                "--experiment prices --run-name ols --server " +
                                    url);
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const std::string run_id = RunIdOf(train.output);
  ASSERT_FALSE(run_id.empty()) << train.output;
  http::Client client("127.0.0.1", server.port());
  json::Value run = GetOk(client, "/api/2.0/mlflow/runs/get?run_id=" + run_id);
  EXPECT_EQ(KeyValues(run.Find("run")->Find("data")->Find("tags"))["mlflow.source.git.commit"],
            commit);
  EXPECT_EQ(Str(*run.Find("run")->Find("info"), "run_name"), "ols");
  auto params = KeyValues(run.Find("run")->Find("data")->Find("params"));
  EXPECT_EQ(params["task"], "regression");
  EXPECT_EQ(params["solver"], "least_squares");
  double r2 = -1;
  for (const json::Value& m : run.Find("run")->Find("data")->Find("metrics")->items()) {
    if (Str(m, "key") == "validation_r2") r2 = m.Find("value")->as_double();
  }
  EXPECT_NEAR(r2, 1.0, 1e-6);
  json::Value history = GetOk(
      client, "/api/2.0/mlflow/metrics/get-history?run_id=" + run_id + "&metric_key=train-rmse");
  EXPECT_EQ(history.Find("metrics")->items().size(), 1u);

  // The digest is the version id `mlforge data add` gives the same file.
  ASSERT_EQ(Mlforge(dir.path(), "data add prices.csv").exit_code, 0);
  std::ifstream pointer(dir.path() / "prices.csv.mlfd");
  std::string text((std::istreambuf_iterator<char>(pointer)), std::istreambuf_iterator<char>());
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text, m, std::regex("sha256: ([0-9a-f]{64})"))) << text;
  const json::Value& ds =
      *run.Find("run")->Find("inputs")->Find("dataset_inputs")->items()[0].Find("dataset");
  EXPECT_EQ(Str(ds, "digest"), m[1].str().substr(0, 36));
  EXPECT_EQ(Str(ds, "name"), "prices.csv");
  EXPECT_EQ(Str(ds, "source_type"), "local");
  // Pushed later as a dataset version, the file links back to the run.
  ASSERT_EQ(Mlforge(dir.path(), "data push --remote " + url).exit_code, 0);
  json::Value lineage =
      GetOk(client, "/api/2.0/mlforge/lineage/dataset-version?version_id=" + m[1].str());
  ASSERT_EQ(lineage.Find("runs")->items().size(), 1u);
  EXPECT_EQ(Str(lineage.Find("runs")->items()[0], "run_id"), run_id);

  auto mlmodel = client.Get("/get-artifact?run_id=" + run_id + "&path=model/MLmodel");
  ASSERT_TRUE(mlmodel.has_value());
  EXPECT_NE(mlmodel->body.find("  mlforge.linear:\n    data: model.json\n"), std::string::npos)
      << mlmodel->body;
  auto model = client.Get("/get-artifact?run_id=" + run_id + "&path=model/model.json");
  ASSERT_TRUE(model.has_value());
  auto parsed = json::Parse(model->body);
  ASSERT_TRUE(parsed.has_value()) << model->body;
  EXPECT_EQ(Str(*parsed, "format"), "mlforge.linear/1");
  EXPECT_NEAR(parsed->Find("coef")->items()[0].as_double(), 1.5, 1e-5);  // the CSV has 6 decimals
  EXPECT_NEAR(parsed->Find("coef")->items()[1].as_double(), -2.0, 1e-5);
  EXPECT_NEAR(parsed->Find("intercept")->as_double(), 4.0, 1e-5);
}

TEST_P(TrainCliTest, BadInvocationsRecordNothing) {
  ServerProcess server(GetParam());
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
  TempDir dir;
  std::ofstream(dir.path() / "d.csv") << BinaryCsv();
  std::ofstream(dir.path() / "bad.csv") << "a,y\n1,0\n2,x\n";
  std::ofstream(dir.path() / "gaps.csv") << "a,y\n1,0\n,1\n3,1\n";
  const std::string common = " --experiment never --server " + url;
  struct Case {
    std::string args;
    std::string message;
  } cases[] = {
      {"train --data d.csv --target nope" + common, "Target column 'nope' is not in the data"},
      {"train --data bad.csv --target y" + common, "line 3, column 'y' (2): 'x' is not a number"},
      {"train --data gaps.csv --target y --flavor linear" + common,
       "Column 'a' is empty in data row 2"},
      {"train --data d.csv --target y --param max_depth=abc" + common, "max_depth"},
      {"train --data d.csv --target y --param eta" + common,
       "Bad --param 'eta': expected KEY=VALUE"},
      {"train --data d.csv --target y --flavor forest" + common, "Unknown --flavor 'forest'"},
      {"train --data missing.csv --target y" + common, "No file 'missing.csv'"},
      {"train --data dataset:nosuch@1 --target y" + common, "404"},
  };
  for (const Case& c : cases) {
    CommandResult r = Mlforge(dir.path(), c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
  }
  http::Client client("127.0.0.1", server.port());
  auto exp = client.Get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=never");
  ASSERT_TRUE(exp.has_value());
  EXPECT_EQ(exp->status, 404) << exp->body;

  // No server listening: a clear message, exit 1.
  server.Stop();
  CommandResult r =
      Mlforge(dir.path(), "train --data d.csv --target y --experiment e --server " + url);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("cannot reach the tracking server at " + url), std::string::npos)
      << r.output;
}

INSTANTIATE_TEST_SUITE_P(Backends, TrainCliTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace mlforge::testing

// `mlforge predict` end to end: the real binary scores a CSV with a model
// version resolved by alias, stage-less latest and number through a real
// server, and fails with line and column on a bad row.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "base/json.h"
#include "http/http.h"
#include "integration/server_process.h"
#include "serving_test_util.h"

namespace mlforge::serving {
namespace {

const std::filesystem::path kFixtures = SERVING_FIXTURES_DIR;

std::string Field(const std::string& body, std::initializer_list<const char*> path) {
  auto v = json::Parse(body);
  if (!v) return "";
  const json::Value* cur = &*v;
  for (const char* key : path) {
    cur = cur->Find(key);
    if (cur == nullptr) return "";
  }
  return cur->is_string() ? cur->as_string() : "";
}

class PredictCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<mlforge::testing::ServerProcess>(mlforge::testing::TestBackend::kSqlite);
    http::Client client("127.0.0.1", server_->port());
    auto post = [&](const std::string& target, const std::string& body) {
      auto r = client.PostJson(target, body);
      EXPECT_TRUE(r.has_value());
      EXPECT_EQ(r->status, 200) << target << ": " << r->body;
      return r->body;
    };
    const std::string exp = Field(post("/api/2.0/mlflow/experiments/create", R"({"name": "e"})"), {"experiment_id"});
    const std::string run_body = post("/api/2.0/mlflow/runs/create", R"({"experiment_id": ")" + exp + R"("})");
    const std::string run_id = Field(run_body, {"run", "info", "run_id"});
    std::string root = Field(run_body, {"run", "info", "artifact_uri"});
    root.erase(0, std::string("mlflow-artifacts:/").size());
    for (const char* file : {"MLmodel", "model.ubj"}) {
      auto r = client.Send(http::Method::kPut, "/api/2.0/mlflow-artifacts/artifacts/" + root + "/model/" + file,
                           testing::ReadFile(kFixtures / "mlflow_xgb_model" / file));
      ASSERT_TRUE(r.has_value());
      ASSERT_EQ(r->status, 200) << r->body;
    }
    post("/api/2.0/mlflow/registered-models/create", R"({"name": "iris"})");
    post("/api/2.0/mlflow/model-versions/create",
         R"({"name": "iris", "source": "runs:/)" + run_id + R"(/model", "run_id": ")" + run_id + R"("})");
    post("/api/2.0/mlflow/registered-models/alias", R"({"name": "iris", "alias": "champion", "version": "1"})");

    // The fixture's rows as a CSV with an id column.
    auto expected = json::Parse(testing::ReadFile(kFixtures / "mlflow_xgb_expected.json"));
    ASSERT_TRUE(expected.has_value());
    std::string csv = "id";
    for (const json::Value& c : expected->Find("columns")->items()) csv += "," + c.as_string();
    csv += "\n";
    int i = 0;
    for (const json::Value& row : expected->Find("rows")->items()) {
      csv += "row" + std::to_string(i++);
      for (const json::Value& v : row.items()) csv += "," + (v.is_null() ? std::string() : json::Serialize(v));
      csv += "\n";
    }
    testing::WriteFile(dir_.path() / "in.csv", csv);
    for (const json::Value& p : expected->Find("predictions")->items()) predictions_.push_back(p.as_double());
  }

  // Runs `mlforge predict ARGS`; returns the exit code, stderr in *err.
  int Predict(const std::string& args, std::string* err) {
    const std::filesystem::path err_file = dir_.path() / "stderr.txt";
    const std::string cmd = mlforge::testing::MlforgeBinary() + " predict --server http://127.0.0.1:" +
                            std::to_string(server_->port()) + " " + args + " 2>" + err_file.string();
    const int status = std::system(cmd.c_str());
    *err = testing::ReadFile(err_file);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::unique_ptr<mlforge::testing::ServerProcess> server_;
  mlforge::testing::TempDir dir_;
  std::vector<double> predictions_;
};

TEST_F(PredictCliTest, ModelsUrisScoreTheFileAsTheRuntimeDoes) {
  for (const std::string uri : {"models:/iris@champion", "models:/iris/1", "models:/iris/latest"}) {
    SCOPED_TRACE(uri);
    const std::filesystem::path out = dir_.path() / "out.csv";
    std::string err;
    ASSERT_EQ(Predict("-q -m " + uri + " -i " + (dir_.path() / "in.csv").string() + " -o " + out.string() +
                          " --id-column id --threads 2 --batch-rows 3",
                      &err),
              0)
        << err;
    std::istringstream lines(testing::ReadFile(out));
    std::string line;
    std::getline(lines, line);
    EXPECT_EQ(line, "id,prediction");
    size_t n = 0;
    while (std::getline(lines, line)) {
      ASSERT_LT(n, predictions_.size());
      EXPECT_EQ(line.substr(0, line.find(',')), "row" + std::to_string(n));
      EXPECT_NEAR(std::strtod(line.c_str() + line.find(',') + 1, nullptr), predictions_[n], 1e-6) << line;
      ++n;
    }
    EXPECT_EQ(n, predictions_.size());
  }
}

TEST_F(PredictCliTest, BadRowsAndUnknownModelsFailClearly) {
  testing::WriteFile(dir_.path() / "bad.csv",
                     "sepal_length,sepal_width,petal_length,petal_width\n1,2,3,4\n1,2,three,4\n");
  std::string err;
  EXPECT_EQ(Predict("-m models:/iris/1 -i " + (dir_.path() / "bad.csv").string() + " -o -", &err), 1);
  EXPECT_NE(err.find("line 3"), std::string::npos) << err;
  EXPECT_NE(err.find("'petal_length'"), std::string::npos) << err;
  EXPECT_EQ(Predict("-m models:/iris@nobody -i " + (dir_.path() / "in.csv").string() + " -o -", &err), 1);
  EXPECT_NE(err.find("nobody"), std::string::npos) << err;
  EXPECT_EQ(Predict("-m models:/iris/7 -i " + (dir_.path() / "in.csv").string() + " -o -", &err), 1);
  EXPECT_NE(err.find("not found"), std::string::npos) << err;
}

}  // namespace
}  // namespace mlforge::serving

// `mlforge data` end to end: the real binary as client and as server, on
// SQLite and PostgreSQL.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "base/json.h"
#include "http/http.h"
#include "integration/server_process.h"
#include "support/temp_dir.h"

namespace mlforge::testing {
namespace {

namespace fs = std::filesystem;

CommandResult Mlforge(const fs::path& dir, const std::string& args) { return RunMlforge(dir, args); }

void WriteFile(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class DataCliTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  void SetUp() override {
    if (GetParam() == TestBackend::kPostgres && PostgresTestsDisabled()) {
      GTEST_SKIP() << "MLFORGE_TEST_PG=off";
    }
  }
};

TEST_P(DataCliTest, AddPushPullCheckoutDiffGc) {
  ServerProcess server(GetParam());
  std::string remote = "--remote http://127.0.0.1:" + std::to_string(server.port());
  TempDir a, b;
  for (int i = 0; i < 50; ++i) WriteFile(a.path() / "data" / ("part-" + std::to_string(i)), "rows " + std::to_string(i));

  CommandResult add = Mlforge(a.path(), "data add data --name corpus");
  ASSERT_EQ(add.exit_code, 0) << add.output;
  EXPECT_NE(add.output.find("50 files"), std::string::npos) << add.output;
  CommandResult status = Mlforge(a.path(), "data status");
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.output.find("up to date"), std::string::npos) << status.output;

  CommandResult push = Mlforge(a.path(), "data push " + remote);
  ASSERT_EQ(push.exit_code, 0) << push.output;
  EXPECT_NE(push.output.find("51 of 51 objects"), std::string::npos) << push.output;
  CommandResult again = Mlforge(a.path(), "data push " + remote);
  EXPECT_NE(again.output.find("0 of 51 objects"), std::string::npos) << again.output;

  // Another clone: the pointer file arrives through git; the data through pull.
  fs::create_directories(b.path() / ".mlforge");
  fs::copy_file(a.path() / "data.mlfd", b.path() / "data.mlfd");
  CommandResult pull = Mlforge(b.path(), "data pull " + remote);
  ASSERT_EQ(pull.exit_code, 0) << pull.output;
  EXPECT_EQ(ReadFile(b.path() / "data/part-7"), "rows 7");
  EXPECT_NE(Mlforge(b.path(), "data status").output.find("up to date"), std::string::npos);

  // A second version; diff and the server's log.
  std::string v1 = Mlforge(a.path(), "data log corpus").output;
  WriteFile(a.path() / "data/part-0", "edited");
  WriteFile(a.path() / "data/extra", "new");
  ASSERT_EQ(Mlforge(a.path(), "data add data --name corpus").exit_code, 0);
  CommandResult changed = Mlforge(a.path(), "data status");
  EXPECT_NE(changed.output.find("up to date"), std::string::npos) << changed.output;
  ASSERT_EQ(Mlforge(a.path(), "data push " + remote).exit_code, 0);
  CommandResult log = Mlforge(a.path(), "data log corpus " + remote);
  EXPECT_NE(log.output.find("v1"), std::string::npos) << log.output;
  EXPECT_NE(log.output.find("v2"), std::string::npos) << log.output;
  std::string first_id = v1.substr(v1.find("corpus") + 6);
  first_id = first_id.substr(first_id.find_first_not_of(' '), 64);
  CommandResult diff = Mlforge(a.path(), "data diff " + first_id + " data.mlfd");
  EXPECT_NE(diff.output.find("1 added, 0 removed, 1 modified"), std::string::npos) << diff.output;

  // Server gc is a dry run by default and never touches what versions or
  // artifacts use.
  http::Client client("127.0.0.1", server.port());
  auto put = client.Send(http::Method::kPut,
                         "/api/2.0/mlflow-artifacts/artifacts/0/run/artifacts/model.bin", "weights");
  ASSERT_TRUE(put.has_value());
  ASSERT_EQ(put->status, 200);
  CommandResult gc = Mlforge(a.path(), "data gc --server --grace-seconds 0 --delete " + remote);
  ASSERT_EQ(gc.exit_code, 0) << gc.output;
  EXPECT_NE(gc.output.find("\"objects_removed\":0"), std::string::npos) << gc.output;
  EXPECT_NE(gc.output.find("\"objects_linked\":1"), std::string::npos) << gc.output;
  auto model = client.Get("/api/2.0/mlflow-artifacts/artifacts/0/run/artifacts/model.bin");
  EXPECT_EQ(model->body, "weights");
  TempDir c;
  fs::create_directories(c.path() / ".mlforge");
  fs::copy_file(a.path() / "data.mlfd", c.path() / "data.mlfd");
  ASSERT_EQ(Mlforge(c.path(), "data pull " + remote).exit_code, 0);
  EXPECT_EQ(ReadFile(c.path() / "data/part-0"), "edited");

  // Errors exit non-zero with a message.
  CommandResult bad = Mlforge(a.path(), "data push --remote http://127.0.0.1:1");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(Mlforge(a.path(), "data checkout nothing-here").exit_code, 0);
}

// Lineage end to end: a dataset version pushed with `mlforge data`, a run
// that logged it as an MLflow dataset input (digest = the version id's first
// 8 hex chars), and a model version registered from the run; `mlforge
// lineage` walks model -> run -> dataset version -> files, and back.
TEST_P(DataCliTest, LineageFromModelVersionToFilesAndBack) {
  ServerProcess server(GetParam());
  std::string remote = "--remote http://127.0.0.1:" + std::to_string(server.port());
  TempDir ws;
  WriteFile(ws.path() / "train" / "a.csv", "x,y\n1,2\n");
  WriteFile(ws.path() / "train" / "b.csv", "x,y\n3,4\n");
  ASSERT_EQ(Mlforge(ws.path(), "data add train --name churn-train").exit_code, 0);
  ASSERT_EQ(Mlforge(ws.path(), "data push " + remote).exit_code, 0);
  // The version id: the first 64-hex-digit word of the server's log.
  std::string log = Mlforge(ws.path(), "data log churn-train " + remote).output;
  std::string id;
  std::istringstream words(log);
  for (std::string w; words >> w && id.empty();) {
    if (w.size() == 64 && w.find_first_not_of("0123456789abcdef") == std::string::npos) id = w;
  }
  ASSERT_FALSE(id.empty()) << log;

  http::Client client("127.0.0.1", server.port());
  auto post = [&](const std::string& path, const std::string& body) {
    auto r = client.PostJson("/api/2.0/mlflow/" + path, body);
    EXPECT_TRUE(r.has_value() && r->status == 200) << path << ": " << (r ? r->body : "");
    return r ? json::Parse(r->body).value_or(json::Value()) : json::Value();
  };
  json::Value run = post("runs/create", R"({"experiment_id":"0","run_name":"train-churn",)"
                                        R"("tags":[{"key":"mlflow.source.git.commit","value":"abc123"}]})");
  const json::Value* info = run.Find("run") ? run.Find("run")->Find("info") : nullptr;
  ASSERT_NE(info, nullptr);
  std::string run_id = info->Find("run_id")->as_string();
  post("runs/log-parameter", R"({"run_id":")" + run_id + R"(","key":"lr","value":"0.1"})");
  post("runs/log-metric", R"({"run_id":")" + run_id + R"(","key":"rmse","value":0.25,"timestamp":1})");
  post("runs/log-inputs", R"({"run_id":")" + run_id + R"(","datasets":[{"dataset":{"name":"churn-train",)"
                          R"("digest":")" + id.substr(0, 8) + R"(","source_type":"local","source":"train"},)"
                          R"("tags":[{"key":"mlflow.data.context","value":"training"}]}]})");
  auto mlmodel = client.Send(http::Method::kPut,
                             "/api/2.0/mlflow-artifacts/artifacts/0/" + run_id + "/artifacts/model/MLmodel",
                             "artifact_path: model\nflavors:\n  python_function:\n    loader_module: m\n");
  ASSERT_TRUE(mlmodel.has_value() && mlmodel->status == 200);
  post("registered-models/create", R"({"name":"churn"})");
  post("model-versions/create",
       R"({"name":"churn","source":"runs:/)" + run_id + R"(/model","run_id":")" + run_id + R"("})");
  post("registered-models/alias", R"({"name":"churn","alias":"champion","version":"1"})");

  CommandResult forward = Mlforge(ws.path(), "lineage models:/churn@champion " + remote);
  ASSERT_EQ(forward.exit_code, 0) << forward.output;
  for (const std::string& expected :
       {std::string("churn v1"), std::string("@champion"), run_id, std::string("abc123"),
        std::string("lr=0.1"), std::string("rmse=0.25"), std::string("context training"), id,
        std::string("2 files"), std::string("  a.csv  8")}) {
    EXPECT_NE(forward.output.find(expected), std::string::npos) << expected << " in\n" << forward.output;
  }
  CommandResult as_json = Mlforge(ws.path(), "lineage models:/churn/1 --json --max-files 1 " + remote);
  ASSERT_EQ(as_json.exit_code, 0) << as_json.output;
  auto doc = json::Parse(as_json.output);
  ASSERT_TRUE(doc.has_value()) << as_json.output;
  const json::Value& versions = *doc->Find("datasets")->items()[0].Find("versions");
  ASSERT_EQ(versions.items().size(), 1u);
  EXPECT_EQ(versions.items()[0].Find("version_id")->as_string(), id);
  EXPECT_EQ(versions.items()[0].Find("files")->items().size(), 1u);
  EXPECT_TRUE(versions.items()[0].Find("files_truncated")->as_bool());

  CommandResult backward = Mlforge(ws.path(), "lineage --dataset-version " + id + " " + remote);
  ASSERT_EQ(backward.exit_code, 0) << backward.output;
  EXPECT_NE(backward.output.find("used by 1 run(s)"), std::string::npos) << backward.output;
  EXPECT_NE(backward.output.find(run_id), std::string::npos) << backward.output;
  EXPECT_NE(backward.output.find("churn v1"), std::string::npos) << backward.output;

  // Errors: a clear message and a non-zero exit; the server keeps serving.
  CommandResult missing = Mlforge(ws.path(), "lineage models:/nope@champion " + remote);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("404"), std::string::npos) << missing.output;
  EXPECT_EQ(Mlforge(ws.path(), "lineage not-a-uri " + remote).exit_code, 1);
  EXPECT_EQ(Mlforge(ws.path(), "lineage --dataset-version " + std::string(64, 'f') + " " + remote)
                .exit_code,
            1);
  EXPECT_EQ(Mlforge(ws.path(), "lineage models:/churn/1 --dataset-version " + id + " " + remote)
                .exit_code,
            2);
  auto health = client.Get("/health");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);
}

INSTANTIATE_TEST_SUITE_P(Backends, DataCliTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace mlforge::testing

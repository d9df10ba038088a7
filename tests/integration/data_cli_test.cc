// `mlforge data` end to end: the real binary as client and as server, on
// SQLite and PostgreSQL.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "http/http.h"
#include "integration/server_process.h"
#include "support/temp_dir.h"

namespace mlforge::testing {
namespace {

namespace fs = std::filesystem;

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs `mlforge <args>` in dir. Arguments are single-quoted for the shell.
CommandResult Mlforge(const fs::path& dir, const std::string& args) {
  std::string cmd = "cd '" + dir.string() + "' && '" + MlforgeBinary() + "' " + args + " 2>&1";
  CommandResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

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

INSTANTIATE_TEST_SUITE_P(Backends, DataCliTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace mlforge::testing

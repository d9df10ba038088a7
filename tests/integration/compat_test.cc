// Plays the MLflow compatibility cases (tests/compat/cases/*.json, format in
// tests/compat/README.md) against the real binary, on SQLite and PostgreSQL.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "http/http.h"
#include "integration/server_process.h"
#include "support/compat_player.h"

namespace mlforge::testing {
namespace {

struct CaseParam {
  std::filesystem::path file;
  TestBackend backend;
};

std::vector<CaseParam> AllCases() {
  std::vector<CaseParam> out;
  for (const auto& f : CompatCaseFiles()) {
    out.push_back({f, TestBackend::kSqlite});
    out.push_back({f, TestBackend::kPostgres});
  }
  return out;
}

class CompatTest : public ::testing::TestWithParam<CaseParam> {};

TEST_P(CompatTest, Plays) {
  const CaseParam& p = GetParam();
  if (p.backend == TestBackend::kPostgres && PostgresTestsDisabled()) {
    GTEST_SKIP() << "MLFORGE_TEST_PG=off";
  }
  ServerProcess server(p.backend);
  http::Client client("127.0.0.1", server.port());
  std::random_device rd;
  PlayCompatCase(p.file, "u" + std::to_string(rd() % 1000000),
                 [&client](http::Method m, const std::string& target, const std::string& body,
                           const std::vector<std::pair<std::string, std::string>>& headers) {
                   return client.Send(m, target, body, headers);
                 });
  // Whatever the case did, the server must still be serving.
  auto health = client.Get("/health");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);
}

std::string CaseName(const ::testing::TestParamInfo<CaseParam>& info) {
  std::string name = info.param.file.stem().string() + "_" + BackendName(info.param.backend);
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Cases, CompatTest, ::testing::ValuesIn(AllCases()), CaseName);

}  // namespace
}  // namespace mlforge::testing

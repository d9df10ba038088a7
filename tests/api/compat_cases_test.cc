// Plays the MLflow compatibility cases (tests/compat/cases/*.json, format in
// tests/compat/README.md) against the in-process stack. The same files are
// played against the real binary on SQLite and PostgreSQL by
// tests/integration/compat_test.cc; this copy gives fast feedback and keeps
// the files honest while the handlers change.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "api/api_test_env.h"
#include "http/http.h"
#include "support/compat_player.h"

namespace mlforge::api {
namespace {

class CompatCasesTest : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(CompatCasesTest, PlaysInProcess) {
  testing::ApiTestEnv env;
  ASSERT_TRUE(env.ok()) << env.error();
  static std::atomic<int> counter{0};
  std::string unique = "u" + std::to_string(::getpid()) + "x" + std::to_string(counter++);
  ::mlforge::testing::PlayCompatCase(
      GetParam(), unique,
      [&env](http::Method m, const std::string& target, const std::string& body,
             const std::vector<std::pair<std::string, std::string>>& headers)
          -> Result<http::ClientResponse> {
        http::ClientResponse r = env.Send(m, target, body, headers);
        if (r.status == 0) return Err(Unavailable(r.body));
        return r;
      });
  auto health = env.Get("/health");
  EXPECT_EQ(health.status, 200) << "the server must keep serving";
}

TEST(CompatCasesFilesTest, SuiteIsPresent) {
  EXPECT_GE(::mlforge::testing::CompatCaseFiles().size(), 10u) << "expected the case files in tests/compat";
}

std::string CaseName(const ::testing::TestParamInfo<std::filesystem::path>& info) {
  std::string name = info.param.stem().string();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Cases, CompatCasesTest, ::testing::ValuesIn(::mlforge::testing::CompatCaseFiles()),
                         CaseName);

}  // namespace
}  // namespace mlforge::api

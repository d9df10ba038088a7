// A throwaway database for one test, on either backend: a SQLite file in a
// fresh temp dir, or a fresh database created on the PostgreSQL server named
// by MLFORGE_TEST_PG_URI (dropped again afterwards). Shared by every test
// binary that needs a database: unit tests and the integration harness.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "base/status.h"
#include "sql/sql.h"

// ASSERT_OK(expr) / EXPECT_OK(expr): expr yields a Status; on failure the
// Status is printed.
#define ASSERT_OK(expr)                                                  \
  do {                                                                   \
    const ::mlforge::Status assert_ok_status_ = (expr);                  \
    ASSERT_TRUE(assert_ok_status_.ok()) << assert_ok_status_.ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                                  \
  do {                                                                   \
    const ::mlforge::Status expect_ok_status_ = (expr);                  \
    EXPECT_TRUE(expect_ok_status_.ok()) << expect_ok_status_.ToString(); \
  } while (0)

namespace mlforge::sql::testing {

// How to get a PostgreSQL server for the tests; printed when none is set.
inline constexpr const char* kPgHowTo =
    "PostgreSQL tests need a server: set MLFORGE_TEST_PG_URI, e.g.\n"
    "  export MLFORGE_TEST_PG_URI=$(scripts/pg-test-server.sh start /tmp/mlforge-pg | tail -n1)\n"
    "(stop it with: scripts/pg-test-server.sh stop /tmp/mlforge-pg).\n"
    "For a quick local run without PostgreSQL only, set MLFORGE_TEST_PG=off to skip them.";

// True if MLFORGE_TEST_PG=off (PostgreSQL tests are skipped, never passed).
bool PgOptedOut();
// MLFORGE_TEST_PG_URI, or "" when unset.
std::string PgAdminUri();

// Externally synchronized.
class ScratchDatabase {
 public:
  // For kPostgres, requires PgAdminUri() to be non-empty.
  static Result<std::unique_ptr<ScratchDatabase>> Create(Backend backend);
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  const std::string& uri() const { return uri_; }
  const std::filesystem::path& dir() const { return dir_; }
  // A new Database on the scratch database (several may be open at once).
  Result<std::unique_ptr<Database>> Open(const DatabaseOptions& options = {}) const;

 private:
  ScratchDatabase() = default;
  std::filesystem::path dir_;
  std::string uri_;
  std::string pg_database_;  // set when a PostgreSQL database must be dropped
};

// Replaces the database name (the URI path) of a postgresql:// URI.
std::string WithDatabaseName(const std::string& uri, const std::string& name);

}  // namespace mlforge::sql::testing

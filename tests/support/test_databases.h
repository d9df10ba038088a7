// Test databases for unit tests that must run on both backends: a SQLite file
// in a temp dir, or a fresh database on the PostgreSQL server named by
// MLFORGE_TEST_PG_URI (started by `make test`). A missing PostgreSQL fails
// the test unless MLFORGE_TEST_PG=off.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "sql/sql.h"

namespace mlforge::testing {

class TestDatabase {
 public:
  // backend: sql::Backend::kSqlite or kPostgres.
  explicit TestDatabase(sql::Backend backend);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  // Empty when PostgreSQL is disabled (caller should GTEST_SKIP).
  bool available() const { return db_ != nullptr; }
  sql::Database& db() { return *db_; }
  const std::string& uri() const { return uri_; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::string uri_;
  std::string pg_admin_uri_;
  std::string pg_database_;
  std::unique_ptr<sql::Database> db_;
};

}  // namespace mlforge::testing

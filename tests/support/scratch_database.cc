#include "support/scratch_database.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

namespace mlforge::sql::testing {
namespace {

// Runs one statement outside a transaction (CREATE/DROP DATABASE need that,
// so this bypasses Database::Transact).
Status AdminExec(const std::string& uri, const std::string& statement) {
  PGconn* conn = PQconnectdb(uri.c_str());
  Status result;
  if (PQstatus(conn) != CONNECTION_OK) {
    result = Unavailable("cannot connect to " + RedactUri(uri) + ": " + PQerrorMessage(conn));
  } else {
    PGresult* res = PQexec(conn, statement.c_str());
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
      result = Internal(statement + ": " + PQerrorMessage(conn));
    }
    PQclear(res);
  }
  PQfinish(conn);
  return result;
}

}  // namespace

bool PgOptedOut() {
  const char* v = std::getenv("MLFORGE_TEST_PG");
  return v != nullptr && std::string(v) == "off";
}

std::string PgAdminUri() {
  const char* v = std::getenv("MLFORGE_TEST_PG_URI");
  return v != nullptr ? v : "";
}

std::string WithDatabaseName(const std::string& uri, const std::string& name) {
  size_t authority = uri.find("://");
  authority = authority == std::string::npos ? 0 : authority + 3;
  size_t query = uri.find('?', authority);
  std::string base = uri.substr(0, query);
  std::string rest = query == std::string::npos ? "" : uri.substr(query);
  size_t slash = base.find('/', authority);
  if (slash != std::string::npos) base.resize(slash);
  return base + "/" + name + rest;
}

Result<std::unique_ptr<ScratchDatabase>> ScratchDatabase::Create(Backend backend) {
  std::unique_ptr<ScratchDatabase> scratch(new ScratchDatabase());
  std::string tmpl = (std::filesystem::temp_directory_path() / "mlforge-sql-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return Err(Internal("mkdtemp failed"));
  scratch->dir_ = tmpl;
  if (backend == Backend::kSqlite) {
    scratch->uri_ = "sqlite:///" + (scratch->dir_ / "test.db").string();
    return scratch;
  }
  std::string admin = PgAdminUri();
  if (admin.empty()) return Err(Unavailable(kPgHowTo));
  static std::atomic<int> counter{0};
  std::random_device random;
  std::string name = "mlforge_sqltest_" + std::to_string(getpid()) + "_" +
                     std::to_string(counter.fetch_add(1)) + "_" + std::to_string(random() % 100000);
  RETURN_IF_ERROR(AdminExec(admin, "CREATE DATABASE " + name));
  scratch->pg_database_ = name;
  scratch->uri_ = WithDatabaseName(admin, name);
  return scratch;
}

ScratchDatabase::~ScratchDatabase() {
  if (!pg_database_.empty()) {
    // Not WITH (FORCE): that needs the right to signal an autovacuum worker
    // busy in the new database, which the test role lacks; a plain DROP
    // stops autovacuum itself, so retry it briefly.
    Status s;
    for (int attempt = 0; attempt < 5; ++attempt) {
      s = AdminExec(PgAdminUri(), "DROP DATABASE IF EXISTS " + pg_database_);
      if (s.ok()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    // Best effort: a leftover database does not affect other tests.
    if (!s.ok()) std::fprintf(stderr, "warning: %s\n", s.ToString().c_str());
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Result<std::unique_ptr<Database>> ScratchDatabase::Open(const DatabaseOptions& options) const {
  return Database::Open(uri_, options);
}

}  // namespace mlforge::sql::testing

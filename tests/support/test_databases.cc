#include "support/test_databases.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <stdexcept>

namespace mlforge::testing {
namespace {

void AdminExec(const std::string& uri, const std::string& sql) {
  PGconn* conn = PQconnectdb(uri.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string err = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("cannot connect to PostgreSQL test server: " + err);
  }
  PGresult* res = PQexec(conn, sql.c_str());
  bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  std::string err = PQerrorMessage(conn);
  PQclear(res);
  PQfinish(conn);
  if (!ok) throw std::runtime_error(sql + ": " + err);
}

}  // namespace

TestDatabase::TestDatabase(sql::Backend backend) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "mlforge-db-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  if (backend == sql::Backend::kSqlite) {
    uri_ = "sqlite:///" + (dir_ / "test.db").string();
  } else {
    const char* off = std::getenv("MLFORGE_TEST_PG");
    if (off && std::string(off) == "off") return;
    const char* admin = std::getenv("MLFORGE_TEST_PG_URI");
    if (!admin || !*admin) {
      throw std::runtime_error(
          "MLFORGE_TEST_PG_URI is not set: run tests via `make test`, or set MLFORGE_TEST_PG=off");
    }
    pg_admin_uri_ = admin;
    std::random_device rd;
    pg_database_ = "ut_" + std::to_string(getpid()) + "_" + std::to_string(rd() % 1000000000);
    AdminExec(pg_admin_uri_, "CREATE DATABASE " + pg_database_);
    std::string base = pg_admin_uri_.substr(0, pg_admin_uri_.find('?'));
    uri_ = base.substr(0, base.rfind('/') + 1) + pg_database_;
  }
  auto db = sql::Database::Open(uri_);
  if (!db) throw std::runtime_error("cannot open " + uri_ + ": " + db.error().ToString());
  db_ = std::move(*db);
}

TestDatabase::~TestDatabase() {
  db_.reset();
  if (!pg_database_.empty()) {
    try {
      AdminExec(pg_admin_uri_, "DROP DATABASE IF EXISTS " + pg_database_ + " WITH (FORCE)");
    } catch (const std::exception&) {
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

}  // namespace mlforge::testing

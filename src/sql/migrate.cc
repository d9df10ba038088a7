// Versioned migrations on top of Database::Transact, the same for both
// backends.
//
// Concurrency: each migration runs in its own kWrite transaction that first
// serializes against other migrators and then re-reads the applied version, so
// two processes starting at once apply each migration exactly once. On SQLite,
// BEGIN IMMEDIATE is the serialization; on PostgreSQL, a transaction-scoped
// advisory lock per component (kWrite is READ COMMITTED, so the re-read after
// the lock sees what the previous holder committed).
#include <string>

#include "base/clock.h"
#include "base/log.h"
#include "sql/internal.h"

namespace mlforge::sql::internal {
namespace {

constexpr std::string_view kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " component TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " applied_at BIGINT NOT NULL,"
    " PRIMARY KEY (component, version))";

// Serializes migrators on PostgreSQL until the transaction ends. Concurrent
// CREATE TABLE IF NOT EXISTS can fail there without it.
Status LockForMigration(Connection& conn, std::string_view key) {
  if (conn.backend() != Backend::kPostgres) return Status::Ok();
  return conn.Query("SELECT pg_advisory_xact_lock(?)",
                    {int64_t{StableHash64("mlforge.migrate:" + std::string(key))}}, nullptr);
}

Result<bool> MigrationsTableExists(Connection& conn) {
  bool exists = false;
  Status s = conn.backend() == Backend::kSqlite
                 ? conn.Query(
                       "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
                       "name = 'schema_migrations'",
                       {}, [&](const Row& row) { exists = row.GetInt(0) > 0; })
                 : conn.Query("SELECT to_regclass('schema_migrations') IS NOT NULL", {},
                              [&](const Row& row) { exists = row.GetInt(0) != 0; });
  if (!s.ok()) return Err(std::move(s));
  return exists;
}

Result<int> AppliedVersion(Connection& conn, std::string_view component) {
  int version = 0;
  Status s =
      conn.Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?",
                 {component}, [&](const Row& row) { version = static_cast<int>(row.GetInt(0)); });
  if (!s.ok()) return Err(std::move(s));
  return version;
}

Status NewerThanCode(std::string_view component, int db_version, int code_version) {
  return Internal("database schema is newer than this mlforge (component " +
                  std::string(component) + " at version " + std::to_string(db_version) +
                  ", code knows " + std::to_string(code_version) + "); upgrade mlforge");
}

std::string_view ScriptFor(const Migration& m, Backend backend) {
  if (!m.sql.empty()) return m.sql;
  return backend == Backend::kSqlite ? m.sqlite : m.postgres;
}

}  // namespace

Result<int> ReadSchemaVersion(Database& db, std::string_view component) {
  int version = 0;
  Status s = db.Transact(TxMode::kRead, [&](Connection& conn) -> Status {
    ASSIGN_OR_RETURN(bool exists, MigrationsTableExists(conn));
    if (!exists) return Status::Ok();
    ASSIGN_OR_RETURN(version, AppliedVersion(conn, component));
    return Status::Ok();
  });
  if (!s.ok()) return Err(std::move(s));
  return version;
}

Status RunMigrations(Database& db, std::string_view component,
                     std::span<const Migration> migrations, const Clock* clock) {
  // Bad migration lists are programmer errors, caught by the first test run.
  int previous = 0;
  for (const Migration& m : migrations) {
    if (m.version <= previous) {
      return Internal("migrations of " + std::string(component) +
                      " must have strictly increasing versions >= 1 (got " +
                      std::to_string(m.version) + " after " + std::to_string(previous) + ")");
    }
    if (ScriptFor(m, db.backend()).empty()) {
      return Internal("migration " + std::string(component) + "/" + std::to_string(m.version) +
                      " has no SQL for " +
                      (db.backend() == Backend::kSqlite ? "SQLite" : "PostgreSQL") +
                      " (a no-op can be a comment)");
    }
    previous = m.version;
  }
  const int newest = migrations.empty() ? 0 : migrations.back().version;

  // Fast path: one read when nothing is pending (every start after the first).
  ASSIGN_OR_RETURN(int current, ReadSchemaVersion(db, component));
  if (current > newest) return NewerThanCode(component, current, newest);
  if (current == newest) return Status::Ok();

  RETURN_IF_ERROR(db.Transact(TxMode::kWrite, [&](Connection& conn) -> Status {
    RETURN_IF_ERROR(LockForMigration(conn, "schema_migrations"));
    return conn.ExecScript(kCreateMigrationsTable);
  }));

  const Clock& time = clock != nullptr ? *clock : SystemClock::Get();
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    bool applied = false;
    RETURN_IF_ERROR(db.Transact(TxMode::kWrite, [&](Connection& conn) -> Status {
      applied = false;  // fn may be retried
      RETURN_IF_ERROR(LockForMigration(conn, component));
      ASSIGN_OR_RETURN(int version, AppliedVersion(conn, component));
      if (version > newest) return NewerThanCode(component, version, newest);
      if (version >= m.version) return Status::Ok();  // another process was first
      if (Status s = conn.ExecScript(ScriptFor(m, conn.backend())); !s.ok()) {
        return Status(s.code(), "migration " + std::string(component) + "/" +
                                    std::to_string(m.version) + " (" + std::string(m.name) +
                                    ") failed: " + s.message());
      }
      Result<int64_t> inserted = conn.Execute(
          "INSERT INTO schema_migrations (component, version, name, applied_at) "
          "VALUES (?, ?, ?, ?)",
          {component, int64_t{m.version}, m.name, time.NowMillis()});
      if (!inserted.has_value()) return inserted.error();
      applied = true;
      return Status::Ok();
    }));
    if (applied) {
      log::Info("sql: applied migration {}/{} ({})", component, m.version, m.name);
    }
  }
  return Status::Ok();
}

}  // namespace mlforge::sql::internal

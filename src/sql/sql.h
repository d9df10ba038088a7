// One interface over SQLite and PostgreSQL: connection pools, transactions,
// prepared-statement caches and versioned migrations.
//
// SQL text uses '?' placeholders on both backends (the PostgreSQL backend
// rewrites them to $1..$n). Use the common dialect: INSERT ... ON CONFLICT,
// RETURNING, CASE, COALESCE. Where the backends differ (DDL, ILIKE), ask
// Connection::backend(). sqlite3.h and libpq-fe.h never appear in this header.
//
// Portability rules (both backends behave alike when these hold):
// - A failed statement aborts its transaction on both backends (PostgreSQL
//   semantics): later statements fail and Transact returns the first error.
//   Express "insert or update" with ON CONFLICT, not by catching errors.
// - kWrite runs at READ COMMITTED on PostgreSQL, so writers are not serialized
//   there: make read-modify-write a single statement (UPDATE t SET n = n + 1
//   ... RETURNING n) rather than SELECT followed by UPDATE.
// - On PostgreSQL an int64 parameter is sent as bigint and a double as double
//   precision; strings and NULL are untyped and take their type from context.
//   Where context gives none (`? IS NULL`) or a function wants int4
//   (substr, repeat), write CAST(? AS TEXT) / CAST(? AS INTEGER).
// - Store flags as INTEGER 0/1; a PostgreSQL boolean reads as GetInt 1/0.
// - LIKE is case sensitive on both; SQLite's double-quoted string literals are
//   disabled ("x" is always an identifier).
// - NaN bound on SQLite is stored as NULL; keep NaN out of the database.
//   ±Infinity round-trips on both.
// - Reading NULL: IsNull() is true, GetInt/GetDouble return 0, GetText "".
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"

namespace mlforge {
class Clock;
}  // namespace mlforge

namespace mlforge::sql {

enum class Backend { kSqlite, kPostgres };

// Bytes bound as a BLOB (SQLite) / BYTEA (PostgreSQL); may hold NUL bytes,
// which text parameters cannot.
struct Blob {
  std::string_view bytes;
};

// A bound parameter. string_view and Blob data must outlive the call that
// binds it.
using Param = std::variant<std::nullptr_t, int64_t, double, std::string_view, Blob>;

// One result row, valid only inside the row callback. Not thread-safe.
class Row {
 public:
  virtual ~Row() = default;
  virtual int size() const = 0;
  virtual bool IsNull(int col) const = 0;
  virtual int64_t GetInt(int col) const = 0;
  virtual double GetDouble(int col) const = 0;  // NaN/Infinity round-trip
  virtual std::string_view GetText(int col) const = 0;
  // A BLOB/BYTEA column's bytes (copied: PostgreSQL sends them hex-encoded).
  virtual std::string GetBlob(int col) const = 0;
};

using RowCallback = std::function<void(const Row&)>;

// A single database session. Externally synchronized: used by one thread at
// a time, handed out by Database::Transact.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual Backend backend() const = 0;

  // Runs one statement; calls on_row for each result row (if given).
  // Statements are prepared once per connection and cached by their text.
  virtual Status Query(std::string_view sql, std::span<const Param> params,
                       const RowCallback& on_row) = 0;
  Status Query(std::string_view sql, std::initializer_list<Param> params,
               const RowCallback& on_row) {
    return Query(sql, std::span<const Param>(params.begin(), params.size()), on_row);
  }
  // Runs one statement; returns the number of rows it changed.
  virtual Result<int64_t> Execute(std::string_view sql, std::span<const Param> params) = 0;
  Result<int64_t> Execute(std::string_view sql, std::initializer_list<Param> params = {}) {
    return Execute(sql, std::span<const Param>(params.begin(), params.size()));
  }
  // Runs a script of ';'-separated statements without parameters (DDL). The
  // script must not contain transaction control (BEGIN/COMMIT).
  virtual Status ExecScript(std::string_view sql) = 0;
};

enum class TxMode {
  kRead,   // read-only snapshot; may run concurrently with writers
  kWrite,  // serialized with other writers where the backend needs it (SQLite)
};

struct DatabaseOptions {
  // Connections in the pool (PostgreSQL), or reader connections (SQLite).
  int pool_size = 8;
  // How long a write may wait for the SQLite write lock / a pooled connection.
  int busy_timeout_ms = 10000;
  // Retries of a transaction that failed with a serialization failure,
  // deadlock or SQLITE_BUSY before giving up with kTemporarilyUnavailable.
  int max_retries = 5;
  // Prepared statements kept per connection (least recently used dropped).
  int statement_cache_size = 256;
  // Time source for schema_migrations.applied_at; null = SystemClock. Must
  // outlive the Database.
  const Clock* clock = nullptr;
};

// Counters since Open, for metrics and tests. A snapshot; values only grow.
struct DatabaseStats {
  int64_t transactions = 0;          // Transact calls
  int64_t retries = 0;               // attempts repeated after a transient failure
  int64_t statements_prepared = 0;   // statement cache misses
  int64_t statement_cache_hits = 0;  // statements reused from a connection's cache
  int64_t connections_opened = 0;
  // SQLite group commit: commits that carried several write transactions,
  // and how many transactions they carried in all.
  int64_t group_commits = 0;
  int64_t grouped_transactions = 0;
};

// A versioned schema change for one component ("tracking", "registry", ...).
// Either `sql` serves both backends, or `sqlite` and `postgres` are given.
struct Migration {
  int version;  // 1, 2, 3... strictly increasing within a component
  std::string_view name;
  std::string_view sql;
  std::string_view sqlite;
  std::string_view postgres;
};

// A pool of connections to one database. Thread-safe.
//
// Errors: a unique-constraint violation is kResourceAlreadyExists; an
// exhausted retry budget or a lost server is kTemporarilyUnavailable; other
// SQL errors are kInternalError with the backend's message.
class Database {
 public:
  virtual ~Database() = default;

  // uri: "sqlite:///relative/path.db", "sqlite:////absolute/path.db",
  // "sqlite:///:memory:" or "postgresql://user:pass@host:port/db"
  // (a "+driver" suffix on the scheme, as in SQLAlchemy URIs, is ignored;
  // "postgres://" works too). A missing SQLite parent directory is created.
  // A PostgreSQL server is contacted once here, so a wrong address or
  // password fails now (kTemporarilyUnavailable) rather than on first use.
  // ":memory:" is private to this Database and runs every transaction on one
  // connection, one at a time.
  static Result<std::unique_ptr<Database>> Open(std::string_view uri,
                                                const DatabaseOptions& options = {});

  virtual Backend backend() const = 0;

  // Runs fn in one transaction; commits when fn returns ok, rolls back
  // otherwise. Retries fn on transient conflicts (fn must be idempotent
  // apart from its database effects). The Status of fn is returned as is.
  // Nested Transact on the same Database from inside fn is an error.
  virtual Status Transact(TxMode mode, const std::function<Status(Connection&)>& fn) = 0;

  // Applies the component's pending migrations in order, each in its own
  // transaction, recording them in schema_migrations. Safe to call from many
  // processes at once. Fails if the database is newer than the code.
  virtual Status Migrate(std::string_view component, std::span<const Migration> migrations) = 0;

  // Highest applied migration version of the component (0 if none).
  virtual Result<int> SchemaVersion(std::string_view component) = 0;

  virtual DatabaseStats Stats() const { return {}; }
};

// Redacts the password of a URI for logs.
std::string RedactUri(std::string_view uri);

}  // namespace mlforge::sql

// SQLite backend: one writer connection behind a mutex, a pool of reader
// connections, WAL.
//
// Durability: journal_mode=WAL with synchronous=NORMAL. A commit appends the
// transaction's pages to the -wal file with write() before COMMIT returns; the
// fsync happens only at checkpoints. Once write() has returned the data is in
// the OS page cache, which outlives the process, so an acknowledged commit
// survives kill -9 (and any crash of mlforge). Only an OS crash or power loss
// can drop the last few commits, and even then the database stays consistent.
// That trade buys an order of magnitude in commit rate over synchronous=FULL.
//
// Concurrency: SQLite has one writer at a time per database file. kWrite
// transactions queue in-process (bounded by busy_timeout_ms) and are run by
// group commit: whoever finds no write in progress becomes the leader and runs
// every queued transaction inside one BEGIN IMMEDIATE (the file lock, which
// other processes contend for; busy_timeout makes SQLite wait for it), each in
// its own SAVEPOINT so a failing one rolls back alone, then one COMMIT — one
// WAL append and one round of lock calls for the group. Nobody's write is
// acknowledged before that COMMIT returns; if the group cannot commit, each
// transaction is re-run alone, so one transaction's trouble never fails
// another. kRead runs on a reader connection with BEGIN
// DEFERRED: WAL readers see a snapshot and neither block nor wait for the
// writer. Readers have query_only=ON, so a write in a kRead transaction fails
// here just as it does on PostgreSQL.
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <mutex>
#include <vector>
#include <unordered_map>
#include <utility>

#include "base/log.h"
#include "sql/internal.h"

namespace mlforge::sql::internal {
namespace {

bool IsTransient(int rc) {
  int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

// A result row over a stepped statement. Not thread-safe.
class SqliteRow final : public Row {
 public:
  explicit SqliteRow(sqlite3_stmt* stmt) : stmt_(stmt) {}
  int size() const override { return sqlite3_column_count(stmt_); }
  bool IsNull(int col) const override { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t GetInt(int col) const override { return sqlite3_column_int64(stmt_, col); }
  double GetDouble(int col) const override {
    // A double stored into a TEXT column becomes "Inf"/"-Inf"; SQLite's own
    // text->real conversion would read that as 0.
    if (sqlite3_column_type(stmt_, col) == SQLITE_TEXT) return ParseDouble(GetText(col));
    return sqlite3_column_double(stmt_, col);
  }
  std::string_view GetText(int col) const override {
    const unsigned char* text = sqlite3_column_text(stmt_, col);
    if (text == nullptr) return {};
    return std::string_view(reinterpret_cast<const char*>(text),
                            static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  std::string GetBlob(int col) const override {
    const void* bytes = sqlite3_column_blob(stmt_, col);
    if (bytes == nullptr) return {};
    return std::string(static_cast<const char*>(bytes),
                       static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }

 private:
  sqlite3_stmt* stmt_;
};

// Resets a cached statement and drops its bindings (which point at the
// caller's string_views) when a call is done with it.
class StatementReset {
 public:
  explicit StatementReset(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StatementReset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StatementReset(const StatementReset&) = delete;
  StatementReset& operator=(const StatementReset&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

struct SqliteConfig {
  std::string path;
  bool reader = false;  // query_only, no journal_mode change
  bool memory = false;
  int busy_timeout_ms = 10000;
  size_t statement_cache_size = 256;
  StatsCounters* stats = nullptr;
};

// One sqlite3 handle and its prepared-statement cache. Externally
// synchronized: SqliteDatabase hands it to one transaction at a time.
class SqliteConnection final : public Connection {
 public:
  static Result<std::unique_ptr<SqliteConnection>> Open(const SqliteConfig& config);
  ~SqliteConnection() override {
    for (auto& [sql, cached] : cache_) sqlite3_finalize(cached.stmt);
    sqlite3_close_v2(db_);
  }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  Backend backend() const override { return Backend::kSqlite; }
  using Connection::Execute;
  using Connection::Query;
  Status Query(std::string_view sql, std::span<const Param> params,
               const RowCallback& on_row) override {
    return Run(sql, params, &on_row, nullptr);
  }
  Result<int64_t> Execute(std::string_view sql, std::span<const Param> params) override {
    int64_t changes = 0;
    Status s = Run(sql, params, nullptr, &changes);
    if (!s.ok()) return Err(std::move(s));
    return changes;
  }
  Status ExecScript(std::string_view sql) override;

  // Transaction control, for SqliteDatabase.
  Status Begin(TxMode mode);
  Status Commit();
  void Rollback();
  // A nested unit of a group commit; failure() then tracks this unit only.
  Status BeginSavepoint();
  // Keeps (RELEASE) or undoes (ROLLBACK TO, then RELEASE) the unit's writes.
  Status EndSavepoint(bool keep);
  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }
  // The first statement error of the current transaction (ok if none).
  const Status& failure() const { return failure_; }
  // Whether the current attempt hit SQLITE_BUSY/LOCKED and may be retried.
  bool transient_failure() const { return transient_; }
  // Drops least recently used statements beyond the cache size.
  void TrimCache();
  // Runs control statements (PRAGMA) outside the failure bookkeeping.
  Status Control(std::string_view sql);
  // One transaction-control statement (BEGIN, COMMIT, SAVEPOINT...), kept
  // prepared: these run at least twice per transaction.
  Status ControlStatement(std::string_view sql);

 private:
  SqliteConnection(sqlite3* db, const SqliteConfig& config)
      : db_(db), cache_size_(config.statement_cache_size), stats_(config.stats) {}

  Result<sqlite3_stmt*> Prepare(std::string_view sql);
  Status Run(std::string_view sql, std::span<const Param> params, const RowCallback* on_row,
             int64_t* changes);
  // Maps a SQLite error to a Status; inside a transaction, remembers the first.
  Status Fail(int rc, std::string_view sql);
  Status Aborted() const {
    return Status(failure_.code(),
                  "transaction aborted by an earlier failed statement: " + failure_.message());
  }

  struct CachedStatement {
    sqlite3_stmt* stmt;
    uint64_t last_use;
  };

  sqlite3* const db_;
  const size_t cache_size_;
  StatsCounters* const stats_;
  std::unordered_map<std::string, CachedStatement, StringHash, std::equal_to<>> cache_;
  uint64_t use_clock_ = 0;
  bool tx_open_ = false;
  Status failure_;
  bool transient_ = false;
};

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(const SqliteConfig& config) {
  sqlite3* db = nullptr;
  // NOMUTEX: each connection is used by one thread at a time (see class note).
  int rc =
      sqlite3_open_v2(config.path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<SqliteConnection> conn(new SqliteConnection(db, config));
  if (rc != SQLITE_OK) {
    return Err(Internal("cannot open SQLite database '" + config.path +
                        "': " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc))));
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, config.busy_timeout_ms);
  // "x" is an identifier, never a string, as in PostgreSQL.
  sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DDL, 0, nullptr);

  if (!config.reader && !config.memory) {
    std::string mode;
    RETURN_IF_ERROR(conn->Query("PRAGMA journal_mode=WAL", {},
                                [&](const Row& row) { mode = std::string(row.GetText(0)); }));
    if (mode != "wal") {
      log::Warn(
          "sql: SQLite database {} is in journal_mode={} (WAL unavailable on this file "
          "system?); readers will wait for writers",
          config.path, mode);
    }
  }
  // MLflow's LIKE is case sensitive, like PostgreSQL's. The default 2 MiB
  // page cache makes a search over 10k runs re-read pages through pread();
  // memory-mapped reads share the OS page cache across connections instead,
  // and a larger private cache (allocated only as used) keeps hot pages.
  RETURN_IF_ERROR(conn->Control(
      "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA case_sensitive_like=ON; "
      "PRAGMA cache_size=-32768; PRAGMA mmap_size=1073741824"));
  if (config.reader) RETURN_IF_ERROR(conn->Control("PRAGMA query_only=ON"));
  if (config.stats != nullptr) config.stats->connections_opened.fetch_add(1);
  return conn;
}

Result<sqlite3_stmt*> SqliteConnection::Prepare(std::string_view sql) {
  if (auto it = cache_.find(sql); it != cache_.end()) {
    it->second.last_use = ++use_clock_;
    if (stats_ != nullptr) stats_->statement_cache_hits.fetch_add(1, std::memory_order_relaxed);
    return it->second.stmt;
  }
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  if (rc != SQLITE_OK) return Err(Fail(rc, sql));
  if (stmt == nullptr) return Err(Internal("sqlite: empty statement"));
  // Anything but whitespace and comments after the statement is a second one,
  // which would silently be ignored; PostgreSQL refuses it too.
  const char* end = sql.data() + sql.size();
  if (tail != nullptr && tail < end) {
    sqlite3_stmt* extra = nullptr;
    sqlite3_prepare_v2(db_, tail, static_cast<int>(end - tail), &extra, nullptr);
    if (extra != nullptr) {
      sqlite3_finalize(extra);
      sqlite3_finalize(stmt);
      return Err(Internal(
          "sqlite: more than one statement; use ExecScript (in: " + SqlForMessage(sql) + ")"));
    }
  }
  cache_.emplace(std::string(sql), CachedStatement{stmt, ++use_clock_});
  if (stats_ != nullptr) stats_->statements_prepared.fetch_add(1, std::memory_order_relaxed);
  return stmt;
}

Status SqliteConnection::Run(std::string_view sql, std::span<const Param> params,
                             const RowCallback* on_row, int64_t* changes) {
  if (tx_open_ && !failure_.ok()) return Aborted();
  Result<sqlite3_stmt*> prepared = Prepare(sql);
  if (!prepared.has_value()) {
    if (tx_open_ && failure_.ok()) failure_ = prepared.error();
    return prepared.error();
  }
  sqlite3_stmt* stmt = *prepared;
  StatementReset reset(stmt);

  if (sqlite3_bind_parameter_count(stmt) != static_cast<int>(params.size())) {
    Status s =
        Internal("sqlite: statement has " + std::to_string(sqlite3_bind_parameter_count(stmt)) +
                 " placeholders but " + std::to_string(params.size()) +
                 " parameters were given (in: " + SqlForMessage(sql) + ")");
    if (tx_open_ && failure_.ok()) failure_ = s;
    return s;
  }
  for (size_t i = 0; i < params.size(); ++i) {
    int index = static_cast<int>(i) + 1;
    int rc = std::visit(
        [&](const auto& v) -> int {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::nullptr_t>) {
            return sqlite3_bind_null(stmt, index);
          } else if constexpr (std::is_same_v<T, int64_t>) {
            return sqlite3_bind_int64(stmt, index, v);
          } else if constexpr (std::is_same_v<T, double>) {
            return sqlite3_bind_double(stmt, index, v);  // NaN binds as NULL
          } else if constexpr (std::is_same_v<T, Blob>) {
            return sqlite3_bind_blob64(stmt, index, v.bytes.data() != nullptr ? v.bytes.data() : "",
                                       v.bytes.size(), SQLITE_STATIC);
          } else {
            // A null data pointer would bind NULL; "" must stay an empty string.
            // SQLITE_STATIC: the bytes live until StatementReset clears them.
            return sqlite3_bind_text64(stmt, index, v.data() != nullptr ? v.data() : "", v.size(),
                                       SQLITE_STATIC, SQLITE_UTF8);
          }
        },
        params[i]);
    if (rc != SQLITE_OK) return Fail(rc, sql);
  }

  const int64_t total_before = sqlite3_total_changes64(db_);
  SqliteRow row(stmt);
  for (;;) {
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      if (on_row != nullptr && *on_row) (*on_row)(row);
      continue;
    }
    if (rc == SQLITE_DONE) break;
    return Fail(rc, sql);
  }
  if (changes != nullptr) {
    // sqlite3_changes keeps the count of the last INSERT/UPDATE/DELETE, so a
    // statement that changed nothing (DDL, SELECT) must not report it.
    *changes = sqlite3_total_changes64(db_) != total_before ? sqlite3_changes64(db_) : 0;
  }
  return Status::Ok();
}

Status SqliteConnection::ExecScript(std::string_view sql) {
  if (tx_open_ && !failure_.ok()) return Aborted();
  std::string script(sql);  // sqlite3_exec wants a NUL-terminated string
  char* error = nullptr;
  int rc = sqlite3_exec(db_, script.c_str(), nullptr, nullptr, &error);
  sqlite3_free(error);  // the same text is in sqlite3_errmsg
  if (rc != SQLITE_OK) return Fail(rc, sql);
  return Status::Ok();
}

Status SqliteConnection::Fail(int rc, std::string_view sql) {
  std::string message = sqlite3_errmsg(db_);
  Status s;
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    s = AlreadyExists("sqlite: " + message);
  } else if (IsTransient(rc)) {
    transient_ = true;
    s = Unavailable("sqlite: " + message);
  } else {
    s = Internal("sqlite: " + message + " (in: " + SqlForMessage(sql) + ")");
  }
  if (tx_open_ && failure_.ok()) failure_ = s;
  return s;
}

Status SqliteConnection::Control(std::string_view sql) {
  char* error = nullptr;
  std::string script(sql);
  int rc = sqlite3_exec(db_, script.c_str(), nullptr, nullptr, &error);
  sqlite3_free(error);
  if (rc == SQLITE_OK) return Status::Ok();
  if (IsTransient(rc)) {
    transient_ = true;
    return Unavailable(std::string("sqlite: ") + sqlite3_errmsg(db_));
  }
  return Internal("sqlite: " + std::string(sqlite3_errmsg(db_)) + " (in: " + SqlForMessage(sql) +
                  ")");
}

Status SqliteConnection::ControlStatement(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (auto it = cache_.find(sql); it != cache_.end()) {
    it->second.last_use = ++use_clock_;
    stmt = it->second.stmt;
  } else {
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK || stmt == nullptr) return Control(sql);
    cache_.emplace(std::string(sql), CachedStatement{stmt, ++use_clock_});
  }
  int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::Ok();
  if (IsTransient(rc)) {
    transient_ = true;
    return Unavailable(std::string("sqlite: ") + sqlite3_errmsg(db_));
  }
  return Internal("sqlite: " + std::string(sqlite3_errmsg(db_)) + " (in: " + SqlForMessage(sql) +
                  ")");
}

Status SqliteConnection::Begin(TxMode mode) {
  failure_ = Status::Ok();
  transient_ = false;
  // IMMEDIATE takes the write lock now, so a writer never fails halfway with
  // SQLITE_BUSY when upgrading from a read; DEFERRED only pins a snapshot.
  Status s = ControlStatement(mode == TxMode::kWrite ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
  tx_open_ = s.ok();
  return s;
}

Status SqliteConnection::Commit() {
  Status s = ControlStatement("COMMIT");
  if (!s.ok() && in_transaction()) ControlStatement("ROLLBACK").ok();
  tx_open_ = false;
  return s;
}

Status SqliteConnection::BeginSavepoint() {
  failure_ = Status::Ok();
  transient_ = false;
  return ControlStatement("SAVEPOINT unit");
}

Status SqliteConnection::EndSavepoint(bool keep) {
  if (!keep) RETURN_IF_ERROR(ControlStatement("ROLLBACK TO unit"));
  return ControlStatement("RELEASE unit");
}

void SqliteConnection::Rollback() {
  // SQLite rolls back by itself after some errors (IOERR, FULL, NOMEM).
  if (in_transaction()) {
    if (Status s = ControlStatement("ROLLBACK"); !s.ok()) log::Warn("sql: {}", s.message());
  }
  tx_open_ = false;
}

void SqliteConnection::TrimCache() {
  if (cache_.size() <= cache_size_) return;
  // Drop to 3/4 of the limit so trimming is not paid on every transaction.
  std::vector<std::pair<uint64_t, std::string_view>> by_age;
  by_age.reserve(cache_.size());
  for (const auto& [sql, cached] : cache_) by_age.emplace_back(cached.last_use, sql);
  std::sort(by_age.begin(), by_age.end());
  size_t keep = std::max<size_t>(1, cache_size_ * 3 / 4);
  std::vector<std::string> evict;
  for (size_t i = 0; i + keep < by_age.size(); ++i) evict.emplace_back(by_age[i].second);
  for (const std::string& sql : evict) {
    auto it = cache_.find(sql);
    sqlite3_finalize(it->second.stmt);
    cache_.erase(it);
  }
}

// Thread-safe.
class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(const SqliteConfig& config, const DatabaseOptions& options,
                 std::unique_ptr<StatsCounters> stats, std::unique_ptr<SqliteConnection> writer)
      : options_(options),
        memory_(config.memory),
        stats_(std::move(stats)),
        writer_(std::move(writer)) {
    if (!memory_) {
      SqliteConfig reader_config = config;
      reader_config.reader = true;
      readers_ = std::make_unique<Pool<SqliteConnection>>(
          options.pool_size, [reader_config] { return SqliteConnection::Open(reader_config); });
    }
  }

  Backend backend() const override { return Backend::kSqlite; }
  Status Transact(TxMode mode, const std::function<Status(Connection&)>& fn) override;
  Status Migrate(std::string_view component, std::span<const Migration> migrations) override {
    return RunMigrations(*this, component, migrations, options_.clock);
  }
  Result<int> SchemaVersion(std::string_view component) override {
    return ReadSchemaVersion(*this, component);
  }
  DatabaseStats Stats() const override { return stats_->Snapshot(); }

 private:
  // A write transaction waiting for (or done by) a group commit.
  struct QueuedWrite {
    const std::function<Status(Connection&)>* fn;
    bool taken = false;  // in a leader's group: no longer cancellable
    bool done = false;
    Status result;
    std::exception_ptr exception;
  };

  Status RunTransaction(SqliteConnection& conn, TxMode mode,
                        const std::function<Status(Connection&)>& fn);
  Status WriteWithGroupCommit(const std::function<Status(Connection&)>& fn);
  // Runs one group on the writer connection and fills in every result.
  void RunGroup(const std::vector<QueuedWrite*>& group);
  void RunAlone(QueuedWrite& w);

  const DatabaseOptions options_;
  const bool memory_;
  const std::unique_ptr<StatsCounters> stats_;  // outlives the connections pointing at it
  // The group-commit queue; the leader works outside queue_mu_.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::vector<QueuedWrite*> queue_;
  bool leader_active_ = false;
  // For :memory: (no group commit): one transaction at a time.
  std::timed_mutex writer_mu_;
  const std::unique_ptr<SqliteConnection> writer_;   // used under writer_mu_
  std::unique_ptr<Pool<SqliteConnection>> readers_;  // null for :memory:
  Backoff backoff_;
};

Status SqliteDatabase::Transact(TxMode mode, const std::function<Status(Connection&)>& fn) {
  NestingGuard nesting(this);
  if (nesting.nested()) {
    return Internal("Transact called from inside a transaction of the same Database");
  }
  stats_->transactions.fetch_add(1, std::memory_order_relaxed);
  const auto timeout = std::chrono::milliseconds(options_.busy_timeout_ms);
  if (mode == TxMode::kWrite && !memory_) return WriteWithGroupCommit(fn);
  if (memory_) {
    std::unique_lock lock(writer_mu_, std::defer_lock);
    if (!lock.try_lock_for(timeout)) {
      return Unavailable("timed out after " + std::to_string(options_.busy_timeout_ms) +
                         " ms waiting for the SQLite write lock");
    }
    Status s = RunTransaction(*writer_, mode, fn);
    writer_->TrimCache();
    return s;
  }
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteConnection> conn, readers_->Acquire(timeout));
  Lease<SqliteConnection> reader(readers_.get(), std::move(conn));
  Status s = RunTransaction(*reader, mode, fn);
  reader->TrimCache();
  return s;
}

Status SqliteDatabase::WriteWithGroupCommit(const std::function<Status(Connection&)>& fn) {
  QueuedWrite mine{.fn = &fn};
  std::unique_lock lock(queue_mu_);
  queue_.push_back(&mine);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.busy_timeout_ms);
  while (!mine.done && leader_active_) {
    if (mine.taken) {  // in a running group: its result is on the way
      queue_cv_.wait(lock);
      continue;
    }
    if (queue_cv_.wait_until(lock, deadline) == std::cv_status::timeout && !mine.taken &&
        !mine.done && leader_active_) {
      std::erase(queue_, &mine);
      return Unavailable("timed out after " + std::to_string(options_.busy_timeout_ms) +
                         " ms waiting for the SQLite write lock");
    }
  }
  if (!mine.done) {
    // Lead: run groups until ours is done, then hand over to a waiter.
    leader_active_ = true;
    while (!mine.done) {
      std::vector<QueuedWrite*> group;
      group.swap(queue_);
      for (QueuedWrite* w : group) w->taken = true;
      lock.unlock();
      RunGroup(group);
      lock.lock();
      for (QueuedWrite* w : group) w->done = true;
      queue_cv_.notify_all();
    }
    leader_active_ = false;
    queue_cv_.notify_all();
  }
  lock.unlock();
  if (mine.exception) std::rethrow_exception(mine.exception);
  return mine.result;
}

void SqliteDatabase::RunAlone(QueuedWrite& w) {
  try {
    w.result = RunTransaction(*writer_, TxMode::kWrite, *w.fn);
  } catch (...) {
    w.exception = std::current_exception();
  }
}

void SqliteDatabase::RunGroup(const std::vector<QueuedWrite*>& group) {
  if (group.size() == 1) {
    RunAlone(*group.front());
    writer_->TrimCache();
    return;
  }
  SqliteConnection& conn = *writer_;
  bool committed = false;
  if (conn.Begin(TxMode::kWrite).ok()) {
    bool group_ok = true;
    for (QueuedWrite* w : group) {
      if (!conn.BeginSavepoint().ok()) {
        group_ok = false;
        break;
      }
      Status s;
      std::exception_ptr thrown;
      try {
        s = (*w->fn)(conn);
      } catch (...) {
        thrown = std::current_exception();
      }
      if (s.ok() && !thrown && !conn.failure().ok()) {
        // fn ignored a failed statement; PostgreSQL would refuse to commit.
        s = Status(conn.failure().code(),
                   "transaction rolled back after a failed statement: " + conn.failure().message());
      }
      const bool keep = s.ok() && !thrown;
      // A busy/locked unit, or SQLite having rolled back the whole
      // transaction by itself (IOERR, FULL), takes the group down: re-run alone.
      if (conn.transient_failure() || !conn.EndSavepoint(keep).ok() || !conn.in_transaction()) {
        group_ok = false;
        break;
      }
      w->result = std::move(s);
      w->exception = thrown;
    }
    committed = group_ok && conn.Commit().ok();
    if (!committed) conn.Rollback();
    if (committed) {
      stats_->group_commits.fetch_add(1, std::memory_order_relaxed);
      stats_->grouped_transactions.fetch_add(static_cast<int64_t>(group.size()),
                                             std::memory_order_relaxed);
    }
  }
  if (!committed) {
    for (QueuedWrite* w : group) {
      w->result = Status::Ok();
      w->exception = nullptr;
      RunAlone(*w);
    }
  }
  writer_->TrimCache();
}

Status SqliteDatabase::RunTransaction(SqliteConnection& conn, TxMode mode,
                                      const std::function<Status(Connection&)>& fn) {
  // :memory: has no reader connections; enforce read-only on the shared one.
  // Set for every transaction (not reset after), so a throwing fn cannot
  // leave it stuck.
  if (memory_) {
    RETURN_IF_ERROR(
        conn.Control(mode == TxMode::kRead ? "PRAGMA query_only=ON" : "PRAGMA query_only=OFF"));
  }
  for (int attempt = 0;; ++attempt) {
    Status s = conn.Begin(mode);
    if (s.ok()) {
      RollbackOnUnwind<SqliteConnection> unwind(conn);
      s = fn(conn);
      if (s.ok() && !conn.failure().ok()) {
        // fn ignored a failed statement; PostgreSQL would refuse to commit.
        s = Status(conn.failure().code(),
                   "transaction rolled back after a failed statement: " + conn.failure().message());
      }
      if (s.ok()) {
        s = conn.Commit();
      } else {
        conn.Rollback();
      }
      unwind.Disarm();
    }
    if (s.ok() || !conn.transient_failure()) return s;
    if (attempt >= options_.max_retries) {
      return Unavailable("SQLite database stayed busy after " +
                         std::to_string(options_.max_retries) + " retries: " + s.message());
    }
    stats_->retries.fetch_add(1, std::memory_order_relaxed);
    backoff_.Sleep(attempt);
  }
}

}  // namespace

Result<std::unique_ptr<Database>> OpenSqlite(const std::string& path,
                                             const DatabaseOptions& options) {
  SqliteConfig config;
  config.path = path;
  config.memory = path == ":memory:";
  config.busy_timeout_ms = options.busy_timeout_ms;
  config.statement_cache_size = static_cast<size_t>(options.statement_cache_size);
  auto stats = std::make_unique<StatsCounters>();
  config.stats = stats.get();
  if (!config.memory) {
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) {
      return Err(Internal("cannot create directory '" + parent.string() +
                          "' for the SQLite database: " + ec.message()));
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteConnection> writer, SqliteConnection::Open(config));
  return std::make_unique<SqliteDatabase>(config, options, std::move(stats), std::move(writer));
}

}  // namespace mlforge::sql::internal

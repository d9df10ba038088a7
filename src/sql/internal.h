// Private to src/sql: pieces shared by the SQLite and PostgreSQL backends.
// No backend headers here.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "sql/sql.h"

namespace mlforge::sql::internal {

// path: a file path or ":memory:".
Result<std::unique_ptr<Database>> OpenSqlite(const std::string& path,
                                             const DatabaseOptions& options);
// uri: a libpq URI with scheme postgresql:// (driver suffix already removed).
Result<std::unique_ptr<Database>> OpenPostgres(const std::string& uri,
                                               const DatabaseOptions& options);

// '?' placeholders -> $1..$n, leaving string literals, quoted identifiers,
// dollar-quoted strings and comments alone.
struct RewrittenSql {
  std::string sql;
  int placeholders = 0;
};
RewrittenSql RewritePlaceholders(std::string_view sql);

// Migrate/SchemaVersion on top of Transact; identical for both backends.
Status RunMigrations(Database& db, std::string_view component,
                     std::span<const Migration> migrations, const Clock* clock);
Result<int> ReadSchemaVersion(Database& db, std::string_view component);

// Text -> number with PostgreSQL's spellings ("NaN", "Infinity", "-Infinity",
// "t"/"f"). Unparseable text reads as 0, like SQLite's conversions.
double ParseDouble(std::string_view text);
int64_t ParseInt(std::string_view text);
// int64 -> decimal text; double -> shortest round-trip text, non-finite in
// PostgreSQL's spelling.
std::string FormatInt(int64_t v);
std::string FormatDouble(double v);

// The statement text for an error message, shortened.
std::string SqlForMessage(std::string_view sql);

// FNV-1a, stable across processes and builds (used for advisory lock keys).
int64_t StableHash64(std::string_view s);

// Sleeps before retry `attempt` (0-based): exponential with jitter, capped.
// Thread-safe.
class Backoff {
 public:
  Backoff();
  void Sleep(int attempt);

 private:
  std::atomic<uint64_t> state_;
};

// Detects Transact called from inside fn of the same Database on the same
// thread, which would deadlock (SQLite writer lock) or drain the pool.
// Lives on the stack of Transact; not thread-safe (one per thread by design).
class NestingGuard {
 public:
  explicit NestingGuard(const Database* db);
  ~NestingGuard();
  NestingGuard(const NestingGuard&) = delete;
  NestingGuard& operator=(const NestingGuard&) = delete;
  bool nested() const { return nested_; }

 private:
  const Database* db_;
  NestingGuard* prev_;
  bool nested_ = false;
};

// Counters behind DatabaseStats. Thread-safe.
struct StatsCounters {
  std::atomic<int64_t> transactions{0};
  std::atomic<int64_t> retries{0};
  std::atomic<int64_t> statements_prepared{0};
  std::atomic<int64_t> statement_cache_hits{0};
  std::atomic<int64_t> connections_opened{0};
  std::atomic<int64_t> group_commits{0};
  std::atomic<int64_t> grouped_transactions{0};

  DatabaseStats Snapshot() const {
    DatabaseStats s;
    s.transactions = transactions.load(std::memory_order_relaxed);
    s.retries = retries.load(std::memory_order_relaxed);
    s.statements_prepared = statements_prepared.load(std::memory_order_relaxed);
    s.statement_cache_hits = statement_cache_hits.load(std::memory_order_relaxed);
    s.connections_opened = connections_opened.load(std::memory_order_relaxed);
    s.group_commits = group_commits.load(std::memory_order_relaxed);
    s.grouped_transactions = grouped_transactions.load(std::memory_order_relaxed);
    return s;
  }
};

// Hash and equality for unordered maps keyed by std::string that are looked
// up with a std::string_view without building a string.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// A bounded set of lazily opened connections. Thread-safe.
template <typename Conn>
class Pool {
 public:
  using Opener = std::function<Result<std::unique_ptr<Conn>>()>;

  Pool(int capacity, Opener open)
      : capacity_(capacity < 1 ? 1 : capacity), open_(std::move(open)) {}

  // An idle connection, or a new one when fewer than capacity are open.
  // Waits up to timeout for one to come back; then kTemporarilyUnavailable.
  Result<std::unique_ptr<Conn>> Acquire(std::chrono::milliseconds timeout) {
    {
      std::unique_lock lock(mu_);
      bool available =
          cv_.wait_for(lock, timeout, [&] { return !idle_.empty() || open_count_ < capacity_; });
      if (!available) {
        return Err(Unavailable("no database connection became free within " +
                               std::to_string(timeout.count()) + " ms (pool of " +
                               std::to_string(capacity_) + ")"));
      }
      if (!idle_.empty()) {
        std::unique_ptr<Conn> conn = std::move(idle_.back());
        idle_.pop_back();
        return conn;
      }
      ++open_count_;  // reserve the slot; open outside the lock
    }
    Result<std::unique_ptr<Conn>> conn = open_();
    if (!conn.has_value()) Release(nullptr);
    return conn;
  }

  // Gives a connection back; nullptr means it was discarded (broken).
  void Release(std::unique_ptr<Conn> conn) {
    {
      std::lock_guard lock(mu_);
      if (conn) {
        idle_.push_back(std::move(conn));
      } else {
        --open_count_;
      }
    }
    cv_.notify_one();
  }

 private:
  const int capacity_;
  const Opener open_;
  std::mutex mu_;  // guards idle_ and open_count_
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_;
  int open_count_ = 0;  // idle + checked out + being opened
};

// A connection checked out of a Pool; returns it on destruction (also when
// fn throws). Not thread-safe.
template <typename Conn>
class Lease {
 public:
  Lease(Pool<Conn>* pool, std::unique_ptr<Conn> conn) : pool_(pool), conn_(std::move(conn)) {}
  ~Lease() { pool_->Release(std::move(conn_)); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  Conn& operator*() const { return *conn_; }
  Conn* operator->() const { return conn_.get(); }
  // Closes the connection instead of returning it (it is broken).
  void Discard() { conn_.reset(); }

 private:
  Pool<Conn>* pool_;
  std::unique_ptr<Conn> conn_;
};

// Rolls back the transaction of a backend connection (which has Rollback())
// when fn leaves Transact by throwing. Not thread-safe.
template <typename Conn>
class RollbackOnUnwind {
 public:
  explicit RollbackOnUnwind(Conn& conn) : conn_(conn) {}
  ~RollbackOnUnwind() {
    if (armed_) conn_.Rollback();
  }
  RollbackOnUnwind(const RollbackOnUnwind&) = delete;
  RollbackOnUnwind& operator=(const RollbackOnUnwind&) = delete;
  void Disarm() { armed_ = false; }

 private:
  Conn& conn_;
  bool armed_ = true;
};

}  // namespace mlforge::sql::internal

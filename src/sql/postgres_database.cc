// PostgreSQL backend over libpq: a lazily filled pool of connections, each
// with its own cache of server-side prepared statements.
//
// Parameters go as text with explicit types for numbers (bigint, double
// precision) and as "unknown" for strings and NULL, so the server infers them
// from context the way it does for literals. Results come back as text and are
// parsed on access (see Row). Transactions: kWrite is a plain BEGIN (READ
// COMMITTED), kRead is REPEATABLE READ READ ONLY, a consistent snapshot that
// never fails with a serialization error. fn is retried on serialization
// failure (40001), deadlock (40P01), a plan invalidated by a concurrent schema
// change, and a lost connection (which is replaced), but not when the
// connection is lost during COMMIT: then the outcome is unknown and retrying
// could apply the transaction twice.
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "base/log.h"
#include "sql/internal.h"

namespace mlforge::sql::internal {
namespace {

// Fixed OIDs from pg_type.h (a server header libpq-dev does not ship).
constexpr Oid kInt8Oid = 20;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kByteaOid = 17;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

std::string Trimmed(const char* text) {
  std::string s = text != nullptr ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A row of a text-format result. Not thread-safe.
class PgRow final : public Row {
 public:
  explicit PgRow(const PGresult* result) : result_(result), columns_(PQnfields(result)) {}
  void set_row(int row) { row_ = row; }

  int size() const override { return columns_; }
  bool IsNull(int col) const override {
    return !InRange(col) || PQgetisnull(result_, row_, col) != 0;
  }
  int64_t GetInt(int col) const override { return ParseInt(GetText(col)); }
  double GetDouble(int col) const override { return ParseDouble(GetText(col)); }
  std::string_view GetText(int col) const override {
    if (!InRange(col)) return {};
    return std::string_view(PQgetvalue(result_, row_, col),
                            static_cast<size_t>(PQgetlength(result_, row_, col)));
  }
  std::string GetBlob(int col) const override {
    // Text-format BYTEA is "\\x" followed by two hex digits per byte.
    std::string_view hex = GetText(col);
    if (hex.size() < 2 || hex[0] != '\\' || hex[1] != 'x') return {};
    hex.remove_prefix(2);
    std::string out(hex.size() / 2, '\0');
    auto nibble = [](char c) -> int {
      return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    };
    for (size_t i = 0; i < out.size(); ++i) {
      out[i] = static_cast<char>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
    }
    return out;
  }

 private:
  bool InRange(int col) const { return col >= 0 && col < columns_; }
  const PGresult* result_;
  const int columns_;
  int row_ = 0;
};

struct PgConfig {
  std::string uri;
  int connect_timeout_s = 10;
  size_t statement_cache_size = 256;
  StatsCounters* stats = nullptr;
};

// Type letter of a parameter: 'i' bigint, 'd' double precision, 'b' bytea
// (sent in binary), 'u' unknown (strings), 'n' NULL (fits any prepared type).
char TypeLetter(const Param& p) {
  switch (p.index()) {
    case 0:
      return 'n';
    case 1:
      return 'i';
    case 2:
      return 'd';
    case 4:
      return 'b';
    default:
      return 'u';
  }
}

// One libpq connection and its prepared statements. Externally synchronized:
// PgDatabase hands it to one transaction at a time.
class PgConnection final : public Connection {
 public:
  static Result<std::unique_ptr<PgConnection>> Open(const PgConfig& config);
  ~PgConnection() override { PQfinish(conn_); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  Backend backend() const override { return Backend::kPostgres; }
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

  // Transaction control, for PgDatabase.
  Status Begin(TxMode mode);
  // *outcome_unknown is set when the connection died before COMMIT answered.
  Status Commit(bool* outcome_unknown);
  void Rollback();
  const Status& failure() const { return failure_; }
  bool transient_failure() const { return transient_; }
  bool broken() const { return broken_ || PQstatus(conn_) != CONNECTION_OK; }
  // For an idle pooled connection: false if the server has closed it.
  bool Healthy();
  // Between transactions: DEALLOCATEs stale and least recently used statements.
  void TrimCache();

 private:
  struct Prepared {
    std::string name;
    std::string types;  // one TypeLetter per parameter ('n' never appears)
    uint64_t last_use;
  };

  PgConnection(PGconn* conn, const PgConfig& config)
      : conn_(conn), cache_size_(config.statement_cache_size), stats_(config.stats) {}

  Result<std::string> Prepare(std::string_view sql, std::span<const Param> params);
  Status Run(std::string_view sql, std::span<const Param> params, const RowCallback* on_row,
             int64_t* changes);
  // Runs sql with the simple protocol (control statements, scripts).
  Status Simple(std::string_view sql, std::string* command_status = nullptr);
  // Maps an error result to a Status; inside a transaction, remembers the first.
  Status Fail(const PGresult* result, std::string_view sql, const std::string* statement);
  Status Record(Status s) {
    if (tx_open_ && failure_.ok()) failure_ = s;
    return s;
  }
  Status Aborted() const {
    return Status(failure_.code(),
                  "transaction aborted by an earlier failed statement: " + failure_.message());
  }
  void Forget(const std::string& statement);

  PGconn* const conn_;
  const size_t cache_size_;
  StatsCounters* const stats_;
  // SQL text -> the statements prepared for it (one per parameter type list).
  std::unordered_map<std::string, std::vector<Prepared>, StringHash, std::equal_to<>> cache_;
  size_t cached_ = 0;
  uint64_t next_id_ = 0;
  uint64_t use_clock_ = 0;
  std::vector<std::string> to_deallocate_;
  bool tx_open_ = false;
  bool transient_ = false;
  bool broken_ = false;
  Status failure_;
};

void LogNotice(void*, const char* message) { log::Warn("sql: postgres: {}", Trimmed(message)); }

Result<std::unique_ptr<PgConnection>> PgConnection::Open(const PgConfig& config) {
  std::string timeout = std::to_string(config.connect_timeout_s);
  // Keywords before dbname are defaults the URI may override; after it, not.
  const char* keys[] = {"connect_timeout", "dbname", "fallback_application_name", nullptr};
  const char* values[] = {timeout.c_str(), config.uri.c_str(), "mlforge", nullptr};
  PGconn* raw = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (raw == nullptr) return Err(Unavailable("postgres: out of memory opening a connection"));
  std::unique_ptr<PgConnection> conn(new PgConnection(raw, config));
  if (PQstatus(raw) != CONNECTION_OK) {
    return Err(Unavailable("cannot connect to PostgreSQL at " + RedactUri(config.uri) + ": " +
                           Trimmed(PQerrorMessage(raw))));
  }
  PQsetNoticeProcessor(raw, LogNotice, nullptr);
  // extra_float_digits > 0 makes float8 output shortest-exact (PostgreSQL 12+;
  // older servers print 17 digits, also exact). Notices ("relation already
  // exists, skipping") are noise.
  RETURN_IF_ERROR(conn->Simple("SET client_min_messages = warning; SET extra_float_digits = 3"));
  if (config.stats != nullptr) config.stats->connections_opened.fetch_add(1);
  return conn;
}

Result<std::string> PgConnection::Prepare(std::string_view sql, std::span<const Param> params) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    for (Prepared& p : it->second) {
      if (p.types.size() != params.size()) continue;
      bool match = true;
      for (size_t i = 0; i < params.size() && match; ++i) {
        char t = TypeLetter(params[i]);
        match = t == 'n' || t == p.types[i];
      }
      if (match) {
        p.last_use = ++use_clock_;
        if (stats_ != nullptr) stats_->statement_cache_hits.fetch_add(1, std::memory_order_relaxed);
        return p.name;
      }
    }
  }

  RewrittenSql rewritten = RewritePlaceholders(sql);
  if (rewritten.placeholders != static_cast<int>(params.size())) {
    return Err(Record(Internal("postgres: statement has " + std::to_string(rewritten.placeholders) +
                               " placeholders but " + std::to_string(params.size()) +
                               " parameters were given (in: " + SqlForMessage(sql) + ")")));
  }
  Prepared prepared;
  prepared.name = "mlforge_" + std::to_string(++next_id_);
  std::vector<Oid> oids(params.size(), 0);
  for (size_t i = 0; i < params.size(); ++i) {
    char t = TypeLetter(params[i]);
    if (t == 'n') t = 'u';
    prepared.types.push_back(t);
    oids[i] = t == 'i' ? kInt8Oid : t == 'd' ? kFloat8Oid : t == 'b' ? kByteaOid : 0;
  }
  ResultPtr result(PQprepare(conn_, prepared.name.c_str(), rewritten.sql.c_str(),
                             static_cast<int>(oids.size()), oids.data()));
  if (result == nullptr || PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    return Err(Fail(result.get(), sql, nullptr));
  }
  prepared.last_use = ++use_clock_;
  if (it == cache_.end()) it = cache_.emplace(std::string(sql), std::vector<Prepared>{}).first;
  it->second.push_back(prepared);
  ++cached_;
  if (stats_ != nullptr) stats_->statements_prepared.fetch_add(1, std::memory_order_relaxed);
  return std::move(prepared.name);
}

Status PgConnection::Run(std::string_view sql, std::span<const Param> params,
                         const RowCallback* on_row, int64_t* changes) {
  if (tx_open_ && !failure_.ok()) return Aborted();
  ASSIGN_OR_RETURN(std::string statement, Prepare(sql, params));

  std::vector<std::string> texts(params.size());
  std::vector<const char*> values(params.size(), nullptr);
  std::vector<int> lengths;  // only with binary (BYTEA) parameters
  std::vector<int> formats;
  for (size_t i = 0; i < params.size(); ++i) {
    const Param& p = params[i];
    if (const auto* blob = std::get_if<Blob>(&p)) {
      if (formats.empty()) {
        lengths.assign(params.size(), 0);
        formats.assign(params.size(), 0);
      }
      values[i] = blob->bytes.data() != nullptr ? blob->bytes.data() : "";
      lengths[i] = static_cast<int>(blob->bytes.size());
      formats[i] = 1;
      continue;
    }
    if (const auto* v = std::get_if<int64_t>(&p)) {
      texts[i] = FormatInt(*v);
    } else if (const auto* d = std::get_if<double>(&p)) {
      texts[i] = FormatDouble(*d);
    } else if (const auto* s = std::get_if<std::string_view>(&p)) {
      // Text parameters are NUL-terminated, and PostgreSQL text cannot hold NUL.
      if (s->find('\0') != std::string_view::npos) {
        return Record(InvalidArgument("postgres: text parameter " + std::to_string(i + 1) +
                                      " contains a NUL byte"));
      }
      texts[i].assign(s->data() != nullptr ? s->data() : "", s->size());
    } else {
      continue;  // NULL
    }
    values[i] = texts[i].c_str();
  }

  ResultPtr result(PQexecPrepared(conn_, statement.c_str(), static_cast<int>(params.size()),
                                  values.data(), formats.empty() ? nullptr : lengths.data(),
                                  formats.empty() ? nullptr : formats.data(),
                                  /*resultFormat=text*/ 0));
  ExecStatusType status = result != nullptr ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_TUPLES_OK) {
    if (on_row != nullptr && *on_row) {
      PgRow row(result.get());
      const int rows = PQntuples(result.get());
      for (int r = 0; r < rows; ++r) {
        row.set_row(r);
        (*on_row)(row);
      }
    }
  } else if (status != PGRES_COMMAND_OK) {
    return Fail(result.get(), sql, &statement);
  }
  if (changes != nullptr) {
    // A SELECT's tag counts rows returned, not changed (SQLite says 0).
    const char* tuples = PQcmdTuples(result.get());
    bool select = std::strncmp(PQcmdStatus(result.get()), "SELECT", 6) == 0;
    *changes = !select && tuples != nullptr && *tuples != '\0' ? ParseInt(tuples) : 0;
  }
  return Status::Ok();
}

Status PgConnection::ExecScript(std::string_view sql) {
  if (tx_open_ && !failure_.ok()) return Aborted();
  return Simple(sql);
}

Status PgConnection::Simple(std::string_view sql, std::string* command_status) {
  std::string text(sql);
  ResultPtr result(PQexec(conn_, text.c_str()));
  ExecStatusType status = result != nullptr ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY) {
    return Fail(result.get(), sql, nullptr);
  }
  if (command_status != nullptr) *command_status = PQcmdStatus(result.get());
  return Status::Ok();
}

Status PgConnection::Fail(const PGresult* result, std::string_view sql,
                          const std::string* statement) {
  auto field = [&](int code) -> std::string {
    const char* v = result != nullptr ? PQresultErrorField(result, code) : nullptr;
    return v != nullptr ? v : "";
  };
  std::string sqlstate = field(PG_DIAG_SQLSTATE);
  std::string message = field(PG_DIAG_MESSAGE_PRIMARY);
  if (message.empty()) message = Trimmed(PQerrorMessage(conn_));
  if (std::string detail = field(PG_DIAG_MESSAGE_DETAIL); !detail.empty()) {
    message += " (" + detail + ")";
  }
  message = "postgres: " + message;

  Status s;
  if (PQstatus(conn_) != CONNECTION_OK || sqlstate.starts_with("08") || sqlstate == "57P01" ||
      sqlstate == "57P02" || sqlstate == "57P03") {
    // Lost server or administrator shutdown: this connection is done.
    broken_ = true;
    transient_ = true;
    s = Unavailable(message);
  } else if (sqlstate == "40001" || sqlstate == "40P01") {
    transient_ = true;
    s = Unavailable(message);
  } else if (sqlstate == "23505") {
    s = AlreadyExists(message);
  } else if (sqlstate == "0A000" && statement != nullptr &&
             message.find("cached plan must not change result type") != std::string::npos) {
    // A concurrent migration changed a table under a cached SELECT *:
    // prepare it afresh and rerun the transaction.
    transient_ = true;
    Forget(*statement);
    s = Unavailable(message);
  } else {
    s = Internal(message + " [SQLSTATE " + sqlstate + "] (in: " + SqlForMessage(sql) + ")");
  }
  return Record(std::move(s));
}

void PgConnection::Forget(const std::string& statement) {
  for (auto it = cache_.begin(); it != cache_.end(); ++it) {
    auto& list = it->second;
    auto found = std::find_if(list.begin(), list.end(),
                              [&](const Prepared& p) { return p.name == statement; });
    if (found == list.end()) continue;
    to_deallocate_.push_back(found->name);
    list.erase(found);
    --cached_;
    if (list.empty()) cache_.erase(it);
    return;
  }
}

Status PgConnection::Begin(TxMode mode) {
  failure_ = Status::Ok();
  transient_ = false;
  Status s =
      Simple(mode == TxMode::kRead ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN");
  tx_open_ = s.ok();
  return s;
}

Status PgConnection::Commit(bool* outcome_unknown) {
  std::string tag;
  Status s = Simple("COMMIT", &tag);
  if (!s.ok() && broken()) *outcome_unknown = true;
  // COMMIT of a transaction the server had already aborted answers ROLLBACK.
  if (s.ok() && tag == "ROLLBACK") s = Internal("postgres: the server rolled the transaction back");
  if (!s.ok() && !broken() && PQtransactionStatus(conn_) != PQTRANS_IDLE) Rollback();
  tx_open_ = false;
  return s;
}

void PgConnection::Rollback() {
  tx_open_ = false;
  if (broken()) return;
  ResultPtr result(PQexec(conn_, "ROLLBACK"));
  if (PQstatus(conn_) != CONNECTION_OK) broken_ = true;
}

bool PgConnection::Healthy() {
  if (broken_ || PQstatus(conn_) != CONNECTION_OK) return false;
  // An idle connection receives nothing unless the server is going away
  // (an error message, then end of file). Read what is there: the first read
  // takes the message, the next one sees the end.
  for (int i = 0; i < 4; ++i) {
    pollfd ready{PQsocket(conn_), POLLIN, 0};
    if (poll(&ready, 1, 0) <= 0) break;
    if (PQconsumeInput(conn_) == 0) return false;
    while (PGnotify* notify = PQnotifies(conn_)) PQfreemem(notify);
  }
  return PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE;
}

void PgConnection::TrimCache() {
  if (broken()) return;
  if (cached_ > cache_size_) {
    std::vector<std::pair<uint64_t, std::string>> by_age;
    by_age.reserve(cached_);
    for (const auto& [sql, list] : cache_) {
      for (const Prepared& p : list) by_age.emplace_back(p.last_use, p.name);
    }
    std::sort(by_age.begin(), by_age.end());
    size_t keep = std::max<size_t>(1, cache_size_ * 3 / 4);
    for (size_t i = 0; i + keep < by_age.size(); ++i) Forget(by_age[i].second);
  }
  if (to_deallocate_.empty()) return;
  std::string script;
  for (const std::string& name : to_deallocate_) script += "DEALLOCATE " + name + ";";
  to_deallocate_.clear();
  if (Status s = Simple(script); !s.ok()) log::Warn("sql: {}", s.message());
}

// Thread-safe.
class PgDatabase final : public Database {
 public:
  PgDatabase(const PgConfig& config, const DatabaseOptions& options,
             std::unique_ptr<StatsCounters> stats)
      : options_(options),
        stats_(std::move(stats)),
        pool_(options.pool_size, [config] { return PgConnection::Open(config); }) {}

  Backend backend() const override { return Backend::kPostgres; }
  Status Transact(TxMode mode, const std::function<Status(Connection&)>& fn) override;
  Status Migrate(std::string_view component, std::span<const Migration> migrations) override {
    return RunMigrations(*this, component, migrations, options_.clock);
  }
  Result<int> SchemaVersion(std::string_view component) override {
    return ReadSchemaVersion(*this, component);
  }
  DatabaseStats Stats() const override { return stats_->Snapshot(); }

  // Opens one connection now, so Open reports a bad address or password.
  Status Probe() {
    ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn,
                     pool_.Acquire(std::chrono::milliseconds(options_.busy_timeout_ms)));
    pool_.Release(std::move(conn));
    return Status::Ok();
  }

 private:
  // A connection whose server is still there; stale idle ones are dropped.
  Result<std::unique_ptr<PgConnection>> AcquireHealthy();

  const DatabaseOptions options_;
  const std::unique_ptr<StatsCounters> stats_;  // outlives the connections pointing at it
  Pool<PgConnection> pool_;
  Backoff backoff_;
};

Result<std::unique_ptr<PgConnection>> PgDatabase::AcquireHealthy() {
  const auto timeout = std::chrono::milliseconds(options_.busy_timeout_ms);
  for (int i = 0;; ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn, pool_.Acquire(timeout));
    // Every idle connection may be stale after a server restart; a new one is
    // opened after at most pool_size discards.
    if (conn->Healthy() || i > options_.pool_size) return conn;
    pool_.Release(nullptr);
  }
}

Status PgDatabase::Transact(TxMode mode, const std::function<Status(Connection&)>& fn) {
  NestingGuard nesting(this);
  if (nesting.nested()) {
    return Internal("Transact called from inside a transaction of the same Database");
  }
  stats_->transactions.fetch_add(1, std::memory_order_relaxed);
  // A pooled connection can die unnoticed while idle (server restart); if
  // BEGIN finds it dead, nothing of fn ran, so try another without counting
  // it against max_retries.
  int free_reconnects = options_.pool_size;
  for (int attempt = 0;; ++attempt) {
    Status s;
    bool transient = false;
    bool outcome_unknown = false;
    bool lost_at_begin = false;
    {
      ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> acquired, AcquireHealthy());
      Lease<PgConnection> conn(&pool_, std::move(acquired));
      s = conn->Begin(mode);
      lost_at_begin = !s.ok() && conn->broken();
      if (s.ok()) {
        RollbackOnUnwind<PgConnection> unwind(*conn);
        s = fn(*conn);
        if (s.ok() && !conn->failure().ok()) {
          // fn ignored a failed statement; the server has aborted the transaction.
          s = Status(conn->failure().code(), "transaction rolled back after a failed statement: " +
                                                 conn->failure().message());
        }
        if (s.ok()) {
          s = conn->Commit(&outcome_unknown);
        } else {
          conn->Rollback();
        }
        unwind.Disarm();
      }
      transient = conn->transient_failure();
      if (conn->broken()) {
        conn.Discard();
      } else {
        conn->TrimCache();
      }
    }  // the connection goes back before any backoff sleep
    if (s.ok()) return s;
    if (lost_at_begin && free_reconnects-- > 0) {
      --attempt;
      continue;
    }
    if (outcome_unknown) {
      return Unavailable(
          "lost the PostgreSQL connection during COMMIT; the transaction may or "
          "may not have been applied: " +
          s.message());
    }
    if (!transient) return s;
    if (attempt >= options_.max_retries) {
      return Unavailable("PostgreSQL transaction failed after " +
                         std::to_string(options_.max_retries) + " retries: " + s.message());
    }
    stats_->retries.fetch_add(1, std::memory_order_relaxed);
    backoff_.Sleep(attempt);
  }
}

}  // namespace

Result<std::unique_ptr<Database>> OpenPostgres(const std::string& uri,
                                               const DatabaseOptions& options) {
  PgConfig config;
  config.uri = uri;
  config.connect_timeout_s = std::max(2, (options.busy_timeout_ms + 999) / 1000);
  config.statement_cache_size = static_cast<size_t>(options.statement_cache_size);
  auto stats = std::make_unique<StatsCounters>();
  config.stats = stats.get();
  auto db = std::make_unique<PgDatabase>(config, options, std::move(stats));
  RETURN_IF_ERROR(db->Probe());
  return db;
}

}  // namespace mlforge::sql::internal

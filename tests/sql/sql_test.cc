// The same behaviour suite on SQLite and PostgreSQL.
#include "sql/sql.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <future>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "support/scratch_database.h"

namespace mlforge::sql {

// Names the backend in test output (found by argument-dependent lookup).
void PrintTo(Backend backend, std::ostream* os) {
  *os << (backend == Backend::kSqlite ? "SQLite" : "PostgreSQL");
}

namespace {

using namespace std::chrono_literals;
using testing::ScratchDatabase;

constexpr double kInf = std::numeric_limits<double>::infinity();

class SqlTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kPostgres && testing::PgAdminUri().empty()) {
      if (testing::PgOptedOut()) GTEST_SKIP() << "PostgreSQL disabled by MLFORGE_TEST_PG=off";
      FAIL() << testing::kPgHowTo;
    }
    auto scratch = ScratchDatabase::Create(GetParam());
    ASSERT_TRUE(scratch.has_value()) << scratch.error().ToString();
    scratch_ = std::move(*scratch);
    auto db = scratch_->Open();
    ASSERT_TRUE(db.has_value()) << db.error().ToString();
    db_ = std::move(*db);
  }
  void TearDown() override {
    db_.reset();
    scratch_.reset();
  }

  bool sqlite() const { return GetParam() == Backend::kSqlite; }

  Status Script(std::string_view sql) { return Script(*db_, sql); }
  static Status Script(Database& db, std::string_view sql) {
    return db.Transact(TxMode::kWrite, [&](Connection& c) { return c.ExecScript(sql); });
  }
  // One int64 from a query (asserting exactly one row comes back).
  int64_t QueryInt(std::string_view sql, std::initializer_list<Param> params = {}) {
    return QueryInt(*db_, sql, params);
  }
  static int64_t QueryInt(Database& db, std::string_view sql,
                          std::initializer_list<Param> params = {}) {
    int64_t value = -1;
    int rows = 0;
    Status s = db.Transact(TxMode::kRead, [&](Connection& c) {
      return c.Query(sql, params, [&](const Row& row) {
        value = row.GetInt(0);
        ++rows;
      });
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(rows, 1) << sql;
    return value;
  }
  Status Exec(std::string_view sql, std::initializer_list<Param> params = {}) {
    return db_->Transact(TxMode::kWrite,
                         [&](Connection& c) -> Status { return ToStatus(c.Execute(sql, params)); });
  }
  static Status ToStatus(const Result<int64_t>& r) {
    return r.has_value() ? Status::Ok() : r.error();
  }

  Result<std::unique_ptr<Database>> OpenAnother(const DatabaseOptions& options = {}) {
    return scratch_->Open(options);
  }

  std::unique_ptr<ScratchDatabase> scratch_;
  std::unique_ptr<Database> db_;
};

// ---------------------------------------------------------------- types

TEST_P(SqlTest, TypesRoundTrip) {
  ASSERT_OK(
      Script("CREATE TABLE vals (id INTEGER PRIMARY KEY, i BIGINT, d DOUBLE PRECISION, s TEXT)"));
  struct Value {
    int64_t i;
    double d;
    std::string s;
  };
  const std::vector<Value> values = {
      {std::numeric_limits<int64_t>::min(), kInf, ""},
      {std::numeric_limits<int64_t>::max(), -kInf, "it's"},
      {0, 5e-324, "say \"hi\""},
      {-1, std::numeric_limits<double>::min(), "what?"},
      {1, std::numeric_limits<double>::max(), "?"},
      {42, 0.1, "'?'"},
      {-42, 1.0 / 3.0, "a '?' b ? c"},
      {1'700'000'000'123, -1.2345678901234567e-100, "unicode: héllo ✓ 日本語 😀"},
      {7, 1e300, "back\\slash and E'\\n'"},
      {8, 3.0, "semi;colon -- not a comment /* nor this */"},
      {9, 1e15, "$1 $$dollar$$ :name @p"},
      {10, 1e20, "line\nbreak\ttab"},
      {11, -0.0, "x"},
  };
  ASSERT_OK(db_->Transact(TxMode::kWrite, [&](Connection& c) -> Status {
    for (size_t k = 0; k < values.size(); ++k) {
      const Value& v = values[k];
      auto r = c.Execute("INSERT INTO vals (id, i, d, s) VALUES (?, ?, ?, ?)",
                         {int64_t(k), v.i, v.d, std::string_view(v.s)});
      if (!r.has_value()) return r.error();
      EXPECT_EQ(*r, 1);
    }
    return ToStatus(c.Execute("INSERT INTO vals (id, i, d, s) VALUES (?, ?, ?, ?)",
                              {int64_t{100}, nullptr, nullptr, nullptr}));
  }));

  size_t seen = 0;
  ASSERT_OK(db_->Transact(TxMode::kRead, [&](Connection& c) {
    return c.Query("SELECT id, i, d, s FROM vals ORDER BY id", {}, [&](const Row& row) {
      ASSERT_EQ(row.size(), 4);
      int64_t id = row.GetInt(0);
      if (id == 100) {
        EXPECT_TRUE(row.IsNull(1));
        EXPECT_TRUE(row.IsNull(2));
        EXPECT_TRUE(row.IsNull(3));
        EXPECT_EQ(row.GetInt(1), 0);
        EXPECT_EQ(row.GetDouble(2), 0.0);
        EXPECT_EQ(row.GetText(3), "");
        return;
      }
      ASSERT_LT(static_cast<size_t>(id), values.size());
      const Value& v = values[id];
      EXPECT_FALSE(row.IsNull(3)) << id;  // "" is not NULL
      EXPECT_EQ(row.GetInt(1), v.i) << id;
      EXPECT_EQ(row.GetDouble(2), v.d) << id;
      EXPECT_EQ(row.GetText(3), v.s) << id;
      ++seen;
    });
  }));
  EXPECT_EQ(seen, values.size());
}

TEST_P(SqlTest, BlobsRoundTripEveryByte) {
  const bool pg = GetParam() == Backend::kPostgres;
  ASSERT_OK(Script(std::string("CREATE TABLE blobs (id BIGINT PRIMARY KEY, b ") +
                   (pg ? "BYTEA" : "BLOB") + " NOT NULL)"));
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  const std::vector<std::string> blobs = {"", std::string("\0", 1), all_bytes + all_bytes,
                                          std::string(100000, '\xff')};
  ASSERT_OK(db_->Transact(TxMode::kWrite, [&](Connection& c) -> Status {
    for (size_t k = 0; k < blobs.size(); ++k) {
      // Mixed with text and integer parameters in one statement.
      RETURN_IF_ERROR(ToStatus(c.Execute("INSERT INTO blobs (id, b) VALUES (? + ?, ?)",
                                         {int64_t(k), int64_t{0}, Blob{blobs[k]}})));
    }
    return Status::Ok();
  }));
  std::vector<std::string> read;
  ASSERT_OK(db_->Transact(TxMode::kRead, [&](Connection& c) {
    return c.Query("SELECT b FROM blobs ORDER BY id", {},
                   [&](const Row& row) { read.push_back(row.GetBlob(0)); });
  }));
  EXPECT_EQ(read, blobs);
}

TEST_P(SqlTest, ParametersInSelectAndQuestionMarksInLiterals) {
  ASSERT_OK(Script("CREATE TABLE t (s TEXT)"));
  ASSERT_OK(Exec("INSERT INTO t (s) VALUES ('what?'), (?), ('other')", {"?"}));
  // The '?' inside the literal is not a placeholder.
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM t WHERE s = 'what?' OR s = ?", {"?"}), 2);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM t WHERE s LIKE '%?' -- a comment?\n AND s <> ?", {"?"}),
            1);

  ASSERT_OK(db_->Transact(TxMode::kRead, [&](Connection& c) {
    return c.Query("SELECT ?, ?, ?, ?, 'lit?'",
                   {std::numeric_limits<int64_t>::max(), -kInf, "a'b?", nullptr},
                   [&](const Row& row) {
                     EXPECT_EQ(row.GetInt(0), std::numeric_limits<int64_t>::max());
                     EXPECT_EQ(row.GetDouble(1), -kInf);
                     EXPECT_EQ(row.GetText(2), "a'b?");
                     EXPECT_TRUE(row.IsNull(3));
                     EXPECT_EQ(row.GetText(4), "lit?");
                   });
  }));
}

TEST_P(SqlTest, NanIsNullOnSqliteAndRoundTripsOnPostgres) {
  ASSERT_OK(Script("CREATE TABLE t (d DOUBLE PRECISION)"));
  ASSERT_OK(Exec("INSERT INTO t (d) VALUES (?)", {std::nan("")}));
  ASSERT_OK(db_->Transact(TxMode::kRead, [&](Connection& c) {
    return c.Query("SELECT d FROM t", {}, [&](const Row& row) {
      if (sqlite()) {
        EXPECT_TRUE(row.IsNull(0));  // documented: keep NaN out of the database
      } else {
        EXPECT_TRUE(std::isnan(row.GetDouble(0)));
      }
    });
  }));
}

TEST_P(SqlTest, BooleansAndAggregatesReadAsNumbers) {
  ASSERT_OK(Script("CREATE TABLE t (n BIGINT)"));
  ASSERT_OK(Exec("INSERT INTO t (n) VALUES (1), (2), (4)"));
  ASSERT_OK(db_->Transact(TxMode::kRead, [&](Connection& c) {
    return c.Query("SELECT COUNT(*) > 0, COUNT(*) > 5, SUM(n), AVG(n) FROM t", {},
                   [&](const Row& row) {
                     EXPECT_EQ(row.GetInt(0), 1);
                     EXPECT_EQ(row.GetInt(1), 0);
                     EXPECT_EQ(row.GetInt(2), 7);
                     EXPECT_DOUBLE_EQ(row.GetDouble(3), 7.0 / 3.0);
                   });
  }));
}

// ---------------------------------------------------------------- errors

TEST_P(SqlTest, UniqueViolationIsAlreadyExists) {
  ASSERT_OK(Script("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT UNIQUE, v TEXT NOT NULL)"));
  ASSERT_OK(Exec("INSERT INTO t (id, name, v) VALUES (?, ?, ?)", {int64_t{1}, "a", "x"}));
  Status dup_pk = Exec("INSERT INTO t (id, name, v) VALUES (?, ?, ?)", {int64_t{1}, "b", "x"});
  EXPECT_EQ(dup_pk.code(), ErrorCode::kResourceAlreadyExists) << dup_pk.ToString();
  Status dup_unique = Exec("INSERT INTO t (id, name, v) VALUES (?, ?, ?)", {int64_t{2}, "a", "x"});
  EXPECT_EQ(dup_unique.code(), ErrorCode::kResourceAlreadyExists) << dup_unique.ToString();
  Status not_null =
      Exec("INSERT INTO t (id, name, v) VALUES (?, ?, ?)", {int64_t{3}, "c", nullptr});
  EXPECT_EQ(not_null.code(), ErrorCode::kInternalError) << not_null.ToString();
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM t"), 1);
}

TEST_P(SqlTest, ForeignKeysAreEnforced) {
  ASSERT_OK(
      Script("CREATE TABLE parent (id BIGINT PRIMARY KEY);"
             "CREATE TABLE child (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES parent (id));"
             "INSERT INTO parent (id) VALUES (1)"));
  EXPECT_OK(Exec("INSERT INTO child (id, parent_id) VALUES (1, 1)"));
  Status orphan = Exec("INSERT INTO child (id, parent_id) VALUES (2, 42)");
  EXPECT_EQ(orphan.code(), ErrorCode::kInternalError) << orphan.ToString();
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM child"), 1);
}

TEST_P(SqlTest, SqlErrorIsInternalWithBackendMessage) {
  Status syntax =
      db_->Transact(TxMode::kRead, [](Connection& c) { return c.Query("SELEC 1", {}, nullptr); });
  EXPECT_EQ(syntax.code(), ErrorCode::kInternalError);
  EXPECT_NE(syntax.message().find("syntax error"), std::string::npos) << syntax.message();

  Status missing = db_->Transact(TxMode::kRead, [](Connection& c) {
    return c.Query("SELECT * FROM no_such_table", {}, nullptr);
  });
  EXPECT_EQ(missing.code(), ErrorCode::kInternalError);
  EXPECT_NE(missing.message().find("no_such_table"), std::string::npos) << missing.message();

  Status count = db_->Transact(TxMode::kRead, [](Connection& c) {
    return c.Query("SELECT ?", {int64_t{1}, int64_t{2}}, nullptr);
  });
  EXPECT_EQ(count.code(), ErrorCode::kInternalError) << count.ToString();

  Status two = db_->Transact(
      TxMode::kRead, [](Connection& c) { return c.Query("SELECT 1; SELECT 2", {}, nullptr); });
  EXPECT_EQ(two.code(), ErrorCode::kInternalError) << two.ToString();

  // A double-quoted word is an identifier, never a string, on both.
  Status dq = db_->Transact(
      TxMode::kRead, [](Connection& c) { return c.Query("SELECT \"not_a_column\"", {}, nullptr); });
  EXPECT_EQ(dq.code(), ErrorCode::kInternalError) << dq.ToString();
}

// ---------------------------------------------------------------- transactions

TEST_P(SqlTest, CommitPersistsAndErrorRollsBack) {
  ASSERT_OK(Script("CREATE TABLE t (id BIGINT PRIMARY KEY)"));
  ASSERT_OK(Exec("INSERT INTO t (id) VALUES (1)"));

  Status s = db_->Transact(TxMode::kWrite, [](Connection& c) -> Status {
    auto r = c.Execute("INSERT INTO t (id) VALUES (2)");
    EXPECT_TRUE(r.has_value());
    return InvalidArgument("changed my mind");
  });
  EXPECT_EQ(s.code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(s.message(), "changed my mind");  // fn's Status comes back as is
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM t"), 1);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM t WHERE id = 2"), 0);
}

TEST_P(SqlTest, FailedStatementAbortsTransactionOnBothBackends) {
  ASSERT_OK(Script("CREATE TABLE t (id BIGINT PRIMARY KEY)"));
  ASSERT_OK(Exec("INSERT INTO t (id) VALUES (1)"));
  Status s = db_->Transact(TxMode::kWrite, [](Connection& c) -> Status {
    EXPECT_TRUE(c.Execute("INSERT INTO t (id) VALUES (2)").has_value());
    auto dup = c.Execute("INSERT INTO t (id) VALUES (1)");
    EXPECT_EQ(dup.error().code(), ErrorCode::kResourceAlreadyExists);
    // Later statements fail too (PostgreSQL semantics, emulated on SQLite).
    auto later = c.Execute("INSERT INTO t (id) VALUES (3)");
    EXPECT_FALSE(later.has_value());
    return Status::Ok();  // ignoring the failure does not commit anything
  });
  EXPECT_EQ(s.code(), ErrorCode::kResourceAlreadyExists) << s.ToString();
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM t"), 1);
}

TEST_P(SqlTest, ThrowingFnRollsBackAndReleasesTheConnection) {
  ASSERT_OK(Script("CREATE TABLE t (id BIGINT PRIMARY KEY)"));
  for (int i = 0; i < 3; ++i) {
    auto throwing = [&](Connection& c) -> Status {
      EXPECT_TRUE(c.Execute("INSERT INTO t (id) VALUES (?)", {int64_t{i}}).has_value());
      throw std::runtime_error("boom");
    };
    EXPECT_THROW((void)db_->Transact(TxMode::kWrite, throwing), std::runtime_error);
  }
  EXPECT_OK(Exec("INSERT INTO t (id) VALUES (10)"));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM t"), 1);
}

TEST_P(SqlTest, NestedTransactIsRejected) {
  Status inner;
  Status outer = db_->Transact(TxMode::kWrite, [&](Connection&) {
    inner = db_->Transact(TxMode::kRead, [](Connection&) { return Status::Ok(); });
    return Status::Ok();
  });
  EXPECT_OK(outer);
  EXPECT_EQ(inner.code(), ErrorCode::kInternalError);
}

TEST_P(SqlTest, ReadTransactionCannotWrite) {
  ASSERT_OK(Script("CREATE TABLE t (id BIGINT)"));
  Status s = db_->Transact(TxMode::kRead, [](Connection& c) -> Status {
    auto r = c.Execute("INSERT INTO t (id) VALUES (1)");
    return r.has_value() ? Status::Ok() : r.error();
  });
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM t"), 0);
  EXPECT_OK(Exec("INSERT INTO t (id) VALUES (1)"));  // the reader is still usable
}

TEST_P(SqlTest, WaitingForTheWriteSlotTimesOut) {
  DatabaseOptions options;
  options.pool_size = 1;  // PostgreSQL: the second writer waits for the only connection
  options.busy_timeout_ms = 200;
  auto db = OpenAnother(options);
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  std::promise<void> inside;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::thread holder([&] {
    Status s = (*db)->Transact(TxMode::kWrite, [&](Connection&) {
      inside.set_value();
      released.wait_for(10s);
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  });
  inside.get_future().wait();
  auto start = std::chrono::steady_clock::now();
  Status s = (*db)->Transact(TxMode::kWrite, [](Connection&) { return Status::Ok(); });
  auto waited = std::chrono::steady_clock::now() - start;
  release.set_value();
  holder.join();
  EXPECT_EQ(s.code(), ErrorCode::kTemporarilyUnavailable) << s.ToString();
  EXPECT_GE(waited, 150ms);
  EXPECT_LT(waited, 5s);
}

// ---------------------------------------------------------------- queries

TEST_P(SqlTest, QueryCallsBackOncePerRow) {
  ASSERT_OK(Script("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, note TEXT)"));
  ASSERT_OK(db_->Transact(TxMode::kWrite, [](Connection& c) -> Status {
    for (int64_t i = 0; i < 5; ++i) {
      std::string name = "n" + std::to_string(i);
      auto r = c.Execute(
          "INSERT INTO t (id, name, note) VALUES (?, ?, ?)",
          {i, std::string_view(name), i % 2 ? Param(std::string_view("odd")) : Param(nullptr)});
      if (!r.has_value()) return r.error();
    }
    return Status::Ok();
  }));
  std::vector<std::string> names;
  std::vector<bool> nulls;
  ASSERT_OK(db_->Transact(TxMode::kRead, [&](Connection& c) {
    return c.Query("SELECT name, note FROM t WHERE id >= ? ORDER BY id DESC", {int64_t{1}},
                   [&](const Row& row) {
                     EXPECT_EQ(row.size(), 2);
                     names.emplace_back(row.GetText(0));
                     nulls.push_back(row.IsNull(1));
                   });
  }));
  EXPECT_EQ(names, (std::vector<std::string>{"n4", "n3", "n2", "n1"}));
  EXPECT_EQ(nulls, (std::vector<bool>{true, false, true, false}));

  int calls = 0;
  ASSERT_OK(db_->Transact(TxMode::kRead, [&](Connection& c) {
    return c.Query("SELECT name FROM t WHERE id > 100", {}, [&](const Row&) { ++calls; });
  }));
  EXPECT_EQ(calls, 0);
  // No callback is fine too.
  EXPECT_OK(db_->Transact(
      TxMode::kRead, [&](Connection& c) { return c.Query("SELECT name FROM t", {}, nullptr); }));
}

TEST_P(SqlTest, ExecuteReturnsChangedRows) {
  ASSERT_OK(Script("CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT)"));
  ASSERT_OK(db_->Transact(TxMode::kWrite, [](Connection& c) -> Status {
    EXPECT_EQ(*c.Execute("INSERT INTO t (id, v) VALUES (1, 0), (2, 0), (3, 1)"), 3);
    EXPECT_EQ(*c.Execute("UPDATE t SET v = v + 1"), 3);
    EXPECT_EQ(*c.Execute("UPDATE t SET v = 5 WHERE id > ?", {int64_t{100}}), 0);
    EXPECT_EQ(*c.Execute("CREATE TABLE u (id BIGINT)"), 0);  // DDL changes no rows
    EXPECT_EQ(*c.Execute("DELETE FROM t WHERE v = ?", {int64_t{1}}), 2);
    EXPECT_EQ(*c.Execute("SELECT * FROM t"), 0);  // reads change nothing
    return Status::Ok();
  }));
}

TEST_P(SqlTest, UpsertAndReturning) {
  ASSERT_OK(Script("CREATE TABLE counters (name TEXT PRIMARY KEY, n BIGINT NOT NULL)"));
  ASSERT_OK(Script(sqlite() ? "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"
                            : "CREATE TABLE items (id BIGINT GENERATED BY DEFAULT AS IDENTITY "
                              "PRIMARY KEY, name TEXT)"));
  auto add = [&](int64_t delta) {
    int64_t n = -1;
    Status s = db_->Transact(TxMode::kWrite, [&](Connection& c) {
      return c.Query(
          "INSERT INTO counters (name, n) VALUES (?, ?) "
          "ON CONFLICT (name) DO UPDATE SET n = counters.n + excluded.n RETURNING n",
          {"c", delta}, [&](const Row& row) { n = row.GetInt(0); });
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return n;
  };
  EXPECT_EQ(add(5), 5);
  EXPECT_EQ(add(3), 8);

  ASSERT_OK(db_->Transact(TxMode::kWrite, [](Connection& c) -> Status {
    std::vector<int64_t> ids;
    for (std::string_view name : {"a", "b"}) {
      RETURN_IF_ERROR(c.Query("INSERT INTO items (name) VALUES (?) RETURNING id", {name},
                              [&](const Row& row) { ids.push_back(row.GetInt(0)); }));
    }
    EXPECT_EQ(ids, (std::vector<int64_t>{1, 2}));
    auto skipped = c.Execute(
        "INSERT INTO counters (name, n) VALUES (?, 1) ON CONFLICT (name) DO NOTHING", {"c"});
    EXPECT_EQ(*skipped, 0);
    auto returned = c.Execute("UPDATE counters SET n = n + 1 RETURNING n");
    EXPECT_EQ(*returned, 1);
    return Status::Ok();
  }));
  EXPECT_EQ(QueryInt("SELECT n FROM counters WHERE name = ?", {"c"}), 9);
}

TEST_P(SqlTest, LikeIsCaseSensitive) {
  ASSERT_OK(Script("CREATE TABLE t (name TEXT)"));
  ASSERT_OK(Exec("INSERT INTO t (name) VALUES ('Alice'), ('alice'), ('ALICE'), ('bob')"));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM t WHERE name LIKE 'a%'"), 1);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM t WHERE name LIKE 'A%'"), 2);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM t WHERE name LIKE ?", {"%lic%"}), 2);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM t WHERE name = ?", {"alice"}), 1);
}

TEST_P(SqlTest, ExecScriptRunsSeveralStatements) {
  ASSERT_OK(Script(R"(
      -- a comment; with a semicolon
      CREATE TABLE a (id BIGINT PRIMARY KEY, s TEXT);
      /* block; comment */
      INSERT INTO a (id, s) VALUES (1, 'x;y?');
      CREATE INDEX a_s ON a (s);
  )"));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM a WHERE s = 'x;y?'"), 1);
  Status bad = Script("CREATE TABLE b (id BIGINT); NOT SQL;");
  EXPECT_EQ(bad.code(), ErrorCode::kInternalError);
  // The whole script was rolled back with its transaction.
  Status gone = db_->Transact(
      TxMode::kRead, [](Connection& c) { return c.Query("SELECT * FROM b", {}, nullptr); });
  EXPECT_FALSE(gone.ok());
}

TEST_P(SqlTest, PreparedStatementsAreCachedPerConnection) {
  ASSERT_OK(Script("CREATE TABLE t (id BIGINT PRIMARY KEY)"));
  DatabaseStats before = db_->Stats();
  ASSERT_OK(db_->Transact(TxMode::kWrite, [](Connection& c) -> Status {
    for (int64_t i = 0; i < 50; ++i) {
      auto r = c.Execute("INSERT INTO t (id) VALUES (?)", {i});
      if (!r.has_value()) return r.error();
    }
    return Status::Ok();
  }));
  DatabaseStats after = db_->Stats();
  EXPECT_EQ(after.statements_prepared - before.statements_prepared, 1);
  EXPECT_EQ(after.statement_cache_hits - before.statement_cache_hits, 49);
  EXPECT_EQ(after.transactions - before.transactions, 1);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM t"), 50);
}

TEST_P(SqlTest, StatementCacheEvictsAndReprepares) {
  DatabaseOptions options;
  options.pool_size = 1;
  options.statement_cache_size = 4;
  auto db = OpenAnother(options);
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  auto run_distinct = [&] {
    return (*db)->Transact(TxMode::kWrite, [](Connection& c) -> Status {
      for (int k = 0; k < 10; ++k) {
        int64_t got = -1;
        RETURN_IF_ERROR(c.Query("SELECT " + std::to_string(k) + " + ?", {int64_t{1}},
                                [&](const Row& row) { got = row.GetInt(0); }));
        EXPECT_EQ(got, k + 1);
      }
      return Status::Ok();
    });
  };
  ASSERT_OK(run_distinct());
  DatabaseStats mid = (*db)->Stats();
  ASSERT_OK(run_distinct());  // most were evicted (and deallocated) in between
  DatabaseStats end = (*db)->Stats();
  EXPECT_GE(end.statements_prepared - mid.statements_prepared, 7);
  if (!sqlite()) {
    int64_t server_side = QueryInt(**db, "SELECT COUNT(*) FROM pg_prepared_statements");
    EXPECT_LE(server_side, 5);  // trimmed back (and DEALLOCATEd) after each transaction
  }
}

// ---------------------------------------------------------------- concurrency

TEST_P(SqlTest, ConcurrentWritersNeverLoseAWrite) {
  ASSERT_OK(
      Script("CREATE TABLE counters (name TEXT PRIMARY KEY, n BIGINT NOT NULL);"
             "CREATE TABLE log (thread BIGINT, i BIGINT, PRIMARY KEY (thread, i));"
             "INSERT INTO counters (name, n) VALUES ('c', 0)"));
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Status s = db_->Transact(TxMode::kWrite, [&](Connection& c) -> Status {
          auto r = c.Execute("UPDATE counters SET n = n + 1 WHERE name = ?", {"c"});
          if (!r.has_value()) return r.error();
          if (*r != 1) return Internal("counter row missing");
          r = c.Execute("INSERT INTO log (thread, i) VALUES (?, ?)", {int64_t{t}, int64_t{i}});
          return r.has_value() ? Status::Ok() : r.error();
        });
        if (!s.ok()) {
          ADD_FAILURE() << s.ToString();
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(QueryInt("SELECT n FROM counters WHERE name = 'c'"), kThreads * kPerThread);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM log"), kThreads * kPerThread);
}

TEST_P(SqlTest, ReadersAreNotBlockedByAnOpenWriter) {
  ASSERT_OK(Script("CREATE TABLE t (id BIGINT PRIMARY KEY)"));
  ASSERT_OK(Exec("INSERT INTO t (id) VALUES (1)"));
  std::promise<void> inside;
  std::promise<void> reader_done;
  std::shared_future<void> done = reader_done.get_future().share();
  std::thread writer([&] {
    Status s = db_->Transact(TxMode::kWrite, [&](Connection& c) -> Status {
      auto r = c.Execute("INSERT INTO t (id) VALUES (2)");
      if (!r.has_value()) return r.error();
      inside.set_value();
      if (done.wait_for(10s) != std::future_status::ready) return Internal("reader was blocked");
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  });
  inside.get_future().wait();
  // The uncommitted row is invisible, and the read does not wait for the writer.
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM t"), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  reader_done.set_value();
  writer.join();
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM t"), 2);
}

TEST_P(SqlTest, ReadersSeeConsistentSnapshotsWhileWriting) {
  ASSERT_OK(Script("CREATE TABLE pairs (k BIGINT, side TEXT)"));
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int> reads{0};
  std::thread writer([&] {
    for (int64_t k = 0; k < 300; ++k) {
      Status s = db_->Transact(TxMode::kWrite, [&](Connection& c) -> Status {
        for (std::string_view side : {"a", "b"}) {
          auto r = c.Execute("INSERT INTO pairs (k, side) VALUES (?, ?)", {k, side});
          if (!r.has_value()) return r.error();
        }
        return Status::Ok();
      });
      if (!s.ok()) {
        ADD_FAILURE() << s.ToString();
        ++failures;
      }
    }
    stop = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      int64_t last = 0;
      while (!stop) {
        int64_t a = -1, b = -2;
        Status s = db_->Transact(TxMode::kRead, [&](Connection& c) -> Status {
          RETURN_IF_ERROR(c.Query("SELECT COUNT(*) FROM pairs WHERE side = 'a'", {},
                                  [&](const Row& row) { a = row.GetInt(0); }));
          return c.Query("SELECT COUNT(*) FROM pairs WHERE side = 'b'", {},
                         [&](const Row& row) { b = row.GetInt(0); });
        });
        if (!s.ok() || a != b || a < last) {
          ADD_FAILURE() << s.ToString() << " a=" << a << " b=" << b << " last=" << last;
          ++failures;
          return;
        }
        last = a;
        ++reads;
      }
    });
  }
  writer.join();
  for (auto& th : readers) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM pairs"), 600);
}

// ---------------------------------------------------------------- migrations

const Migration kMigrations[] = {
    {1, "create a", "CREATE TABLE a (id BIGINT PRIMARY KEY, name TEXT NOT NULL)", {}, {}},
    {2,
     "create b",
     {},
     "CREATE TABLE b (id INTEGER PRIMARY KEY, a_id BIGINT REFERENCES a (id)); "
     "CREATE INDEX b_a ON b (a_id)",
     "CREATE TABLE b (id BIGSERIAL PRIMARY KEY, a_id BIGINT REFERENCES a (id)); "
     "CREATE INDEX b_a ON b (a_id)"},
    {3, "seed a", "INSERT INTO a (id, name) VALUES (1, 'seed')", {}, {}},
};

TEST_P(SqlTest, MigrationsApplyOnceInOrder) {
  FakeClock clock(1'234'567);
  DatabaseOptions options;
  options.clock = &clock;
  auto opened = OpenAnother(options);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  Database& db = **opened;

  EXPECT_EQ(*db.SchemaVersion("test"), 0);
  ASSERT_OK(db.Migrate("test", std::span(kMigrations).first(2)));
  EXPECT_EQ(*db.SchemaVersion("test"), 2);
  // Idempotent: the non-idempotent DDL is not run again.
  ASSERT_OK(db.Migrate("test", std::span(kMigrations).first(2)));
  ASSERT_OK(db.Migrate("test", kMigrations));
  ASSERT_OK(db.Migrate("test", kMigrations));
  EXPECT_EQ(*db.SchemaVersion("test"), 3);
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM a"), 1);
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM schema_migrations WHERE component = 'test'"), 3);
  EXPECT_EQ(QueryInt(db, "SELECT MIN(applied_at) FROM schema_migrations"), 1'234'567);
  std::vector<std::string> names;
  ASSERT_OK(db.Transact(TxMode::kRead, [&](Connection& c) {
    return c.Query("SELECT name FROM schema_migrations WHERE component = ? ORDER BY version",
                   {"test"}, [&](const Row& row) { names.emplace_back(row.GetText(0)); });
  }));
  EXPECT_EQ(names, (std::vector<std::string>{"create a", "create b", "seed a"}));

  // Components are independent.
  const Migration other[] = {{1, "other", "CREATE TABLE other_t (id BIGINT)", {}, {}}};
  ASSERT_OK(db.Migrate("other", other));
  EXPECT_EQ(*db.SchemaVersion("other"), 1);
  EXPECT_EQ(*db.SchemaVersion("test"), 3);
}

TEST_P(SqlTest, FailedMigrationLeavesNoTrace) {
  ASSERT_OK(db_->Migrate("test", kMigrations));
  const Migration more[] = {kMigrations[0],
                            kMigrations[1],
                            kMigrations[2],
                            {4, "broken", "CREATE TABLE c (id BIGINT); THIS IS NOT SQL", {}, {}}};
  Status s = db_->Migrate("test", more);
  EXPECT_EQ(s.code(), ErrorCode::kInternalError);
  EXPECT_NE(s.message().find("migration test/4 (broken) failed"), std::string::npos) << s.message();
  EXPECT_EQ(*db_->SchemaVersion("test"), 3);
  Status c_exists = db_->Transact(
      TxMode::kRead, [](Connection& c) { return c.Query("SELECT * FROM c", {}, nullptr); });
  EXPECT_FALSE(c_exists.ok());

  const Migration unordered[] = {kMigrations[1], kMigrations[0]};
  EXPECT_EQ(db_->Migrate("test2", unordered).code(), ErrorCode::kInternalError);
  const Migration no_sql[] = {{1, "empty", {}, {}, {}}};
  EXPECT_EQ(db_->Migrate("test3", no_sql).code(), ErrorCode::kInternalError);
}

TEST_P(SqlTest, SchemaNewerThanCodeIsAnError) {
  ASSERT_OK(db_->Migrate("test", kMigrations));
  Status s = db_->Migrate("test", std::span(kMigrations).first(2));
  EXPECT_EQ(s.code(), ErrorCode::kInternalError);
  EXPECT_EQ(s.message(),
            "database schema is newer than this mlforge (component test at version 3, code knows "
            "2); upgrade mlforge");
  EXPECT_EQ(*db_->SchemaVersion("test"), 3);
}

TEST_P(SqlTest, ConcurrentMigrateAppliesEachMigrationOnce) {
  // Two Database objects stand for two processes starting at once.
  for (int round = 0; round < 4; ++round) {
    std::string component = "race" + std::to_string(round);
    std::string table = "race_t" + std::to_string(round);
    std::string create = "CREATE TABLE " + table + " (id BIGINT PRIMARY KEY, v TEXT)";
    std::string seed = "INSERT INTO " + table + " (id, v) VALUES (1, 'seed')";
    std::string alter = "ALTER TABLE " + table + " ADD COLUMN w BIGINT";
    const Migration migrations[] = {
        {1, "create", create, {}, {}}, {2, "seed", seed, {}, {}}, {3, "alter", alter, {}, {}}};
    auto db1 = OpenAnother();
    auto db2 = OpenAnother();
    ASSERT_TRUE(db1.has_value() && db2.has_value());
    std::promise<void> go;
    std::shared_future<void> start = go.get_future().share();
    Status s1, s2;
    std::thread t1([&] {
      start.wait();
      s1 = (*db1)->Migrate(component, migrations);
    });
    std::thread t2([&] {
      start.wait();
      s2 = (*db2)->Migrate(component, migrations);
    });
    go.set_value();
    t1.join();
    t2.join();
    EXPECT_TRUE(s1.ok()) << s1.ToString();
    EXPECT_TRUE(s2.ok()) << s2.ToString();
    EXPECT_EQ(*db_->SchemaVersion(component), 3);
    EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM " + table), 1);
    EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM schema_migrations WHERE component = ?",
                       {std::string_view(component)}),
              3);
  }
}

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "SQLite" : "PostgreSQL";
}

INSTANTIATE_TEST_SUITE_P(Backends, SqlTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         BackendName);

}  // namespace
}  // namespace mlforge::sql

// PostgreSQL-only behaviour: lost connections, deadlock retries, plans
// invalidated by schema changes, URI spellings.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "support/scratch_database.h"
#include "sql/sql.h"

namespace mlforge::sql {
namespace {

using namespace std::chrono_literals;
using testing::ScratchDatabase;

class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::PgAdminUri().empty()) {
      if (testing::PgOptedOut()) GTEST_SKIP() << "PostgreSQL disabled by MLFORGE_TEST_PG=off";
      FAIL() << testing::kPgHowTo;
    }
    auto scratch = ScratchDatabase::Create(Backend::kPostgres);
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

  Status Script(Database& db, std::string_view sql) {
    return db.Transact(TxMode::kWrite, [&](Connection& c) { return c.ExecScript(sql); });
  }
  int64_t QueryInt(Database& db, std::string_view sql) {
    int64_t v = -1;
    Status s = db.Transact(TxMode::kRead, [&](Connection& c) {
      return c.Query(sql, {}, [&](const Row& row) { v = row.GetInt(0); });
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return v;
  }

  std::unique_ptr<ScratchDatabase> scratch_;
  std::unique_ptr<Database> db_;
};

TEST_F(PostgresTest, TerminatedConnectionIsReplacedAndTheTransactionRetried) {
  DatabaseOptions options;
  options.pool_size = 1;
  auto opened = scratch_->Open(options);
  ASSERT_TRUE(opened.has_value());
  Database& db = **opened;
  ASSERT_OK(Script(db, "CREATE TABLE t (id BIGINT)"));

  // Killed while idle in the pool: noticed before use, replaced, no retry.
  for (int round = 0; round < 2; ++round) {
    int64_t pid = QueryInt(db, "SELECT pg_backend_pid()");
    ASSERT_GT(pid, 0);
    Status killed = db_->Transact(TxMode::kWrite, [&](Connection& c) {
      return c.Query("SELECT pg_terminate_backend(CAST(? AS INTEGER))", {pid}, nullptr);
    });
    ASSERT_TRUE(killed.ok()) << killed.ToString();
    std::this_thread::sleep_for(100ms);
    int attempts = 0;
    DatabaseStats before = db.Stats();
    Status s = db.Transact(TxMode::kWrite, [&](Connection& c) -> Status {
      ++attempts;
      auto r = c.Execute("INSERT INTO t (id) VALUES (?)", {int64_t{round}});
      return r.has_value() ? Status::Ok() : r.error();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(attempts, 1);
    EXPECT_EQ(db.Stats().retries - before.retries, 0);
    EXPECT_EQ(db.Stats().connections_opened - before.connections_opened, 1);
    EXPECT_NE(QueryInt(db, "SELECT pg_backend_pid()"), pid);
  }

  // Killed while fn runs: the statement fails, the transaction is retried on a
  // new connection.
  int attempts = 0;
  DatabaseStats before = db.Stats();
  Status s = db.Transact(TxMode::kWrite, [&](Connection& c) -> Status {
    ++attempts;
    int64_t pid = -1;
    RETURN_IF_ERROR(
        c.Query("SELECT pg_backend_pid()", {}, [&](const Row& row) { pid = row.GetInt(0); }));
    if (attempts == 1) {
      Status k = db_->Transact(TxMode::kWrite, [&](Connection& other) {
        return other.Query("SELECT pg_terminate_backend(CAST(? AS INTEGER))", {pid}, nullptr);
      });
      EXPECT_TRUE(k.ok()) << k.ToString();
      std::this_thread::sleep_for(100ms);
    }
    auto r = c.Execute("INSERT INTO t (id) VALUES (99)");
    return r.has_value() ? Status::Ok() : r.error();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(db.Stats().retries - before.retries, 1);
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM t WHERE id = 99"), 1);
}

TEST_F(PostgresTest, DeadlockVictimIsRetried) {
  ASSERT_OK(Script(*db_,
                   "CREATE TABLE t (id BIGINT PRIMARY KEY, n BIGINT);"
                   "INSERT INTO t VALUES (1, 0), (2, 0)"));
  // Two transactions lock rows 1,2 and 2,1; both wait at a barrier after the
  // first lock on their first attempt, so the server must pick a victim. The
  // victim's retry waits until the other has committed: retried at once, it
  // could take row 1 (its own aborted update no longer locks it) ahead of the
  // other transaction queued on it, and deadlock a second time.
  std::promise<void> a_locked, b_locked, a_done, b_done;
  std::shared_future<void> a_ready = a_locked.get_future().share();
  std::shared_future<void> b_ready = b_locked.get_future().share();
  std::shared_future<void> a_finished = a_done.get_future().share();
  std::shared_future<void> b_finished = b_done.get_future().share();
  auto run = [&](int64_t first, int64_t second, std::promise<void>& mine,
                 std::shared_future<void> theirs, std::promise<void>& done,
                 std::shared_future<void> theirs_done) {
    int attempts = 0;
    Status s = db_->Transact(TxMode::kWrite, [&](Connection& c) -> Status {
      ++attempts;
      if (attempts > 1) theirs_done.wait_for(10s);
      auto r = c.Execute("UPDATE t SET n = n + 1 WHERE id = ?", {first});
      if (!r.has_value()) return r.error();
      if (attempts == 1) {
        mine.set_value();
        theirs.wait_for(10s);
      }
      r = c.Execute("UPDATE t SET n = n + 1 WHERE id = ?", {second});
      return r.has_value() ? Status::Ok() : r.error();
    });
    done.set_value();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return attempts;
  };
  DatabaseStats before = db_->Stats();
  auto fa = std::async(std::launch::async, run, 1, 2, std::ref(a_locked), b_ready,
                       std::ref(a_done), b_finished);
  auto fb = std::async(std::launch::async, run, 2, 1, std::ref(b_locked), a_ready,
                       std::ref(b_done), a_finished);
  int total_attempts = fa.get() + fb.get();
  EXPECT_EQ(total_attempts, 3);  // exactly one victim, retried once
  EXPECT_EQ(db_->Stats().retries - before.retries, 1);
  EXPECT_EQ(QueryInt(*db_, "SELECT SUM(n) FROM t"), 4);
}

TEST_F(PostgresTest, CachedPlanInvalidatedBySchemaChangeIsReprepared) {
  DatabaseOptions options;
  options.pool_size = 1;
  auto opened = scratch_->Open(options);
  ASSERT_TRUE(opened.has_value());
  Database& db = **opened;
  ASSERT_OK(Script(db, "CREATE TABLE t (a BIGINT); INSERT INTO t VALUES (1)"));
  auto columns = [&] {
    int n = -1;
    Status s = db.Transact(TxMode::kRead, [&](Connection& c) {
      return c.Query("SELECT * FROM t", {}, [&](const Row& row) { n = row.size(); });
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return n;
  };
  EXPECT_EQ(columns(), 1);
  // Another process migrates the table under the cached statement.
  ASSERT_OK(Script(*db_, "ALTER TABLE t ADD COLUMN b TEXT"));
  DatabaseStats before = db.Stats();
  EXPECT_EQ(columns(), 2);
  EXPECT_EQ(db.Stats().retries - before.retries, 1);  // "cached plan must not change result type"
  EXPECT_EQ(columns(), 2);
  EXPECT_EQ(db.Stats().retries - before.retries, 1);
}

TEST_F(PostgresTest, UriSpellingsAndBadCredentials) {
  std::string uri = scratch_->uri();
  std::string rest = uri.substr(uri.find("://"));
  for (std::string scheme : {"postgres", "postgresql+psycopg2", "POSTGRESQL"}) {
    auto db = Database::Open(scheme + rest);
    ASSERT_TRUE(db.has_value()) << scheme << ": " << db.error().ToString();
    EXPECT_EQ((*db)->backend(), Backend::kPostgres);
    EXPECT_EQ(QueryInt(**db, "SELECT 1"), 1);
  }
  // Wrong password: fails at Open, and the message does not leak it.
  size_t colon = uri.find(':', uri.find("://") + 3);
  size_t at = uri.find('@');
  ASSERT_NE(colon, std::string::npos);
  std::string wrong = uri.substr(0, colon + 1) + "wrong-secret" + uri.substr(at);
  auto bad = Database::Open(wrong);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kTemporarilyUnavailable);
  EXPECT_EQ(bad.error().message().find("wrong-secret"), std::string::npos) << bad.error().message();
  EXPECT_NE(bad.error().message().find("***"), std::string::npos) << bad.error().message();
}

TEST_F(PostgresTest, TypedParametersWorkAgainstNarrowerColumns) {
  ASSERT_OK(
      Script(*db_, "CREATE TABLE t (small INTEGER, f REAL, flag SMALLINT, name VARCHAR(20))"));
  Status s = db_->Transact(TxMode::kWrite, [](Connection& c) -> Status {
    auto r = c.Execute("INSERT INTO t (small, f, flag, name) VALUES (?, ?, ?, ?)",
                       {int64_t{7}, 2.5, int64_t{1}, "x"});
    if (!r.has_value()) return r.error();
    int64_t n = -1;
    RETURN_IF_ERROR(c.Query("SELECT COUNT(*) FROM t WHERE small = ? AND f > ? AND flag = ?",
                            {int64_t{7}, 2.0, int64_t{1}},
                            [&](const Row& row) { n = row.GetInt(0); }));
    EXPECT_EQ(n, 1);
    // Out of range for INTEGER: an error, not a silent wrap.
    r = c.Execute("INSERT INTO t (small) VALUES (?)", {int64_t{1} << 40});
    EXPECT_FALSE(r.has_value());
    return Status::Ok();
  });
  EXPECT_FALSE(s.ok());  // the failed insert aborted the transaction
}

}  // namespace
}  // namespace mlforge::sql

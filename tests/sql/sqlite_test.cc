// SQLite-only behaviour: durability across kill -9, :memory:, paths, and
// contention with another process.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <future>
#include <set>
#include <stdexcept>
#include <thread>

#include "support/scratch_database.h"
#include "sql/sql.h"

namespace mlforge::sql {
namespace {

using namespace std::chrono_literals;
using testing::ScratchDatabase;

int64_t CountRows(Database& db, std::string_view table) {
  int64_t n = -1;
  Status s = db.Transact(TxMode::kRead, [&](Connection& c) {
    return c.Query("SELECT COUNT(*) FROM " + std::string(table), {},
                   [&](const Row& row) { n = row.GetInt(0); });
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return n;
}

Status Script(Database& db, std::string_view sql) {
  return db.Transact(TxMode::kWrite, [&](Connection& c) { return c.ExecScript(sql); });
}

TEST(SqliteDurability, AcknowledgedCommitsSurviveKillDashNine) {
  auto scratch = ScratchDatabase::Create(Backend::kSqlite);
  ASSERT_TRUE(scratch.has_value());
  {
    auto db = (*scratch)->Open();
    ASSERT_TRUE(db.has_value()) << db.error().ToString();
    ASSERT_OK(Script(**db, "CREATE TABLE acked (i BIGINT PRIMARY KEY, payload TEXT)"));
  }  // closed before fork: a child must not inherit open SQLite handles

  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Child: commit rows one transaction each; acknowledge each after commit.
    close(fds[0]);
    auto db = (*scratch)->Open();
    if (!db.has_value()) _exit(2);
    std::string payload(512, 'x');
    for (int64_t i = 0; i < 1'000'000; ++i) {
      Status s = (*db)->Transact(TxMode::kWrite, [&](Connection& c) -> Status {
        auto r = c.Execute("INSERT INTO acked (i, payload) VALUES (?, ?)",
                           {i, std::string_view(payload)});
        return r.has_value() ? Status::Ok() : r.error();
      });
      if (!s.ok()) _exit(3);
      if (write(fds[1], &i, sizeof i) != sizeof i) _exit(4);
    }
    _exit(0);
  }
  close(fds[1]);
  std::set<int64_t> acknowledged;
  constexpr size_t kKillAfter = 500;
  bool killed = false;
  for (;;) {
    pollfd pfd{fds[0], POLLIN, 0};
    int ready = poll(&pfd, 1, 30'000);
    ASSERT_GT(ready, 0) << "child stopped acknowledging";
    int64_t i = 0;
    ssize_t n = read(fds[0], &i, sizeof i);
    if (n == 0) break;  // EOF: the child is gone and the pipe drained
    ASSERT_EQ(n, static_cast<ssize_t>(sizeof i));
    acknowledged.insert(i);
    if (!killed && acknowledged.size() >= kKillAfter) {
      ASSERT_EQ(kill(child, SIGKILL), 0);  // mid-stream, likely mid-transaction
      killed = true;
    }
  }
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child exited on its own with status " << status;
  ASSERT_GE(acknowledged.size(), kKillAfter);

  auto db = (*scratch)->Open();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  std::set<int64_t> present;
  ASSERT_OK((*db)->Transact(TxMode::kRead, [&](Connection& c) {
    return c.Query("SELECT i FROM acked", {},
                   [&](const Row& row) { present.insert(row.GetInt(0)); });
  }));
  for (int64_t i : acknowledged) {
    ASSERT_TRUE(present.count(i)) << "acknowledged row " << i << " was lost";
  }
  // At most the one transaction in flight at the kill may have committed
  // without its acknowledgement.
  EXPECT_LE(present.size(), acknowledged.size() + 1);
}

TEST(SqliteMemory, WorksWithConcurrentTransactionsAndIsPrivate) {
  for (std::string_view uri : {"sqlite:///:memory:", "sqlite://"}) {
    auto a = Database::Open(uri);
    auto b = Database::Open(uri);
    ASSERT_TRUE(a.has_value()) << a.error().ToString();
    ASSERT_TRUE(b.has_value());
    ASSERT_OK(Script(**a, "CREATE TABLE t (id BIGINT PRIMARY KEY)"));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 50; ++i) {
          Status w = (*a)->Transact(TxMode::kWrite, [&](Connection& c) -> Status {
            auto r = c.Execute("INSERT INTO t (id) VALUES (?)", {int64_t{t * 1000 + i}});
            return r.has_value() ? Status::Ok() : r.error();
          });
          EXPECT_TRUE(w.ok()) << w.ToString();
          EXPECT_GE(CountRows(**a, "t"), 1);
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(CountRows(**a, "t"), 200);
    // kRead is read-only here too.
    Status s = (*a)->Transact(TxMode::kRead, [](Connection& c) -> Status {
      auto r = c.Execute("INSERT INTO t (id) VALUES (-1)");
      return r.has_value() ? Status::Ok() : r.error();
    });
    EXPECT_FALSE(s.ok());
    EXPECT_OK((*a)->Transact(TxMode::kWrite, [](Connection& c) -> Status {
      auto r = c.Execute("INSERT INTO t (id) VALUES (-2)");
      return r.has_value() ? Status::Ok() : r.error();
    }));
    // A read that throws does not leave the connection read-only.
    EXPECT_THROW((void)(*a)->Transact(TxMode::kRead,
                                      [](Connection&) -> Status { throw std::runtime_error("x"); }),
                 std::runtime_error);
    EXPECT_OK((*a)->Transact(TxMode::kWrite, [](Connection& c) -> Status {
      auto r = c.Execute("INSERT INTO t (id) VALUES (-3)");
      return r.has_value() ? Status::Ok() : r.error();
    }));
    // Another Database has its own, empty memory database.
    Status other = (*b)->Transact(
        TxMode::kRead, [](Connection& c) { return c.Query("SELECT * FROM t", {}, nullptr); });
    EXPECT_FALSE(other.ok());
  }
}

TEST(SqlitePaths, RelativePathIsUnderTheWorkingDirectoryAndParentsAreCreated) {
  auto scratch = ScratchDatabase::Create(Backend::kSqlite);
  ASSERT_TRUE(scratch.has_value());
  std::filesystem::path previous = std::filesystem::current_path();
  std::filesystem::current_path((*scratch)->dir());
  auto db = Database::Open("sqlite:///nested/dir/rel.db");
  std::filesystem::current_path(previous);
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  EXPECT_TRUE(std::filesystem::exists((*scratch)->dir() / "nested" / "dir" / "rel.db"));

  std::filesystem::path absolute = (*scratch)->dir() / "abs" / "x.db";
  auto db2 = Database::Open("sqlite:///" + absolute.string());  // sqlite:////tmp/...
  ASSERT_TRUE(db2.has_value()) << db2.error().ToString();
  EXPECT_TRUE(std::filesystem::exists(absolute));
  EXPECT_EQ((*db2)->backend(), Backend::kSqlite);
}

TEST(SqliteContention, AnotherProcessHoldingTheWriteLockIsRetriedThenUnavailable) {
  auto scratch = ScratchDatabase::Create(Backend::kSqlite);
  ASSERT_TRUE(scratch.has_value());
  auto holder_db = (*scratch)->Open();
  ASSERT_TRUE(holder_db.has_value());
  ASSERT_OK(Script(**holder_db, "CREATE TABLE t (id BIGINT)"));
  DatabaseOptions impatient;
  impatient.busy_timeout_ms = 50;
  impatient.max_retries = 2;
  // A second Database has its own writer connection, like another process.
  auto other = (*scratch)->Open(impatient);
  ASSERT_TRUE(other.has_value());

  std::promise<void> inside;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::thread holder([&] {
    Status s = (*holder_db)->Transact(TxMode::kWrite, [&](Connection&) {
      inside.set_value();
      released.wait_for(10s);
      return Status::Ok();
    });
    EXPECT_OK(s);
  });
  inside.get_future().wait();
  DatabaseStats before = (*other)->Stats();
  Status blocked = (*other)->Transact(TxMode::kWrite, [](Connection& c) -> Status {
    auto r = c.Execute("INSERT INTO t (id) VALUES (1)");
    return r.has_value() ? Status::Ok() : r.error();
  });
  EXPECT_EQ(blocked.code(), ErrorCode::kTemporarilyUnavailable) << blocked.ToString();
  EXPECT_EQ((*other)->Stats().retries - before.retries, 2);
  // Readers of the other process are not blocked meanwhile.
  EXPECT_EQ(CountRows(**other, "t"), 0);
  release.set_value();
  holder.join();

  // Once the lock is free, a retry succeeds: start a write while the lock is
  // held briefly.
  DatabaseOptions patient;
  patient.busy_timeout_ms = 20;
  patient.max_retries = 50;
  auto retrying = (*scratch)->Open(patient);
  ASSERT_TRUE(retrying.has_value());
  std::promise<void> inside2;
  std::thread brief([&] {
    Status s = (*holder_db)->Transact(TxMode::kWrite, [&](Connection&) {
      inside2.set_value();
      std::this_thread::sleep_for(150ms);
      return Status::Ok();
    });
    EXPECT_OK(s);
  });
  inside2.get_future().wait();
  Status eventually = (*retrying)->Transact(TxMode::kWrite, [](Connection& c) -> Status {
    auto r = c.Execute("INSERT INTO t (id) VALUES (2)");
    return r.has_value() ? Status::Ok() : r.error();
  });
  brief.join();
  EXPECT_TRUE(eventually.ok()) << eventually.ToString();
  EXPECT_GT((*retrying)->Stats().retries, 0);
  EXPECT_EQ(CountRows(**holder_db, "t"), 1);
}

TEST(SqlitePragmas, AreSetOnWriterAndReaderConnections) {
  auto scratch = ScratchDatabase::Create(Backend::kSqlite);
  ASSERT_TRUE(scratch.has_value());
  auto db = (*scratch)->Open();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  for (TxMode mode : {TxMode::kWrite, TxMode::kRead}) {
    std::string journal;
    int64_t synchronous = -1, foreign_keys = -1;
    ASSERT_OK((*db)->Transact(mode, [&](Connection& c) -> Status {
      RETURN_IF_ERROR(
          c.Query("PRAGMA journal_mode", {}, [&](const Row& row) { journal = row.GetText(0); }));
      RETURN_IF_ERROR(
          c.Query("PRAGMA synchronous", {}, [&](const Row& row) { synchronous = row.GetInt(0); }));
      return c.Query("PRAGMA foreign_keys", {},
                     [&](const Row& row) { foreign_keys = row.GetInt(0); });
    }));
    EXPECT_EQ(journal, "wal");
    EXPECT_EQ(synchronous, 1);  // NORMAL
    EXPECT_EQ(foreign_keys, 1);
  }
}

// Writers that queue behind a running write share one COMMIT; inside the
// group each keeps its own outcome: an error or an exception rolls back that
// writer's statements only, and the others commit.
TEST(SqliteGroupCommit, QueuedWritersShareOneCommitAndFailAlone) {
  auto scratch = ScratchDatabase::Create(Backend::kSqlite);
  ASSERT_TRUE(scratch.has_value());
  auto opened = (*scratch)->Open();
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  Database& db = **opened;
  ASSERT_OK(Script(db, "CREATE TABLE t (k TEXT PRIMARY KEY)"));
  auto insert = [](Connection& c, std::string_view k) {
    return StatusOf(c.Execute("INSERT INTO t (k) VALUES (?)", {k}));
  };

  std::promise<void> inside;
  std::promise<void> release;
  std::thread holder([&] {
    ASSERT_OK(db.Transact(TxMode::kWrite, [&](Connection& c) -> Status {
      RETURN_IF_ERROR(insert(c, "held"));
      inside.set_value();
      release.get_future().wait();
      return Status::Ok();
    }));
  });
  inside.get_future().wait();

  Status ok_a, duplicate, refused, ok_d;
  bool thrown = false;
  std::vector<std::thread> queued;
  queued.emplace_back([&] { ok_a = db.Transact(TxMode::kWrite, [&](Connection& c) { return insert(c, "a"); }); });
  queued.emplace_back([&] {
    duplicate = db.Transact(TxMode::kWrite, [&](Connection& c) -> Status {
      RETURN_IF_ERROR(insert(c, "dup-1"));
      return insert(c, "held");  // unique violation
    });
  });
  queued.emplace_back([&] {
    refused = db.Transact(TxMode::kWrite, [&](Connection& c) -> Status {
      RETURN_IF_ERROR(insert(c, "refused-1"));
      return InvalidArgument("refused by the caller");
    });
  });
  queued.emplace_back([&] {
    try {
      (void)db.Transact(TxMode::kWrite, [&](Connection& c) -> Status {
        RETURN_IF_ERROR(insert(c, "thrown-1"));
        throw std::runtime_error("boom");
      });
    } catch (const std::runtime_error&) {
      thrown = true;
    }
  });
  queued.emplace_back([&] { ok_d = db.Transact(TxMode::kWrite, [&](Connection& c) { return insert(c, "d"); }); });
  std::this_thread::sleep_for(500ms);  // all five reach the queue behind the holder
  release.set_value();
  holder.join();
  for (std::thread& t : queued) t.join();

  EXPECT_TRUE(ok_a.ok()) << ok_a.ToString();
  EXPECT_EQ(duplicate.code(), ErrorCode::kResourceAlreadyExists) << duplicate.ToString();
  EXPECT_EQ(refused.code(), ErrorCode::kInvalidParameterValue) << refused.ToString();
  EXPECT_TRUE(thrown);
  EXPECT_TRUE(ok_d.ok()) << ok_d.ToString();
  std::set<std::string> keys;
  ASSERT_OK(db.Transact(TxMode::kRead, [&](Connection& c) {
    return c.Query("SELECT k FROM t", {}, [&](const Row& r) { keys.emplace(r.GetText(0)); });
  }));
  EXPECT_EQ(keys, (std::set<std::string>{"a", "d", "held"}));
  DatabaseStats stats = db.Stats();
  EXPECT_EQ(stats.group_commits, 1);
  EXPECT_EQ(stats.grouped_transactions, 5);
}

TEST(SqliteTypes, InfinityInATextColumnReadsBackAsDouble) {
  auto db = Database::Open("sqlite://");
  ASSERT_TRUE(db.has_value());
  ASSERT_OK(Script(**db, "CREATE TABLE t (v TEXT)"));
  ASSERT_OK((*db)->Transact(TxMode::kWrite, [](Connection& c) -> Status {
    auto r = c.Execute("INSERT INTO t (v) VALUES (?), (?), (?)", {HUGE_VAL, -HUGE_VAL, 2.5});
    return r.has_value() ? Status::Ok() : r.error();
  }));
  std::vector<double> got;
  ASSERT_OK((*db)->Transact(TxMode::kRead, [&](Connection& c) {
    return c.Query("SELECT v FROM t ORDER BY rowid", {},
                   [&](const Row& row) { got.push_back(row.GetDouble(0)); });
  }));
  EXPECT_EQ(got, (std::vector<double>{HUGE_VAL, -HUGE_VAL, 2.5}));
}

}  // namespace
}  // namespace mlforge::sql

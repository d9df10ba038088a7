// bench/tracking: load against a running tracking server (mlforge, or the
// Python MLflow server as a peer), beside the raw storage library doing the
// same writes and reads in-process (sqlite3 / libpq): the limit a server on
// that storage can approach. Prints one line per figure and the ratios.
//
//   tracking_bench --port P [--host H] [--threads 8] [--seconds 5]
//                  [--raw-sqlite FILE | --raw-pg URI] [--label NAME]
//                  [--scenarios log-metric,log-batch,search,history]
//
// The load generator is C++ with keep-alive connections; pin it and the
// server to different cores (scripts/run-bench.sh does) so it is not the
// bottleneck.
#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/json.h"
#include "http/http.h"

namespace {

using Clock = std::chrono::steady_clock;
using mlforge::http::Client;

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  int threads = 8;
  double seconds = 5;
  std::string raw_sqlite;
  std::string raw_pg;
  std::string label = "server";
  std::string scenarios = "log-metric,log-batch,search,history";
  int search_runs = 10000;
  int history_points = 100000;
};

struct Stats {
  double per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  int64_t count = 0;
  int64_t errors = 0;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t idx = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[idx];
}

// Runs fn from `threads` threads for `seconds`; fn returns false on error.
Stats RunLoad(int threads, double seconds, const std::function<bool(int, int64_t)>& fn) {
  std::vector<std::vector<double>> latencies(threads);
  std::atomic<int64_t> errors{0};
  auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int64_t i = 0; Clock::now() < deadline; ++i) {
        auto t0 = Clock::now();
        bool ok = fn(t, i);
        latencies[t].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!ok) errors++;
      }
    });
  }
  for (auto& th : pool) th.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  Stats s;
  s.count = static_cast<int64_t>(all.size());
  s.errors = errors.load();
  s.per_second = all.size() / elapsed;
  s.p50_ms = Percentile(all, 0.50);
  s.p99_ms = Percentile(all, 0.99);
  return s;
}

// Times n sequential calls of fn; returns per-call latency stats.
Stats RunSequential(int n, const std::function<bool()>& fn) {
  std::vector<double> lat;
  int64_t errors = 0;
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    if (!fn()) errors++;
    lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  Stats s;
  s.count = n;
  s.errors = errors;
  s.per_second = n / elapsed;
  s.p50_ms = Percentile(lat, 0.5);
  s.p99_ms = Percentile(lat, 0.99);
  return s;
}

std::string Post(Client& c, const std::string& path, const std::string& body, bool* ok) {
  auto r = c.PostJson(path, body);
  *ok = r.has_value() && r->status == 200;
  if (!*ok) {
    static std::atomic<int> shown{0};
    if (shown++ < 3) {
      std::fprintf(stderr, "request failed: %s -> %s\n", path.c_str(),
                   r ? (std::to_string(r->status) + " " + r->body.substr(0, 200)).c_str()
                     : r.error().ToString().c_str());
    }
    return "";
  }
  return r->body;
}

std::string NewRun(Client& c, const std::string& experiment_id) {
  bool ok = false;
  std::string body = Post(c, "/api/2.0/mlflow/runs/create",
                          R"({"experiment_id":")" + experiment_id + R"(","start_time":)" +
                              std::to_string(1700000000000LL) + "}",
                          &ok);
  if (!ok) return "";
  auto v = mlforge::json::Parse(body);
  return v->Find("run")->Find("info")->Find("run_id")->as_string();
}

std::string NewExperiment(Client& c, const std::string& name) {
  bool ok = false;
  std::string body = Post(c, "/api/2.0/mlflow/experiments/create", R"({"name":")" + name + "\"}", &ok);
  if (!ok) return "";
  return mlforge::json::Parse(body)->Find("experiment_id")->as_string();
}

std::string BatchBody(const std::string& run_id, const std::string& key, int64_t first_step, int n) {
  std::string body = R"({"run_id":")" + run_id + R"(","metrics":[)";
  for (int k = 0; k < n; ++k) {
    if (k) body += ',';
    int64_t step = first_step + k;
    body += R"({"key":")" + key + R"(","value":)" + std::to_string(0.001 * double(step % 1000)) +
            R"(,"timestamp":)" + std::to_string(1700000000000LL + step) + R"(,"step":)" +
            std::to_string(step) + "}";
  }
  body += "]}";
  return body;
}

void Print(const Options& o, const std::string& what, const Stats& s, const std::string& unit,
           double unit_factor = 1) {
  std::printf("%-10s %-34s %12.0f %-10s p50 %8.2f ms  p99 %8.2f ms  (n=%lld, errors=%lld)\n",
              o.label.c_str(), what.c_str(), s.per_second * unit_factor, unit.c_str(), s.p50_ms,
              s.p99_ms, static_cast<long long>(s.count), static_cast<long long>(s.errors));
  std::fflush(stdout);
}

// ------------------------------------------------------------------ raw limits
// The same storage work with no server: what one process can do directly.

class RawStore {
 public:
  virtual ~RawStore() = default;
  virtual void Exec(const std::string& sql) = 0;
  // One transaction per call.
  virtual void InsertMetricTx(int64_t series, int64_t step) = 0;
  virtual void InsertBatchTx(int64_t series, int64_t first_step, int n) = 0;
  virtual int64_t CountQuery(const std::string& sql) = 0;
  // mlforge's own layout: the latest value upserted and the call's points
  // appended as one packed chunk row (24 bytes per point).
  virtual void InsertChunkTx(int64_t series, int64_t first_step, int n) = 0;
  // Reads a series' chunks and unpacks every point; returns the point count.
  virtual int64_t ReadChunks(int64_t series) = 0;
};

// n packed points (int64 step, int64 timestamp, float64 value), as mlforge stores them.
std::string PackPoints(int64_t first_step, int n) {
  std::string out(size_t(n) * 24, '\0');
  for (int k = 0; k < n; ++k) {
    int64_t step = first_step + k, ts = 1700000000000LL + step;
    double value = 0.001 * double(step % 1000);
    std::memcpy(&out[size_t(k) * 24], &step, 8);
    std::memcpy(&out[size_t(k) * 24 + 8], &ts, 8);
    std::memcpy(&out[size_t(k) * 24 + 16], &value, 8);
  }
  return out;
}

int64_t UnpackPoints(const char* data, size_t size, std::vector<std::array<int64_t, 3>>& out) {
  for (size_t at = 0; at + 24 <= size; at += 24) {
    std::array<int64_t, 3> p;
    std::memcpy(p.data(), data + at, 24);
    out.push_back(p);
  }
  return int64_t(size / 24);
}

class RawSqlite final : public RawStore {
 public:
  explicit RawSqlite(const std::string& path) {
    std::remove(path.c_str());
    sqlite3_open(path.c_str(), &db_);
    Exec("PRAGMA journal_mode=WAL");
    Exec("PRAGMA synchronous=NORMAL");
    Exec("CREATE TABLE latest (series INTEGER PRIMARY KEY, value REAL, step INTEGER)");
    Exec("CREATE TABLE points (series INTEGER, step INTEGER, ts INTEGER, value REAL, is_nan "
         "INTEGER, PRIMARY KEY (series, step, ts, value, is_nan)) WITHOUT ROWID");
    Exec("CREATE TABLE chunks (series INTEGER, chunk INTEGER, points BLOB, PRIMARY KEY (series, "
         "chunk)) WITHOUT ROWID");
    sqlite3_prepare_v2(db_, "INSERT INTO chunks VALUES (?,?,?)", -1, &chunk_, nullptr);
    sqlite3_prepare_v2(db_, "INSERT INTO points VALUES (?,?,?,?,0) ON CONFLICT DO NOTHING", -1,
                       &insert_, nullptr);
    sqlite3_prepare_v2(db_,
                       "INSERT INTO latest VALUES (?,?,?) ON CONFLICT (series) DO UPDATE SET "
                       "value = excluded.value, step = excluded.step",
                       -1, &latest_, nullptr);
  }
  ~RawSqlite() override {
    sqlite3_finalize(chunk_);
    sqlite3_finalize(insert_);
    sqlite3_finalize(latest_);
    sqlite3_close(db_);
  }
  void Exec(const std::string& sql) override { sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr); }
  void InsertOne(int64_t series, int64_t step) {
    sqlite3_bind_int64(insert_, 1, series);
    sqlite3_bind_int64(insert_, 2, step);
    sqlite3_bind_int64(insert_, 3, 1700000000000LL + step);
    sqlite3_bind_double(insert_, 4, 0.001 * double(step % 1000));
    sqlite3_step(insert_);
    sqlite3_reset(insert_);
  }
  void InsertMetricTx(int64_t series, int64_t step) override {
    Exec("BEGIN IMMEDIATE");
    sqlite3_bind_int64(latest_, 1, series);
    sqlite3_bind_double(latest_, 2, 1.0);
    sqlite3_bind_int64(latest_, 3, step);
    sqlite3_step(latest_);
    sqlite3_reset(latest_);
    InsertOne(series, step);
    Exec("COMMIT");
  }
  void InsertBatchTx(int64_t series, int64_t first_step, int n) override {
    Exec("BEGIN IMMEDIATE");
    for (int k = 0; k < n; ++k) InsertOne(series, first_step + k);
    Exec("COMMIT");
  }
  void InsertChunkTx(int64_t series, int64_t first_step, int n) override {
    std::string packed = PackPoints(first_step, n);
    Exec("BEGIN IMMEDIATE");
    sqlite3_bind_int64(latest_, 1, series);
    sqlite3_bind_double(latest_, 2, 1.0);
    sqlite3_bind_int64(latest_, 3, first_step + n - 1);
    sqlite3_step(latest_);
    sqlite3_reset(latest_);
    sqlite3_bind_int64(chunk_, 1, series);
    sqlite3_bind_int64(chunk_, 2, ++chunks_);
    sqlite3_bind_blob(chunk_, 3, packed.data(), int(packed.size()), SQLITE_STATIC);
    sqlite3_step(chunk_);
    sqlite3_reset(chunk_);
    Exec("COMMIT");
  }
  int64_t ReadChunks(int64_t series) override {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db_, "SELECT points FROM chunks WHERE series = ? ORDER BY chunk", -1, &st,
                       nullptr);
    sqlite3_bind_int64(st, 1, series);
    std::vector<std::array<int64_t, 3>> points;
    while (sqlite3_step(st) == SQLITE_ROW) {
      UnpackPoints(static_cast<const char*>(sqlite3_column_blob(st, 0)),
                   size_t(sqlite3_column_bytes(st, 0)), points);
    }
    sqlite3_finalize(st);
    return int64_t(points.size());
  }
  int64_t CountQuery(const std::string& sql) override {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr);
    int64_t rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
      // Touch every column, as a server encoding the rows must.
      for (int c = 0; c < sqlite3_column_count(st); ++c) (void)sqlite3_column_text(st, c);
      ++rows;
    }
    sqlite3_finalize(st);
    return rows;
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* latest_ = nullptr;
  sqlite3_stmt* chunk_ = nullptr;
  int64_t chunks_ = 0;
};

class RawPostgres final : public RawStore {
 public:
  explicit RawPostgres(const std::string& uri) {
    conn_ = PQconnectdb(uri.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::fprintf(stderr, "raw pg: %s\n", PQerrorMessage(conn_));
      std::exit(2);
    }
    Exec("SET client_min_messages TO WARNING");  // no NOTICE for DROP ... IF EXISTS
    Exec("DROP TABLE IF EXISTS bench_points; DROP TABLE IF EXISTS bench_latest; "
         "DROP TABLE IF EXISTS bench_chunks");
    Exec("CREATE TABLE bench_chunks (series BIGINT, chunk BIGINT, points BYTEA, PRIMARY KEY "
         "(series, chunk))");
    Exec("CREATE TABLE bench_latest (series BIGINT PRIMARY KEY, value DOUBLE PRECISION, step BIGINT)");
    Exec("CREATE TABLE bench_points (series BIGINT, step BIGINT, ts BIGINT, value DOUBLE "
         "PRECISION, is_nan INTEGER, PRIMARY KEY (series, step, ts, value, is_nan))");
    PQclear(PQprepare(conn_, "ins",
                      "INSERT INTO bench_points VALUES ($1,$2,$3,$4,0) ON CONFLICT DO NOTHING", 4,
                      nullptr));
    PQclear(PQprepare(conn_, "lat",
                      "INSERT INTO bench_latest VALUES ($1,$2,$3) ON CONFLICT (series) DO UPDATE "
                      "SET value = excluded.value, step = excluded.step",
                      3, nullptr));
  }
  ~RawPostgres() override {
    Exec("DROP TABLE IF EXISTS bench_points; DROP TABLE IF EXISTS bench_latest; "
         "DROP TABLE IF EXISTS bench_chunks");
    PQfinish(conn_);
  }
  void Exec(const std::string& sql) override { PQclear(PQexec(conn_, sql.c_str())); }
  void Prepared(const char* name, std::vector<std::string> values) {
    std::vector<const char*> ptrs;
    for (auto& v : values) ptrs.push_back(v.c_str());
    PQclear(PQexecPrepared(conn_, name, int(ptrs.size()), ptrs.data(), nullptr, nullptr, 0));
  }
  void InsertMetricTx(int64_t series, int64_t step) override {
    Exec("BEGIN");
    Prepared("lat", {std::to_string(series), "1", std::to_string(step)});
    Prepared("ins", {std::to_string(series), std::to_string(step),
                     std::to_string(1700000000000LL + step), "0.5"});
    Exec("COMMIT");
  }
  void InsertBatchTx(int64_t series, int64_t first_step, int n) override {
    // One multi-row INSERT: the fastest plain-SQL path.
    std::string sql = "INSERT INTO bench_points VALUES ";
    for (int k = 0; k < n; ++k) {
      int64_t step = first_step + k;
      sql += (k ? ",(" : "(") + std::to_string(series) + "," + std::to_string(step) + "," +
             std::to_string(1700000000000LL + step) + "," + std::to_string(0.001 * (step % 1000)) +
             ",0)";
    }
    sql += " ON CONFLICT DO NOTHING";
    Exec("BEGIN");
    Exec(sql);
    Exec("COMMIT");
  }
  void InsertChunkTx(int64_t series, int64_t first_step, int n) override {
    std::string packed = PackPoints(first_step, n);
    std::string series_text = std::to_string(series), chunk_text = std::to_string(++chunks_);
    const char* values[] = {series_text.c_str(), chunk_text.c_str(), packed.data()};
    const int lengths[] = {0, 0, int(packed.size())};
    const int formats[] = {0, 0, 1};
    Exec("BEGIN");
    Prepared("lat", {series_text, "1", std::to_string(first_step + n - 1)});
    PQclear(PQexecParams(conn_, "INSERT INTO bench_chunks VALUES ($1::bigint, $2::bigint, $3::bytea)",
                         3, nullptr, values, lengths, formats, 0));
    Exec("COMMIT");
  }
  int64_t ReadChunks(int64_t series) override {
    std::string series_text = std::to_string(series);
    const char* values[] = {series_text.c_str()};
    // Binary results: the bytes as stored, as a server reading BYTEA at best gets them.
    PGresult* r = PQexecParams(conn_, "SELECT points FROM bench_chunks WHERE series = $1::bigint "
                               "ORDER BY chunk", 1, nullptr, values, nullptr, nullptr, 1);
    std::vector<std::array<int64_t, 3>> points;
    for (int i = 0; i < PQntuples(r); ++i) {
      UnpackPoints(PQgetvalue(r, i, 0), size_t(PQgetlength(r, i, 0)), points);
    }
    PQclear(r);
    return int64_t(points.size());
  }
  int64_t CountQuery(const std::string& sql) override {
    PGresult* r = PQexec(conn_, sql.c_str());
    int64_t rows = PQntuples(r);
    PQclear(r);
    return rows;
  }

 private:
  PGconn* conn_ = nullptr;
  int64_t chunks_ = 0;
};

void RawBaselines(const Options& o) {
  std::unique_ptr<RawStore> raw;
  std::string label;
  if (!o.raw_sqlite.empty()) {
    raw = std::make_unique<RawSqlite>(o.raw_sqlite);
    label = "raw-sqlite";
  } else {
    raw = std::make_unique<RawPostgres>(o.raw_pg);
    label = "raw-pg";
  }
  Options lo = o;
  lo.label = label;
  std::string points = o.raw_sqlite.empty() ? "bench_points" : "points";
  int64_t step = 0;
  Stats one = RunSequential(20000, [&] {
    raw->InsertMetricTx(1, step++);
    return true;
  });
  Print(lo, "log-metric (1 tx per point)", one, "tx/s");
  int64_t first = 1'000'000;
  Stats batch = RunSequential(200, [&] {
    raw->InsertBatchTx(2, first, 1000);
    first += 1000;
    return true;
  });
  Print(lo, "log-batch 1000 (1 tx per batch)", batch, "metrics/s", 1000);
  // History read: 100,000 rows of one series.
  for (int64_t s = 0; s < o.history_points; s += 1000) raw->InsertBatchTx(3, s, 1000);
  Stats history = RunSequential(20, [&] {
    return raw->CountQuery("SELECT step, ts, value, is_nan FROM " + points +
                           " WHERE series = 3 ORDER BY step, ts, value") == o.history_points;
  });
  Print(lo, "read 100k-point series", history, "reads/s");

  // The same three in mlforge's packed-chunk layout.
  Stats one_chunk = RunSequential(20000, [&] {
    raw->InsertChunkTx(11, step++, 1);
    return true;
  });
  Print(lo, "chunks: log-metric (1 tx per point)", one_chunk, "tx/s");
  Stats batch_chunk = RunSequential(2000, [&] {
    raw->InsertChunkTx(12, first, 1000);
    first += 1000;
    return true;
  });
  Print(lo, "chunks: log-batch 1000 (1 tx per batch)", batch_chunk, "metrics/s", 1000);
  for (int64_t s = 0; s < o.history_points; s += 1000) raw->InsertChunkTx(13, s, 1000);
  Stats history_chunk =
      RunSequential(20, [&] { return raw->ReadChunks(13) == o.history_points; });
  Print(lo, "chunks: read 100k-point series", history_chunk, "reads/s");
}

// --------------------------------------------------------------- server load

bool Has(const Options& o, const std::string& scenario) {
  return ("," + o.scenarios + ",").find("," + scenario + ",") != std::string::npos;
}

void ServerScenarios(const Options& o) {
  Client setup(o.host, o.port);
  std::string tag = std::to_string(std::random_device{}() % 1000000);

  if (Has(o, "log-metric")) {
    std::vector<std::string> runs;
    for (int t = 0; t < o.threads; ++t) runs.push_back(NewRun(setup, "0"));
    std::vector<std::unique_ptr<Client>> clients;
    for (int t = 0; t < o.threads; ++t) clients.push_back(std::make_unique<Client>(o.host, o.port));
    Stats s = RunLoad(o.threads, o.seconds, [&](int t, int64_t i) {
      bool ok = false;
      Post(*clients[t], "/api/2.0/mlflow/runs/log-metric",
           R"({"run_id":")" + runs[t] + R"(","key":"loss","value":)" + std::to_string(0.5 + i % 7) +
               R"(,"timestamp":)" + std::to_string(1700000000000LL + i) + R"(,"step":)" +
               std::to_string(i) + "}",
           &ok);
      return ok;
    });
    Print(o, "log-metric c=" + std::to_string(o.threads), s, "req/s");
  }

  if (Has(o, "log-batch")) {
    int threads = std::min(o.threads, 4);
    std::vector<std::string> runs;
    for (int t = 0; t < threads; ++t) runs.push_back(NewRun(setup, "0"));
    std::vector<std::unique_ptr<Client>> clients;
    for (int t = 0; t < threads; ++t) clients.push_back(std::make_unique<Client>(o.host, o.port));
    Stats s = RunLoad(threads, o.seconds, [&](int t, int64_t i) {
      bool ok = false;
      Post(*clients[t], "/api/2.0/mlflow/runs/log-batch", BatchBody(runs[t], "m", i * 1000, 1000), &ok);
      return ok;
    });
    Print(o, "log-batch 1000 c=" + std::to_string(threads), s, "metrics/s", 1000);
  }

  if (Has(o, "search")) {
    std::string exp = NewExperiment(setup, "bench-search-" + tag);
    auto t0 = Clock::now();
    std::vector<std::unique_ptr<Client>> clients;
    int threads = std::min(o.threads, 4);
    for (int t = 0; t < threads; ++t) clients.push_back(std::make_unique<Client>(o.host, o.port));
    std::atomic<int> next{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (int i; (i = next++) < o.search_runs;) {
          std::string run = NewRun(*clients[t], exp);
          bool ok = false;
          Post(*clients[t], "/api/2.0/mlflow/runs/log-batch",
               R"({"run_id":")" + run + R"(","metrics":[{"key":"acc","value":)" +
                   std::to_string((i * 7919 % 10000) / 10000.0) +
                   R"(,"timestamp":1,"step":0},{"key":"loss","value":1,"timestamp":1,"step":0}],)"
                   R"("params":[{"key":"model","value":")" + (i % 2 ? "xgb" : "linear") +
                   R"("}],"tags":[{"key":"team","value":"a"}]})",
               &ok);
        }
      });
    }
    for (auto& th : pool) th.join();
    std::printf("%-10s setup: %d runs in %.1f s\n", o.label.c_str(), o.search_runs,
                std::chrono::duration<double>(Clock::now() - t0).count());
    for (int max_results : {100, 1000}) {
      std::string body = R"({"experiment_ids":[")" + exp +
                         R"("],"filter":"metrics.acc > 0.5","order_by":["metrics.acc DESC"],)"
                         R"("max_results":)" + std::to_string(max_results) + "}";
      Stats s = RunSequential(30, [&] {
        bool ok = false;
        std::string r = Post(setup, "/api/2.0/mlflow/runs/search", body, &ok);
        return ok && r.size() > 100;
      });
      Print(o, "search 10k runs, filter+order, page " + std::to_string(max_results), s, "req/s");
    }
  }

  if (Has(o, "history")) {
    std::string run = NewRun(setup, "0");
    for (int64_t s = 0; s < o.history_points; s += 1000) {
      bool ok = false;
      Post(setup, "/api/2.0/mlflow/runs/log-batch", BatchBody(run, "curve", s, 1000), &ok);
    }
    Stats s = RunSequential(20, [&] {
      auto r = setup.Get("/api/2.0/mlflow/metrics/get-history?run_id=" + run + "&metric_key=curve");
      return r && r->status == 200 && r->body.size() > size_t(o.history_points) * 20;
    });
    Print(o, "get-history 100k points", s, "req/s");
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--host") o.host = next();
    else if (a == "--port") o.port = static_cast<uint16_t>(std::stoi(next()));
    else if (a == "--threads") o.threads = std::stoi(next());
    else if (a == "--seconds") o.seconds = std::stod(next());
    else if (a == "--raw-sqlite") o.raw_sqlite = next();
    else if (a == "--raw-pg") o.raw_pg = next();
    else if (a == "--label") o.label = next();
    else if (a == "--scenarios") o.scenarios = next();
    else if (a == "--search-runs") o.search_runs = std::stoi(next());
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (!o.raw_sqlite.empty() || !o.raw_pg.empty()) {
    RawBaselines(o);
    return 0;
  }
  if (o.port == 0) {
    std::fprintf(stderr, "usage: tracking_bench --port P | --raw-sqlite FILE | --raw-pg URI\n");
    return 2;
  }
  ServerScenarios(o);
  return 0;
}

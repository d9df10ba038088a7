#include "integration/server_process.h"

#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>

namespace mlforge::testing {

std::string BackendName(TestBackend b) { return b == TestBackend::kSqlite ? "sqlite" : "postgres"; }

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "mlforge-it-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string MlforgeBinary() {
  if (const char* env = std::getenv("MLFORGE_BINARY"); env && *env) return env;
  return MLFORGE_BINARY_PATH;
}

bool PostgresTestsDisabled() {
  const char* flag = std::getenv("MLFORGE_TEST_PG");
  return flag && std::string(flag) == "off";
}

namespace {

std::string PgUri() {
  const char* uri = std::getenv("MLFORGE_TEST_PG_URI");
  if (!uri || !*uri) {
    throw std::runtime_error(
        "MLFORGE_TEST_PG_URI is not set: run the tests through `make test` (which starts a "
        "PostgreSQL server), or set MLFORGE_TEST_PG=off to skip PostgreSQL tests locally");
  }
  return uri;
}

// Replaces the database name (last path segment) of a postgresql:// URI.
std::string WithDatabase(const std::string& uri, const std::string& db) {
  size_t query = uri.find('?');
  std::string base = uri.substr(0, query);
  size_t slash = base.rfind('/');
  std::string rest = query == std::string::npos ? "" : uri.substr(query);
  return base.substr(0, slash + 1) + db + rest;
}

void PgExec(const std::string& uri, const std::string& sql) {
  PGconn* conn = PQconnectdb(uri.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string err = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("cannot connect to PostgreSQL: " + err);
  }
  PGresult* res = PQexec(conn, sql.c_str());
  bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  std::string err = PQerrorMessage(conn);
  PQclear(res);
  PQfinish(conn);
  if (!ok) throw std::runtime_error("PostgreSQL: " + sql + ": " + err);
}

}  // namespace

std::string CreatePostgresDatabase() {
  std::string admin = PgUri();
  std::random_device rd;
  std::string name = "it_" + std::to_string(getpid()) + "_" + std::to_string(rd() % 1000000000);
  PgExec(admin, "CREATE DATABASE " + name);
  return WithDatabase(admin, name);
}

void DropPostgresDatabase(const std::string& uri) {
  std::string name = uri.substr(uri.rfind('/') + 1);
  name = name.substr(0, name.find('?'));
  try {
    PgExec(PgUri(), "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  } catch (const std::exception&) {
    // Best effort: the test server is thrown away after the run anyway.
  }
}

ServerProcess::ServerProcess(TestBackend backend, std::vector<std::string> extra_args)
    : backend_(backend), extra_args_(std::move(extra_args)) {
  if (backend_ == TestBackend::kPostgres) {
    backend_uri_ = CreatePostgresDatabase();
    owns_pg_database_ = true;
  } else {
    backend_uri_ = "sqlite:///" + (dir_.path() / "mlforge.db").string();
  }
  Launch();
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Stop();
  if (owns_pg_database_) DropPostgresDatabase(backend_uri_);
}

void ServerProcess::Launch() {
  std::filesystem::path port_file = dir_.path() / "port";
  std::filesystem::remove(port_file);
  std::vector<std::string> args = {MlforgeBinary(),
                                   "server",
                                   "--host",
                                   "127.0.0.1",
                                   "--port",
                                   "0",
                                   "--data-dir",
                                   dir_.path().string(),
                                   "--backend-store-uri",
                                   backend_uri_,
                                   "--port-file",
                                   port_file.string()};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  std::filesystem::path log = dir_.path() / "server.log";
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    FILE* out = std::freopen(log.c_str(), "a", stderr);
    (void)out;
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(port_file);
    int port = 0;
    if (in >> port && port > 0) {
      port_ = static_cast<uint16_t>(port);
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      std::ifstream l(log);
      std::string text((std::istreambuf_iterator<char>(l)), std::istreambuf_iterator<char>());
      throw std::runtime_error("mlforge server exited during start: " + text);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  throw std::runtime_error("mlforge server did not start listening within 30 s");
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return 0;
  kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 1000; ++i) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  return -1;
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void ServerProcess::Restart() {
  if (pid_ > 0) Stop();
  Launch();
}

}  // namespace mlforge::testing

// Starts the real mlforge binary for integration tests: 127.0.0.1, port 0,
// a temp data dir, SQLite or a fresh PostgreSQL database. RAII: the process
// is stopped (SIGTERM, then SIGKILL) and the temp dir removed on destruction.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "support/scratch_database.h"
#include "support/temp_dir.h"

namespace mlforge::testing {

enum class TestBackend { kSqlite, kPostgres };
std::string BackendName(TestBackend b);

// True if PostgreSQL tests were explicitly switched off (MLFORGE_TEST_PG=off).
inline bool PostgresTestsDisabled() { return sql::testing::PgOptedOut(); }

class ServerProcess {
 public:
  // Starts `mlforge server` with the backend and extra arguments; blocks
  // until it listens. Throws std::runtime_error if it does not come up.
  explicit ServerProcess(TestBackend backend, std::vector<std::string> extra_args = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  uint16_t port() const { return port_; }
  const std::string& backend_uri() const { return backend_uri_; }
  const std::filesystem::path& data_dir() const { return dir_.path(); }
  pid_t pid() const { return pid_; }

  // Graceful stop; returns the exit status (as from waitpid).
  int Stop();
  // kill -9, for durability tests.
  void Kill();
  // Starts again on the same data (and port 0 → a new port).
  void Restart();

 private:
  void Launch();
  TestBackend backend_;
  std::vector<std::string> extra_args_;
  TempDir dir_;
  std::unique_ptr<sql::testing::ScratchDatabase> database_;
  std::string backend_uri_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// Path of the mlforge binary under test.
std::string MlforgeBinary();

// A child started by StartAndWaitForPort: port 0 when it exited before
// listening (exit_status then holds its waitpid status).
struct StartedProcess {
  pid_t pid = -1;
  uint16_t port = 0;
  int exit_status = 0;
};
// Forks and execs args (args[0]: the binary) with stderr appended to log,
// then waits up to 30 s for a port number in port_file. Throws
// std::runtime_error (after kill -9) when it neither listens nor exits.
StartedProcess StartAndWaitForPort(std::vector<std::string> args,
                                   const std::filesystem::path& port_file,
                                   const std::filesystem::path& log);

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs `mlforge <args>` in dir through the shell (quote arguments for it).
CommandResult RunMlforge(const std::filesystem::path& dir, const std::string& args);

}  // namespace mlforge::testing

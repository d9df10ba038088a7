#include "integration/server_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace mlforge::testing {

std::string BackendName(TestBackend b) { return b == TestBackend::kSqlite ? "sqlite" : "postgres"; }

std::string MlforgeBinary() {
  if (const char* env = std::getenv("MLFORGE_BINARY"); env && *env) return env;
  return MLFORGE_BINARY_PATH;
}

ServerProcess::ServerProcess(TestBackend backend, std::vector<std::string> extra_args)
    : backend_(backend), extra_args_(std::move(extra_args)) {
  auto database = sql::testing::ScratchDatabase::Create(
      backend_ == TestBackend::kPostgres ? sql::Backend::kPostgres : sql::Backend::kSqlite);
  if (!database) throw std::runtime_error(database.error().ToString());
  database_ = std::move(*database);
  backend_uri_ = database_->uri();
  Launch();
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Stop();
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
  const std::filesystem::path log = dir_.path() / "server.log";
  StartedProcess started = StartAndWaitForPort(std::move(args), port_file, log);
  if (started.port == 0) {
    std::ifstream l(log);
    std::string text((std::istreambuf_iterator<char>(l)), std::istreambuf_iterator<char>());
    throw std::runtime_error("mlforge server exited during start: " + text);
  }
  pid_ = started.pid;
  port_ = started.port;
}

StartedProcess StartAndWaitForPort(std::vector<std::string> args,
                                   const std::filesystem::path& port_file,
                                   const std::filesystem::path& log) {
  StartedProcess started;
  started.pid = fork();
  if (started.pid < 0) throw std::runtime_error("fork failed");
  if (started.pid == 0) {
    FILE* out = std::freopen(log.c_str(), "a", stderr);
    (void)out;
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(port_file);
    int port = 0;
    if (in >> port && port > 0) {
      started.port = static_cast<uint16_t>(port);
      return started;
    }
    if (waitpid(started.pid, &started.exit_status, WNOHANG) == started.pid) {
      started.pid = -1;
      return started;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(started.pid, SIGKILL);
  waitpid(started.pid, &started.exit_status, 0);
  throw std::runtime_error(args[0] + " did not start listening within 30 s");
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

CommandResult RunMlforge(const std::filesystem::path& dir, const std::string& args) {
  std::string cmd = "cd '" + dir.string() + "' && '" + MlforgeBinary() + "' " + args + " 2>&1";
  CommandResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace mlforge::testing

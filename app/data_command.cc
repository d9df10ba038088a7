#include "app/data_command.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "app/server_client.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/json.h"
#include "blob/blob.h"
#include "data/data.h"
#include "http/http.h"

namespace mlforge::app {
namespace {

namespace fs = std::filesystem;

// Parsed options of every data verb; one instance lives for the process.
struct DataArgs {
  std::vector<std::string> paths;
  std::string name;
  std::string remote;
  std::string workspace;
  int jobs = 0;
  int connections = 4;
  bool dry_run = false;
  bool server = false;
  bool server_delete = false;
  int64_t grace_seconds = 3600;
  bool no_checkout = false;
  bool quiet = false;
  std::vector<std::string> keep;
};

DataArgs& Args() {
  static DataArgs args;
  return args;
}

struct Verbs {
  CLI::App* add = nullptr;
  CLI::App* status = nullptr;
  CLI::App* checkout = nullptr;
  CLI::App* push = nullptr;
  CLI::App* pull = nullptr;
  CLI::App* ls = nullptr;
  CLI::App* log = nullptr;
  CLI::App* diff = nullptr;
  CLI::App* gc = nullptr;
};
Verbs& TheVerbs() {
  static Verbs verbs;
  return verbs;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "mlforge data: %s\n", s.message().c_str());
  return 1;
}

std::string HumanBytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

// On a terminal: one line rewritten in place, at most 10 times a second.
// Otherwise: a plain line at most every 10 seconds. Thread-safe.
class ConsoleProgress final : public data::ProgressSink {
 public:
  explicit ConsoleProgress(bool quiet)
      : quiet_(quiet), tty_(::isatty(STDERR_FILENO) == 1), last_(std::chrono::steady_clock::now()) {}
  void Update(std::string_view phase, int64_t done, int64_t total, int64_t bytes) override {
    if (quiet_) return;
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    auto interval = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(10'000);
    if (now - last_ < interval && done != total) return;
    if (!tty_ && done == total) return;  // the command's summary says it
    last_ = now;
    std::string line = fmt::format("{} {}/{} ({})", phase, done, total, HumanBytes(bytes));
    if (tty_) {
      std::fprintf(stderr, "\r%-70s", line.c_str());
      shown_ = true;
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
  }
  void Finish() override {
    std::lock_guard lock(mu_);
    if (shown_) std::fprintf(stderr, "\r%-70s\r", "");
    shown_ = false;
  }

 private:
  const bool quiet_;
  const bool tty_;
  std::mutex mu_;  // guards last_, shown_ and the output line
  std::chrono::steady_clock::time_point last_;
  bool shown_ = false;
};

Result<std::unique_ptr<data::Workspace>> OpenWorkspace(bool create) {
  fs::path root;
  if (!Args().workspace.empty()) {
    root = Args().workspace;
  } else if (auto found = data::Workspace::Find(fs::current_path())) {
    root = *found;
  } else if (create) {
    root = fs::current_path();
  } else {
    return Err(NotFound("No mlforge workspace here (no .mlforge/ in this or a parent directory); "
                        "`mlforge data add` creates one"));
  }
  return data::Workspace::Open(root, SystemClock::Get());
}

// The pointer files the verb works on: the given paths (targets or pointer
// files), or every pointer in the workspace.
Result<std::vector<fs::path>> PointerFiles(data::Workspace& ws) {
  if (Args().paths.empty()) return ws.FindPointers();
  std::vector<fs::path> out;
  for (const std::string& p : Args().paths) out.push_back(data::PointerFileFor(fs::absolute(p)));
  return out;
}

Result<data::RemoteOptions> Remote() {
  ASSIGN_OR_RETURN(data::RemoteOptions o, ServerFromFlagOrEnv(Args().remote, "--remote"));
  o.connections = Args().connections;
  return o;
}

std::string Display(const fs::path& p) {
  std::error_code ec;
  fs::path rel = fs::relative(p, fs::current_path(), ec);
  return ec || rel.empty() ? p.string() : rel.string();
}

int Add() {
  auto ws = OpenWorkspace(/*create=*/true);
  if (!ws) return Fail(ws.error());
  ConsoleProgress progress(Args().quiet);
  if (!Args().name.empty() && Args().paths.size() > 1) {
    return Fail(InvalidArgument("--name applies to one path at a time"));
  }
  for (const std::string& path : Args().paths) {
    data::AddOptions options{.dataset = Args().name, .threads = Args().jobs, .progress = &progress};
    auto r = (*ws)->Add(path, options);
    if (!r) return Fail(r.error());
    std::printf("added %s: %lld files, %s, version %s (dataset '%s'; %lld hashed)\n",
                Display(r->pointer_file).c_str(), static_cast<long long>(r->pointer.file_count),
                HumanBytes(r->pointer.size).c_str(), r->pointer.version_id.substr(0, 12).c_str(),
                r->pointer.dataset.c_str(), static_cast<long long>(r->files_hashed));
    if (r->symlinks_skipped > 0) {
      std::fprintf(stderr, "warning: skipped %lld symbolic links or special files (never followed)\n",
                   static_cast<long long>(r->symlinks_skipped));
    }
  }
  return 0;
}

void PrintChanges(const data::ManifestDiff& d) {
  for (const auto& e : d.added) std::printf("  added:    %s\n", e.path.c_str());
  for (const auto& e : d.removed) std::printf("  removed:  %s\n", e.path.c_str());
  for (const auto& [from, to] : d.modified) std::printf("  modified: %s\n", to.path.c_str());
}

int StatusVerb() {
  auto ws = OpenWorkspace(false);
  if (!ws) return Fail(ws.error());
  auto pointers = PointerFiles(**ws);
  if (!pointers) return Fail(pointers.error());
  int dirty = 0;
  for (const fs::path& p : *pointers) {
    auto r = (*ws)->Status(p);
    if (!r) return Fail(r.error());
    if (r->clean()) {
      std::printf("%s: up to date\n", Display(p).c_str());
      continue;
    }
    ++dirty;
    std::printf("%s: %s\n", Display(p).c_str(),
                r->target_missing ? "target missing (mlforge data checkout restores it)" : "changed");
    if (!r->target_missing) PrintChanges(r->changes);
  }
  if (pointers->empty()) std::printf("no data tracked here\n");
  return 0;
}

int CheckoutVerb() {
  auto ws = OpenWorkspace(false);
  if (!ws) return Fail(ws.error());
  auto pointers = PointerFiles(**ws);
  if (!pointers) return Fail(pointers.error());
  ConsoleProgress progress(Args().quiet);
  for (const fs::path& p : *pointers) {
    auto r = (*ws)->Checkout(p, data::CheckoutOptions{.threads = Args().jobs, .progress = &progress});
    if (!r) return Fail(r.error());
    std::printf("%s: %lld written, %lld unchanged, %lld removed\n", Display(p).c_str(),
                static_cast<long long>(r->files_written), static_cast<long long>(r->files_unchanged),
                static_cast<long long>(r->files_removed));
  }
  return 0;
}

int PushVerb() {
  auto ws = OpenWorkspace(false);
  if (!ws) return Fail(ws.error());
  auto remote = Remote();
  if (!remote) return Fail(remote.error());
  auto pointers = PointerFiles(**ws);
  if (!pointers) return Fail(pointers.error());
  ConsoleProgress progress(Args().quiet);
  remote->progress = &progress;
  for (const fs::path& p : *pointers) {
    auto pointer = data::ReadPointer(p);
    if (!pointer) return Fail(pointer.error());
    auto r = data::Push(**ws, pointer->dataset, pointer->version_id, *remote);
    if (!r) return Fail(r.error());
    std::printf("pushed %s: dataset '%s' version %lld (%s); %lld of %lld objects sent, %s\n",
                Display(p).c_str(), pointer->dataset.c_str(),
                static_cast<long long>(r->version_number), r->version_id.substr(0, 12).c_str(),
                static_cast<long long>(r->objects_transferred),
                static_cast<long long>(r->objects_total), HumanBytes(r->bytes_transferred).c_str());
  }
  return 0;
}

int PullVerb() {
  auto ws = OpenWorkspace(false);
  if (!ws) return Fail(ws.error());
  auto remote = Remote();
  if (!remote) return Fail(remote.error());
  auto pointers = PointerFiles(**ws);
  if (!pointers) return Fail(pointers.error());
  ConsoleProgress progress(Args().quiet);
  remote->progress = &progress;
  for (const fs::path& p : *pointers) {
    auto pointer = data::ReadPointer(p);
    if (!pointer) return Fail(pointer.error());
    auto r = data::Pull(**ws, pointer->version_id, *remote);
    if (!r) return Fail(r.error());
    std::printf("pulled %s: %lld of %lld objects fetched, %s\n", Display(p).c_str(),
                static_cast<long long>(r->objects_transferred),
                static_cast<long long>(r->objects_total), HumanBytes(r->bytes_transferred).c_str());
    if (Args().no_checkout) continue;
    auto c = (*ws)->Checkout(p, data::CheckoutOptions{.threads = Args().jobs, .progress = &progress});
    if (!c) return Fail(c.error());
  }
  return 0;
}

std::string TimeText(int64_t millis) {
  std::time_t t = static_cast<std::time_t>(millis / 1000);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  return buf;
}

int LogVerb() {
  std::string dataset = Args().paths.empty() ? "" : Args().paths.front();
  if (!Args().remote.empty()) {
    auto remote = Remote();
    if (!remote) return Fail(remote.error());
    if (dataset.empty()) return Fail(InvalidArgument("log --remote needs a dataset name"));
    auto v = GetJson(*remote, "/api/2.0/mlforge/datasets/versions/list?name=" +
                                    http::PercentEncode(dataset));
    if (!v) return Fail(v.error());
    if (const json::Value* list = v->Find("versions"); list && list->is_array()) {
      for (const json::Value& item : list->items()) {
        std::printf("%s  v%-4lld %s  %lld files  %s\n", TimeText(IntOf(item, "creation_time")).c_str(),
                    static_cast<long long>(IntOf(item, "version")), StrOf(item, "version_id").c_str(),
                    static_cast<long long>(IntOf(item, "file_count")),
                    HumanBytes(IntOf(item, "size")).c_str());
      }
    }
    return 0;
  }
  auto ws = OpenWorkspace(false);
  if (!ws) return Fail(ws.error());
  auto log = (*ws)->Log(dataset);
  if (!log) return Fail(log.error());
  for (const data::LogEntry& e : *log) {
    std::printf("%s  %-20s %s  %lld files  %s  %s\n", TimeText(e.time_millis).c_str(),
                e.dataset.c_str(), e.version_id.c_str(), static_cast<long long>(e.file_count),
                HumanBytes(e.size).c_str(), e.path.c_str());
  }
  return 0;
}

// A version named on the command line: a pointer file (or its target), a
// full id, or a unique prefix of an id in the local log.
Result<std::string> ResolveVersion(data::Workspace& ws, const std::string& arg) {
  if (IsSha256Hex(arg)) return arg;
  fs::path pointer = data::PointerFileFor(fs::absolute(arg));
  if (fs::exists(pointer)) {
    ASSIGN_OR_RETURN(data::Pointer p, data::ReadPointer(pointer));
    return p.version_id;
  }
  ASSIGN_OR_RETURN(std::vector<data::LogEntry> log, ws.Log(""));
  std::string match;
  for (const data::LogEntry& e : log) {
    if (arg.size() >= 4 && e.version_id.starts_with(arg)) {
      if (!match.empty() && match != e.version_id) {
        return Err(InvalidArgument("Version prefix '" + arg + "' is ambiguous"));
      }
      match = e.version_id;
    }
  }
  if (match.empty()) return Err(NotFound("No version or pointer file '" + arg + "'"));
  return match;
}

int LsVerb() {
  if (!Args().remote.empty()) {
    auto remote = Remote();
    if (!remote) return Fail(remote.error());
    auto v = GetJson(*remote, "/api/2.0/mlforge/datasets/list");
    if (!v) return Fail(v.error());
    if (const json::Value* list = v->Find("datasets"); list && list->is_array()) {
      for (const json::Value& item : list->items()) {
        std::printf("%-30s %lld versions\n", StrOf(item, "name").c_str(),
                    static_cast<long long>(IntOf(item, "version_count")));
      }
    }
    return 0;
  }
  auto ws = OpenWorkspace(false);
  if (!ws) return Fail(ws.error());
  if (Args().paths.empty()) {
    auto pointers = (*ws)->FindPointers();
    if (!pointers) return Fail(pointers.error());
    for (const fs::path& p : *pointers) {
      auto pointer = data::ReadPointer(p);
      if (!pointer) return Fail(pointer.error());
      std::printf("%-30s %-20s %s  %lld files  %s\n", Display(p).c_str(), pointer->dataset.c_str(),
                  pointer->version_id.substr(0, 12).c_str(),
                  static_cast<long long>(pointer->file_count), HumanBytes(pointer->size).c_str());
    }
    return 0;
  }
  for (const std::string& arg : Args().paths) {
    auto id = ResolveVersion(**ws, arg);
    if (!id) return Fail(id.error());
    auto manifest = (*ws)->LoadManifest(*id);
    if (!manifest) return Fail(manifest.error());
    for (const data::ManifestEntry& e : manifest->entries) {
      std::printf("%s  %12lld  %s\n", e.sha256.c_str(), static_cast<long long>(e.size),
                  e.path.c_str());
    }
  }
  return 0;
}

int DiffVerb() {
  if (Args().paths.size() != 2) return Fail(InvalidArgument("diff takes two versions"));
  auto ws = OpenWorkspace(false);
  if (!ws) return Fail(ws.error());
  auto a = ResolveVersion(**ws, Args().paths[0]);
  if (!a) return Fail(a.error());
  auto b = ResolveVersion(**ws, Args().paths[1]);
  if (!b) return Fail(b.error());
  auto from = (*ws)->LoadManifest(*a);
  if (!from) return Fail(from.error());
  auto to = (*ws)->LoadManifest(*b);
  if (!to) return Fail(to.error());
  data::ManifestDiff d = data::DiffManifests(*from, *to);
  PrintChanges(d);
  std::printf("%zu added, %zu removed, %zu modified\n", d.added.size(), d.removed.size(),
              d.modified.size());
  return 0;
}

int GcVerb() {
  if (Args().server) {
    auto remote = Remote();
    if (!remote) return Fail(remote.error());
    http::Client client(remote->host, remote->port, std::chrono::minutes(30));
    json::Writer w;
    w.StartObject().Field("dry_run", Args().dry_run).Field("grace_seconds", Args().grace_seconds).EndObject();
    auto r = client.PostJson("/api/2.0/mlforge/datasets/gc", w.str());
    if (!r) return Fail(r.error());
    if (r->status != 200) return Fail(InvalidArgument("server answered: " + r->body));
    std::printf("%s\n", r->body.c_str());
    return 0;
  }
  auto ws = OpenWorkspace(false);
  if (!ws) return Fail(ws.error());
  auto r = (*ws)->CollectGarbage(Args().keep, Args().dry_run);
  if (!r) return Fail(r.error());
  std::printf("%s%lld objects (%s) removed, %lld kept\n", Args().dry_run ? "dry run: " : "",
              static_cast<long long>(r->objects_removed), HumanBytes(r->bytes_removed).c_str(),
              static_cast<long long>(r->objects_kept));
  return 0;
}

}  // namespace

void AddDataCommand(CLI::App& app) {
  DataArgs& a = Args();
  Verbs& v = TheVerbs();
  CLI::App* data = app.add_subcommand("data", "Version datasets (content-addressed, DVC-like)");
  data->require_subcommand(1);
  data->add_option("--workspace", a.workspace,
                   "Workspace root (default: nearest directory with .mlforge/, else here)");
  data->add_flag("-q,--quiet", a.quiet, "No progress output");
  auto remote = [&](CLI::App* c) {
    c->add_option("--remote,-r", a.remote,
                  "Server URL (default: $MLFORGE_TRACKING_URI or $MLFLOW_TRACKING_URI)");
  };
  v.add = data->add_subcommand("add", "Hash files, cache them, write PATH.mlfd pointers");
  v.add->add_option("paths", a.paths, "Files or directories")->required();
  v.add->add_option("--name", a.name, "Dataset name (default: the path's basename)");
  v.add->add_option("-j,--jobs", a.jobs, "Hashing threads (default: cores)");
  v.status = data->add_subcommand("status", "Show what changed since the pointers were written");
  v.status->add_option("paths", a.paths, "Pointer files or targets (default: all)");
  v.checkout = data->add_subcommand("checkout", "Restore files named by pointers from the cache");
  v.checkout->add_option("paths", a.paths, "Pointer files or targets (default: all)");
  v.checkout->add_option("-j,--jobs", a.jobs, "Threads (default: cores)");
  v.push = data->add_subcommand("push", "Upload versions to a server (only missing objects)");
  v.push->add_option("paths", a.paths, "Pointer files or targets (default: all)");
  v.push->add_option("-c,--connections", a.connections, "Parallel connections")->capture_default_str();
  remote(v.push);
  v.pull = data->add_subcommand("pull", "Download versions from a server, then check them out");
  v.pull->add_option("paths", a.paths, "Pointer files or targets (default: all)");
  v.pull->add_option("-c,--connections", a.connections, "Parallel connections")->capture_default_str();
  v.pull->add_flag("--no-checkout", a.no_checkout, "Only fill the cache");
  remote(v.pull);
  v.ls = data->add_subcommand("ls", "List tracked data, or the files of versions");
  v.ls->add_option("versions", a.paths, "Pointer files, version ids or id prefixes");
  remote(v.ls);
  v.log = data->add_subcommand("log", "List versions (local log, or the server's with --remote)");
  v.log->add_option("dataset", a.paths, "Dataset name")->expected(0, 1);
  remote(v.log);
  v.diff = data->add_subcommand("diff", "Files added, removed and modified between two versions");
  v.diff->add_option("versions", a.paths, "Two pointer files, version ids or id prefixes")
      ->expected(2);
  v.gc = data->add_subcommand("gc", "Remove cache objects no pointer in the workspace references");
  v.gc->add_flag("-n,--dry-run", a.dry_run, "Only count");
  v.gc->add_option("--keep", a.keep, "Also keep these version ids");
  v.gc->add_flag("--server", a.server, "Collect on the server instead (a dry run unless --delete)");
  v.gc->add_flag("--delete", a.server_delete, "With --server: really remove objects");
  v.gc->add_option("--grace-seconds", a.grace_seconds,
                   "Server: keep unreferenced objects younger than this")
      ->capture_default_str();
  remote(v.gc);
}

bool RunDataCommand(int* exit_code) {
  Verbs& v = TheVerbs();
  if (v.add == nullptr) return false;
  // Server collection is a dry run unless --delete says otherwise.
  if (v.gc->parsed() && Args().server) Args().dry_run = !Args().server_delete;
  struct {
    CLI::App* verb;
    int (*run)();
  } const table[] = {{v.add, Add},     {v.status, StatusVerb}, {v.checkout, CheckoutVerb},
                     {v.push, PushVerb}, {v.pull, PullVerb},     {v.ls, LsVerb},
                     {v.log, LogVerb},   {v.diff, DiffVerb},     {v.gc, GcVerb}};
  for (const auto& entry : table) {
    if (entry.verb->parsed()) {
      *exit_code = entry.run();
      return true;
    }
  }
  return false;
}

}  // namespace mlforge::app

// Client workspace: add, status, checkout, log, local gc. Layout: docs/data.md.
#include <dirent.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <linux/fs.h>  // FICLONE
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <mutex>
#include <unordered_set>

#include "base/clock.h"
#include "base/hash.h"
#include "base/parallel.h"
#include "blob/blob.h"
#include "data/data.h"
#include "data/stat_cache.h"

namespace mlforge::data {
namespace {

namespace fs = std::filesystem;

constexpr char kStateDir[] = ".mlforge";
// Files up to this size are read whole and stored with one write; larger
// ones are streamed by the blob store.
constexpr int64_t kWholeFileBytes = 8 << 20;
// Small enough that a chunk is still in L2 when it is hashed after the read.
constexpr size_t kCopyBufferBytes = 256 << 10;

// Owns a descriptor. Move-only.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

Status Errno(std::string_view what, int err) {
  return Internal(fmt::format("{}: {}", what, std::strerror(err)));
}

// A file found by a walk, with its stat data.
struct WalkedFile {
  std::string path;  // relative to the walked target
  FileStamp stamp;
};

struct WalkResult {
  std::vector<WalkedFile> files;
  int64_t skipped = 0;  // symlinks, sockets, FIFOs, devices
};

// Walks a directory by descriptor, never following a symlink. Skips .git and
// .mlforge directories.
Status WalkDir(int dir_fd, const std::string& prefix, WalkResult& out, int depth) {
  if (depth > 256) return InvalidArgument("Directory tree too deep at '" + prefix + "'");
  DIR* dir = ::fdopendir(dir_fd);
  if (dir == nullptr) {
    ::close(dir_fd);
    return Errno("cannot list directory", errno);
  }
  std::vector<std::string> subdirs;
  while (struct dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(::dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // raced away
    std::string rel = prefix.empty() ? std::string(name) : prefix + "/" + std::string(name);
    if (S_ISDIR(st.st_mode)) {
      if (name == ".git" || name == kStateDir) continue;
      subdirs.push_back(std::move(rel));
    } else if (S_ISREG(st.st_mode)) {
      out.files.push_back(WalkedFile{std::move(rel), StampOf(st)});
    } else {
      ++out.skipped;
    }
  }
  Status status;
  for (const std::string& rel : subdirs) {
    std::string_view name = std::string_view(rel).substr(prefix.empty() ? 0 : prefix.size() + 1);
    int fd = ::openat(::dirfd(dir), std::string(name).c_str(),
                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ELOOP || errno == ENOTDIR) continue;  // swapped for a symlink meanwhile
      status = Errno("cannot open directory", errno);
      break;
    }
    status = WalkDir(fd, rel, out, depth + 1);
    if (!status.ok()) break;
  }
  ::closedir(dir);
  return status;
}

// Opens (creating with create) the directory at `rel` below dir_fd, one
// component at a time, refusing symlinks: a checkout never writes through one.
Result<Fd> OpenDirChain(int dir_fd, std::string_view rel, bool create) {
  Fd current(::dup(dir_fd));
  size_t start = 0;
  while (start < rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    std::string name(rel.substr(start, end - start));
    int fd = ::openat(current.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(current.get(), name.c_str(), 0777) != 0 && errno != EEXIST) {
        return Err(Errno("cannot create directory", errno));
      }
      fd = ::openat(current.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      if (errno == ELOOP || errno == ENOTDIR) {
        return Err(Status(ErrorCode::kPermissionDenied,
                          fmt::format("'{}' is a symbolic link or a file; refusing to write through it",
                                      rel.substr(0, end))));
      }
      return Err(Errno(fmt::format("cannot open directory '{}'", rel.substr(0, end)), errno));
    }
    current = Fd(fd);
    start = end + 1;
  }
  return current;
}

// Copies an object (src_fd is object.file) to dst -- a reflink where the
// filesystem can and the object is a whole file -- hashing the bytes that
// end up in dst. Returns their sha256 hex.
Result<std::string> CloneOrCopyHashing(int src_fd, const ObjectLocation& object, int dst_fd) {
  Sha256 hash;
  auto buffer = std::make_unique<char[]>(kCopyBufferBytes);
  bool cloned = !object.packed && ::ioctl(dst_fd, FICLONE, src_fd) == 0;
  int read_fd = cloned ? dst_fd : src_fd;
  // A packed object is a range of its pack; a loose one is read to EOF.
  int64_t offset = cloned ? 0 : object.offset;
  const int64_t end = object.packed ? object.offset + object.size : INT64_MAX;
  for (;;) {
    size_t want = static_cast<size_t>(std::min<int64_t>(kCopyBufferBytes, end - offset));
    if (want == 0) break;
    ssize_t n = ::pread(read_fd, buffer.get(), want, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Err(Errno("cannot read cache object", errno));
    }
    if (n == 0) break;
    hash.Update(buffer.get(), static_cast<size_t>(n));
    if (!cloned) {
      for (ssize_t done = 0; done < n;) {
        ssize_t w = ::write(dst_fd, buffer.get() + done, static_cast<size_t>(n - done));
        if (w < 0) {
          if (errno == EINTR) continue;
          return Err(Errno("cannot write file", errno));
        }
        done += w;
      }
    }
    offset += n;
  }
  return hash.FinishHex();
}

std::string Basename(const fs::path& p) { return p.filename().string(); }

class WorkspaceImpl final : public Workspace {
 public:
  WorkspaceImpl(fs::path root, std::unique_ptr<ObjectCache> cache, const Clock& clock)
      : root_(std::move(root)),
        state_(root_ / kStateDir),
        cache_(std::move(cache)),
        clock_(clock),
        stat_cache_(state_ / "stat-cache") {}

  const fs::path& root() const override { return root_; }
  ObjectCache& cache() override { return *cache_; }

  Result<AddResult> Add(const fs::path& target, const AddOptions& options) override;
  Result<StatusReport> Status(const fs::path& pointer_file) override;
  Result<CheckoutResult> Checkout(const fs::path& pointer_file,
                                  const CheckoutOptions& options) override;
  Result<Manifest> LoadManifest(std::string_view version_id) override;
  Result<std::string> StoreManifest(const Manifest& manifest) override;
  Result<std::vector<LogEntry>> Log(std::string_view dataset) override;
  Result<std::vector<fs::path>> FindPointers() override;
  Result<LocalGcResult> CollectGarbage(const std::vector<std::string>& keep_versions,
                                       bool dry_run) override;

 private:
  // The workspace-relative form of a path inside the workspace.
  Result<std::string> Relative(const fs::path& p) const;

  struct Scan {
    bool is_directory = false;
    std::vector<ManifestEntry> entries;
    int64_t files_hashed = 0;
    int64_t skipped = 0;
  };
  // Lists the target and finds every file's sha256: from the stat cache when
  // its stamp matches, else by reading it (and, with store, keeping its
  // content in the cache).
  Result<Scan> ScanTarget(const fs::path& target, bool store, int threads, ProgressSink* progress);

  mlforge::Status AppendLog(const LogEntry& entry);

  const fs::path root_;   // absolute, normal
  const fs::path state_;  // root_/.mlforge
  std::unique_ptr<ObjectCache> cache_;
  const Clock& clock_;
  StatCache stat_cache_;
  bool stat_cache_loaded_ = false;
};

Result<std::string> WorkspaceImpl::Relative(const fs::path& p) const {
  fs::path abs = fs::absolute(p).lexically_normal();
  if (abs.has_filename() == false) abs = abs.parent_path();
  fs::path rel = abs.lexically_relative(root_);
  std::string s = rel.generic_string();
  if (s.empty() || s == "." || s.starts_with("../") || s == "..") {
    return Err(InvalidArgument(fmt::format("'{}' is not inside the workspace", p.string())));
  }
  if (s == kStateDir || s.starts_with(std::string(kStateDir) + "/")) {
    return Err(InvalidArgument("Cannot track the workspace's own .mlforge directory"));
  }
  return s;
}

Result<WorkspaceImpl::Scan> WorkspaceImpl::ScanTarget(const fs::path& target, bool store,
                                                      int threads, ProgressSink* progress) {
  ASSIGN_OR_RETURN(std::string target_rel, Relative(target));
  fs::path abs = root_ / target_rel;
  // The stat cache loads on another core while this one walks the tree:
  // on a no-op status of 100k files the two take about as long.
  std::future<void> stat_cache_load;
  if (!stat_cache_loaded_) {
    stat_cache_load = std::async(std::launch::async, [this] { stat_cache_.Load(); });
    stat_cache_loaded_ = true;
  }
  struct JoinLoad {
    std::future<void>& f;
    ~JoinLoad() {
      if (f.valid()) f.wait();
    }
  } join_load{stat_cache_load};
  Scan scan;
  WalkResult walk;
  struct stat st;
  if (::lstat(abs.c_str(), &st) != 0) {
    return Err(NotFound(fmt::format("'{}' does not exist", target.string())));
  }
  if (S_ISLNK(st.st_mode)) {
    return Err(InvalidArgument(
        fmt::format("'{}' is a symbolic link; mlforge never follows links", target.string())));
  }
  if (S_ISDIR(st.st_mode)) {
    scan.is_directory = true;
    int fd = ::open(abs.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Err(Errno("cannot open directory " + target.string(), errno));
    RETURN_IF_ERROR(WalkDir(fd, "", walk, 0));
  } else if (S_ISREG(st.st_mode)) {
    walk.files.push_back(WalkedFile{Basename(abs), StampOf(st)});
  } else {
    return Err(InvalidArgument(fmt::format("'{}' is not a regular file or directory", target.string())));
  }
  scan.skipped = walk.skipped;
  for (const WalkedFile& f : walk.files) RETURN_IF_ERROR(ValidateManifestPath(f.path));

  if (stat_cache_load.valid()) stat_cache_load.get();
  // The stat cache is keyed by workspace-relative path.
  auto cache_key = [&](const WalkedFile& f) {
    return scan.is_directory ? target_rel + "/" + f.path : target_rel;
  };
  auto disk_path = [&](const WalkedFile& f) { return scan.is_directory ? abs / f.path : abs; };

  size_t n = walk.files.size();
  scan.entries.resize(n);
  std::vector<size_t> to_hash;
  for (size_t i = 0; i < n; ++i) {
    const WalkedFile& f = walk.files[i];
    std::string sha = stat_cache_.Lookup(cache_key(f), f.stamp);
    scan.entries[i] = ManifestEntry{f.path, sha, f.stamp.size};
    if (sha.empty()) to_hash.push_back(i);
  }
  std::atomic<int64_t> done{0}, bytes{0};
  const int64_t total = static_cast<int64_t>(to_hash.size());
  // Hashes (and stores) one file; records (stamp, sha) for the stat cache.
  struct Hashed {
    FileStamp stamp;
    int64_t hashed_at = 0;
  };
  std::vector<Hashed> hashed(to_hash.size());
  // Small contents go into packs (one file per worker, not one per object).
  std::unique_ptr<ObjectCache::PackWriter> packs;
  if (store) {
    ASSIGN_OR_RETURN(packs, cache_->BeginPacks(threads));
  }
  auto store_small = [&](int worker, std::string_view bytes) -> Result<std::string> {
    if (static_cast<int64_t>(bytes.size()) > ObjectCache::kPackObjectBytes) {
      // Put hashes, skips content the cache has and stores the rest once.
      return cache_->Put(bytes);
    }
    std::string sha = Sha256::HexOf(bytes);
    RETURN_IF_ERROR(packs->Add(worker, sha, bytes));
    return sha;
  };
  RETURN_IF_ERROR(ParallelFor(to_hash.size(), threads, [&](size_t k, int worker) -> mlforge::Status {
    size_t i = to_hash[k];
    const WalkedFile& f = walk.files[i];
    fs::path p = disk_path(f);
    int64_t started = NowNanos();
    Fd fd(::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid()) return Errno(fmt::format("cannot open '{}'", p.string()), errno);
    struct stat fst;
    if (::fstat(fd.get(), &fst) != 0) return Errno("cannot stat file", errno);
    if (!S_ISREG(fst.st_mode)) {
      return InvalidArgument(fmt::format("'{}' is no longer a regular file", p.string()));
    }
    std::string sha;
    if (fst.st_size <= kWholeFileBytes) {
      thread_local std::string buffer;
      buffer.resize(static_cast<size_t>(fst.st_size));
      size_t got = 0;
      while (got < buffer.size()) {
        ssize_t r = ::pread(fd.get(), buffer.data() + got, buffer.size() - got,
                            static_cast<off_t>(got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return Errno(fmt::format("cannot read '{}'", p.string()), errno);
        if (r == 0) break;
        got += static_cast<size_t>(r);
      }
      buffer.resize(got);  // shrank while we read: what we hashed is what we store
      if (store) {
        ASSIGN_OR_RETURN(sha, store_small(worker, buffer));
      } else {
        sha = Sha256::HexOf(buffer);
      }
      fst.st_size = static_cast<off_t>(got);
    } else if (store) {
      // Streams into the cache, hashing what it writes.
      ASSIGN_OR_RETURN(sha, cache_->PutFile(p));
    } else if (void* map = ::mmap(nullptr, static_cast<size_t>(fst.st_size), PROT_READ,
                                  MAP_PRIVATE, fd.get(), 0);
               map != MAP_FAILED) {
      // Hash straight from the page cache: no copy through a buffer.
      ::madvise(map, static_cast<size_t>(fst.st_size), MADV_SEQUENTIAL);
      Sha256 h;
      h.Update(map, static_cast<size_t>(fst.st_size));
      ::munmap(map, static_cast<size_t>(fst.st_size));
      sha = h.FinishHex();
    } else {
      Sha256 h;
      auto buf = std::make_unique<char[]>(kCopyBufferBytes);
      for (;;) {
        ssize_t r = ::read(fd.get(), buf.get(), kCopyBufferBytes);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return Errno(fmt::format("cannot read '{}'", p.string()), errno);
        if (r == 0) break;
        h.Update(buf.get(), static_cast<size_t>(r));
      }
      sha = h.FinishHex();
    }
    scan.entries[i].sha256 = sha;
    scan.entries[i].size = fst.st_size;
    hashed[k] = Hashed{StampOf(fst), started};
    int64_t d = done.fetch_add(1, std::memory_order_relaxed) + 1;
    int64_t b = bytes.fetch_add(fst.st_size, std::memory_order_relaxed) + fst.st_size;
    if (progress) progress->Update("hashing", d, total, b);
    return mlforge::Status::Ok();
  }));
  for (size_t k = 0; k < to_hash.size(); ++k) {
    const WalkedFile& f = walk.files[to_hash[k]];
    // Recorded under the stamp seen after opening: a file replaced between
    // walk and open is keyed by what was actually read.
    stat_cache_.Record(cache_key(f), hashed[k].stamp, scan.entries[to_hash[k]].sha256,
                       hashed[k].hashed_at);
  }
  if (store) {
    // Content known from the stat cache may have been collected since.
    std::vector<size_t> known;
    std::vector<char> fresh(n, 0);
    for (size_t k : to_hash) fresh[k] = 1;
    for (size_t i = 0; i < n; ++i) {
      if (!fresh[i]) known.push_back(i);
    }
    RETURN_IF_ERROR(ParallelFor(known.size(), threads, [&](size_t k, int worker) -> mlforge::Status {
      size_t i = known[k];
      if (cache_->Exists(scan.entries[i].sha256)) return mlforge::Status::Ok();
      fs::path p = disk_path(walk.files[i]);
      std::string sha;
      if (scan.entries[i].size <= ObjectCache::kPackObjectBytes) {
        std::ifstream in(p, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (!in.good() && !in.eof()) return InvalidArgument(fmt::format("cannot read '{}'", p.string()));
        ASSIGN_OR_RETURN(sha, store_small(worker, bytes));
      } else {
        ASSIGN_OR_RETURN(sha, cache_->PutFile(p));
      }
      if (sha != scan.entries[i].sha256) {
        return InvalidArgument(
            fmt::format("'{}' changed while it was being added", walk.files[i].path));
      }
      return mlforge::Status::Ok();
    }));
  }
  if (packs) RETURN_IF_ERROR(packs->Commit());
  if (progress) progress->Finish();
  scan.files_hashed = total;
  if (stat_cache_.dirty()) RETURN_IF_ERROR(stat_cache_.Save());
  return scan;
}

Result<AddResult> WorkspaceImpl::Add(const fs::path& target, const AddOptions& options) {
  fs::path abs = fs::absolute(target).lexically_normal();
  if (!abs.has_filename()) abs = abs.parent_path();
  std::string dataset = options.dataset.empty() ? Basename(abs) : options.dataset;
  RETURN_IF_ERROR(ValidateDatasetName(dataset));
  ASSIGN_OR_RETURN(Scan scan, ScanTarget(abs, /*store=*/true, ThreadsOrCores(options.threads),
                                         options.progress));
  ASSIGN_OR_RETURN(Manifest manifest, MakeManifest(std::move(scan.entries)));
  ASSIGN_OR_RETURN(std::string version_id, StoreManifest(manifest));
  AddResult result;
  result.pointer = Pointer{.path = Basename(abs),
                           .is_directory = scan.is_directory,
                           .version_id = version_id,
                           .size = manifest.TotalSize(),
                           .file_count = static_cast<int64_t>(manifest.entries.size()),
                           .dataset = dataset};
  result.pointer_file = PointerFileFor(abs);
  result.files_hashed = scan.files_hashed;
  result.symlinks_skipped = scan.skipped;
  RETURN_IF_ERROR(WritePointer(result.pointer_file, result.pointer));
  ASSIGN_OR_RETURN(std::string pointer_rel, Relative(result.pointer_file));
  RETURN_IF_ERROR(AppendLog(LogEntry{.time_millis = clock_.NowMillis(),
                                     .dataset = dataset,
                                     .version_id = version_id,
                                     .file_count = result.pointer.file_count,
                                     .size = result.pointer.size,
                                     .path = pointer_rel}));
  return result;
}

Result<StatusReport> WorkspaceImpl::Status(const fs::path& pointer_file) {
  StatusReport report;
  ASSIGN_OR_RETURN(report.pointer, ReadPointer(pointer_file));
  // Reading, verifying and parsing the recorded manifest overlaps the walk.
  auto recorded_future = std::async(std::launch::async,
                                    [&] { return LoadManifest(report.pointer.version_id); });
  fs::path target = fs::absolute(pointer_file).parent_path() / report.pointer.path;
  struct stat st;
  if (::lstat(target.c_str(), &st) != 0) {
    ASSIGN_OR_RETURN(Manifest recorded, recorded_future.get());
    report.target_missing = true;
    report.changes.removed = recorded.entries;
    return report;
  }
  Result<Scan> scanned = ScanTarget(target, /*store=*/false, 0, nullptr);
  Result<Manifest> recorded = recorded_future.get();
  if (!scanned.has_value()) return Err(std::move(scanned).error());
  if (!recorded.has_value()) return Err(std::move(recorded).error());
  Scan& scan = *scanned;
  report.files_hashed = scan.files_hashed;
  report.symlinks_skipped = scan.skipped;
  std::sort(scan.entries.begin(), scan.entries.end(),
            [](const ManifestEntry& a, const ManifestEntry& b) { return a.path < b.path; });
  report.changes = DiffManifests(*recorded, Manifest{std::move(scan.entries)});
  return report;
}

Result<CheckoutResult> WorkspaceImpl::Checkout(const fs::path& pointer_file,
                                               const CheckoutOptions& options) {
  ASSIGN_OR_RETURN(Pointer pointer, ReadPointer(pointer_file));
  ASSIGN_OR_RETURN(Manifest manifest, LoadManifest(pointer.version_id));
  fs::path parent = fs::absolute(pointer_file).parent_path().lexically_normal();
  ASSIGN_OR_RETURN(std::string target_rel, Relative(parent / pointer.path));
  if (!pointer.is_directory && manifest.entries.size() != 1) {
    return Err(InvalidArgument("A file pointer must name a manifest of exactly one file"));
  }
  // Every object must be present and intact before any file is replaced.
  for (const ManifestEntry& e : manifest.entries) {
    if (!cache_->Exists(e.sha256)) {
      return Err(NotFound(fmt::format(
          "Object {} ('{}') is not in the cache; run `mlforge data pull` first", e.sha256, e.path)));
    }
  }
  Fd root_fd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) return Err(Errno("cannot open workspace", errno));
  // The parent of the target must be a real directory chain inside the workspace.
  std::string parent_rel = fs::path(target_rel).parent_path().generic_string();
  ASSIGN_OR_RETURN(Fd parent_fd, OpenDirChain(root_fd.get(), parent_rel, /*create=*/true));
  Fd base_fd;  // the directory entries are relative to
  if (pointer.is_directory) {
    ASSIGN_OR_RETURN(base_fd, OpenDirChain(parent_fd.get(), pointer.path, /*create=*/true));
  } else {
    base_fd = std::move(parent_fd);
  }
  if (!stat_cache_loaded_) {
    stat_cache_.Load();
    stat_cache_loaded_ = true;
  }
  auto cache_key = [&](const ManifestEntry& e) {
    return pointer.is_directory ? target_rel + "/" + e.path : target_rel;
  };
  auto name_in_base = [&](const ManifestEntry& e) {
    return pointer.is_directory ? e.path : pointer.path;
  };

  CheckoutResult result;
  std::atomic<int64_t> written{0}, unchanged{0}, done{0};
  std::mutex stat_mu;  // guards stat_cache_ during the parallel part
  const int64_t total = static_cast<int64_t>(manifest.entries.size());
  RETURN_IF_ERROR(ParallelFor(manifest.entries.size(), ThreadsOrCores(options.threads),
                              [&](size_t i) -> mlforge::Status {
    const ManifestEntry& e = manifest.entries[i];
    std::string rel = name_in_base(e);
    size_t slash = rel.rfind('/');
    std::string dir_rel = slash == std::string::npos ? "" : rel.substr(0, slash);
    std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
    ASSIGN_OR_RETURN(Fd dir, OpenDirChain(base_fd.get(), dir_rel, /*create=*/true));
    struct stat st;
    if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (S_ISDIR(st.st_mode)) {
        return InvalidArgument(fmt::format("'{}' is a directory in the workspace", rel));
      }
      if (S_ISREG(st.st_mode)) {
        std::string known;
        {
          std::lock_guard lock(stat_mu);
          known = stat_cache_.Lookup(cache_key(e), StampOf(st));
        }
        if (known == e.sha256) {
          unchanged.fetch_add(1);
          done.fetch_add(1);
          return mlforge::Status::Ok();
        }
      }
      // Anything else (a symlink included) is replaced by the rename below,
      // which never follows it.
    }
    ASSIGN_OR_RETURN(ObjectLocation object, cache_->Locate(e.sha256));
    Fd src(::open(object.file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!src.valid()) return Errno("cannot open cache object " + e.sha256, errno);
    std::string tmp_name = fmt::format(".{}.mlforge-tmp-{}-{}", name.substr(0, 64), ::getpid(), i);
    int64_t started = NowNanos();
    Fd dst(::openat(dir.get(), tmp_name.c_str(),
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666));
    if (!dst.valid()) return Errno(fmt::format("cannot create a file in '{}'", dir_rel), errno);
    auto copied = CloneOrCopyHashing(src.get(), object, dst.get());
    if (!copied.has_value() || *copied != e.sha256) {
      ::unlinkat(dir.get(), tmp_name.c_str(), 0);
      if (!copied.has_value()) return copied.error();
      return Internal(fmt::format(
          "Cache object {} ('{}') is corrupted (its content hashes to {}); it was not checked "
          "out. Remove it and pull it again.",
          e.sha256, e.path, *copied));
    }
    struct stat written_st;
    if (::fstat(dst.get(), &written_st) != 0) return Errno("cannot stat file", errno);
    if (::renameat(dir.get(), tmp_name.c_str(), dir.get(), name.c_str()) != 0) {
      int err = errno;
      ::unlinkat(dir.get(), tmp_name.c_str(), 0);
      return Errno(fmt::format("cannot write '{}'", rel), err);
    }
    {
      std::lock_guard lock(stat_mu);
      stat_cache_.Record(cache_key(e), StampOf(written_st), e.sha256, started);
    }
    written.fetch_add(1);
    int64_t d = done.fetch_add(1) + 1;
    if (options.progress) options.progress->Update("checking out", d, total, 0);
    return mlforge::Status::Ok();
  }));
  result.files_written = written.load();
  result.files_unchanged = unchanged.load();

  if (pointer.is_directory && options.remove_extra) {
    WalkResult walk;
    int fd = ::dup(base_fd.get());
    ::lseek(fd, 0, SEEK_SET);
    RETURN_IF_ERROR(WalkDir(fd, "", walk, 0));
    std::unordered_set<std::string_view> listed;
    for (const ManifestEntry& e : manifest.entries) listed.insert(e.path);
    for (const WalkedFile& f : walk.files) {
      if (listed.contains(f.path)) continue;
      if (::unlinkat(base_fd.get(), f.path.c_str(), 0) == 0) ++result.files_removed;
    }
  }
  if (options.progress) options.progress->Finish();
  if (stat_cache_.dirty()) RETURN_IF_ERROR(stat_cache_.Save());
  return result;
}

Result<Manifest> WorkspaceImpl::LoadManifest(std::string_view version_id) {
  if (!IsSha256Hex(version_id)) return Err(InvalidArgument("Invalid version id"));
  auto text = cache_->Read(version_id);
  if (!text.has_value()) {
    if (text.error().code() == ErrorCode::kResourceDoesNotExist) {
      return Err(NotFound(fmt::format(
          "Version {} is not in the cache; run `mlforge data pull` first", version_id)));
    }
    return Err(text.error());
  }
  if (Sha256::HexOf(*text) != version_id) {
    return Err(Internal(fmt::format("Cache object {} (a manifest) is corrupted", version_id)));
  }
  return ParseManifest(*text);
}

Result<std::string> WorkspaceImpl::StoreManifest(const Manifest& manifest) {
  return cache_->Put(EncodeManifest(manifest));
}

mlforge::Status WorkspaceImpl::AppendLog(const LogEntry& e) {
  std::string line = fmt::format("{}\t{}\t{}\t{}\t{}\t{}\n", e.time_millis, e.dataset,
                                 e.version_id, e.file_count, e.size, e.path);
  // One write with O_APPEND: concurrent adds never interleave lines.
  Fd fd(::open((state_ / "log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!fd.valid()) return Errno("cannot open the version log", errno);
  if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return Errno("cannot write the version log", errno);
  }
  return mlforge::Status::Ok();
}

Result<std::vector<LogEntry>> WorkspaceImpl::Log(std::string_view dataset) {
  std::vector<LogEntry> out;
  std::ifstream in(state_ / "log");
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    size_t start = 0;
    for (size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) {
      f.push_back(line.substr(start, tab - start));
    }
    f.push_back(line.substr(start));
    if (f.size() != 6 || !IsSha256Hex(f[2])) continue;  // a torn or foreign line
    if (!dataset.empty() && f[1] != dataset) continue;
    out.push_back(LogEntry{.time_millis = std::atoll(f[0].c_str()),
                           .dataset = f[1],
                           .version_id = f[2],
                           .file_count = std::atoll(f[3].c_str()),
                           .size = std::atoll(f[4].c_str()),
                           .path = f[5]});
  }
  return out;
}

Result<std::vector<fs::path>> WorkspaceImpl::FindPointers() {
  int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Err(Errno("cannot open workspace", errno));
  WalkResult walk;
  RETURN_IF_ERROR(WalkDir(fd, "", walk, 0));
  std::vector<fs::path> out;
  for (const WalkedFile& f : walk.files) {
    if (f.path.ends_with(kPointerSuffix)) out.push_back(root_ / f.path);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<LocalGcResult> WorkspaceImpl::CollectGarbage(const std::vector<std::string>& keep_versions,
                                                    bool dry_run) {
  std::vector<std::string> versions = keep_versions;
  ASSIGN_OR_RETURN(std::vector<fs::path> pointers, FindPointers());
  for (const fs::path& p : pointers) {
    auto pointer = ReadPointer(p);
    // An unreadable pointer could name anything: refuse rather than guess.
    if (!pointer.has_value()) {
      return Err(InvalidArgument(fmt::format("Cannot read {}: {}; not collecting", p.string(),
                                             pointer.error().message())));
    }
    versions.push_back(pointer->version_id);
  }
  std::unordered_set<std::string> keep;
  for (const std::string& v : versions) {
    keep.insert(v);
    auto manifest = LoadManifest(v);
    if (!manifest.has_value()) continue;  // not in the cache: nothing of it to keep
    for (const ManifestEntry& e : manifest->entries) keep.insert(e.sha256);
  }
  LocalGcResult result;
  RETURN_IF_ERROR(cache_->RemoveAllExcept(keep, dry_run, result));
  return result;
}

}  // namespace

Result<std::unique_ptr<Workspace>> Workspace::Open(const fs::path& root, const Clock& clock) {
  std::error_code ec;
  fs::path abs = fs::weakly_canonical(fs::absolute(root), ec);
  if (ec) return Err(InvalidArgument("Cannot resolve workspace " + root.string()));
  fs::create_directories(abs / kStateDir, ec);
  if (ec) return Err(Internal("Cannot create " + (abs / kStateDir).string() + ": " + ec.message()));
  ASSIGN_OR_RETURN(std::unique_ptr<ObjectCache> cache, ObjectCache::Open(abs / kStateDir / "cache"));
  return std::unique_ptr<Workspace>(new WorkspaceImpl(abs, std::move(cache), clock));
}

std::optional<fs::path> Workspace::Find(const fs::path& start) {
  std::error_code ec;
  fs::path dir = fs::weakly_canonical(fs::absolute(start), ec);
  if (ec) return std::nullopt;
  for (;;) {
    if (fs::is_directory(dir / kStateDir, ec)) return dir;
    if (!dir.has_parent_path() || dir.parent_path() == dir) return std::nullopt;
    dir = dir.parent_path();
  }
}

}  // namespace mlforge::data

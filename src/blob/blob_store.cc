// Local-filesystem BlobStore. Layout and invariants: docs/blob.md.
#include <dirent.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <stdio.h>  // renameat2, RENAME_NOREPLACE (glibc >= 2.28)
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <system_error>

#include "base/hash.h"
#include "base/log.h"
#include "blob/blob_store_impl.h"

namespace mlforge::blob {
namespace {

namespace fs = std::filesystem;

// Read-only: a view is a hard link to the same inode, so a writable object
// could be corrupted in place through any of its names.
constexpr mode_t kObjectMode = 0444;

Status CheckSha(std::string_view sha256) {
  if (IsSha256Hex(sha256)) return Status::Ok();
  return InvalidArgument("Invalid blob id: expected 64 lowercase hex characters");
}

// renameat2(RENAME_NOREPLACE); EINVAL/ENOSYS/ENOTSUP mean the filesystem
// cannot do it, and callers choose their fallback.
int RenameNoReplace(int old_dir, const char* old_name, int new_dir, const char* new_name) {
  return ::renameat2(old_dir, old_name, new_dir, new_name, RENAME_NOREPLACE) == 0 ? 0 : errno;
}

bool NoReplaceUnsupported(int err) { return err == EINVAL || err == ENOSYS || err == ENOTSUP; }

// Refuses content whose hash is not the name it was sent under.
Status CheckExpectedHash(std::string_view actual, std::string_view expected) {
  if (expected.empty() || actual == expected) return Status::Ok();
  return InvalidArgument(
      fmt::format("Content hash mismatch: expected sha256 {}, got {}", expected, actual));
}

}  // namespace

TempFile::~TempFile() {
  if (!name_.empty()) ::unlinkat(dir_fd_, name_.c_str(), 0);
}

BlobStoreImpl::BlobStoreImpl(fs::path root, UniqueFd root_fd, UniqueFd objects_fd, UniqueFd tmp_fd)
    : root_(std::move(root)),
      root_fd_(std::move(root_fd)),
      objects_fd_(std::move(objects_fd)),
      tmp_fd_(std::move(tmp_fd)) {}

Result<std::unique_ptr<BlobStoreImpl>> BlobStoreImpl::Open(const fs::path& root) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return Err(Internal(fmt::format("cannot create blob store root: {}", ec.message())));
  // The root itself is operator configuration and may be a symlink; below it
  // nothing is followed.
  fs::path canonical = fs::canonical(root, ec);
  if (ec) return Err(Internal(fmt::format("cannot resolve blob store root: {}", ec.message())));
  UniqueFd root_fd(::open(canonical.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) return Err(ErrnoStatus("cannot open blob store root", errno));
  ASSIGN_OR_RETURN(UniqueFd objects_fd, OpenOrCreateDirAt(root_fd.get(), "objects"));
  ASSIGN_OR_RETURN(UniqueFd tmp_fd, OpenOrCreateDirAt(root_fd.get(), "tmp"));
  return std::unique_ptr<BlobStoreImpl>(new BlobStoreImpl(
      std::move(canonical), std::move(root_fd), std::move(objects_fd), std::move(tmp_fd)));
}

Result<std::unique_ptr<BlobStore>> BlobStore::Open(const fs::path& root) {
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStoreImpl> impl, BlobStoreImpl::Open(root));
  return std::unique_ptr<BlobStore>(std::move(impl));
}

std::string BlobStoreImpl::NewTempName() {
  // pid + this store's address + a counter: distinct across live stores and
  // processes; O_EXCL / EEXIST retries cover pid reuse after a crash.
  return fmt::format("{}-{:x}-{}", ::getpid(), reinterpret_cast<uintptr_t>(this),
                     temp_counter_.fetch_add(1, std::memory_order_relaxed));
}

Result<TempFile> BlobStoreImpl::CreateTempFile() {
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string name = NewTempName();
    int fd = ::openat(tmp_fd_.get(), name.c_str(),
                      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kObjectMode);
    if (fd >= 0) return TempFile(tmp_fd_.get(), std::move(name), UniqueFd(fd));
    if (errno != EEXIST) return Err(ErrnoStatus("cannot create temp file", errno));
  }
  return Err(Internal("cannot create temp file: too many name collisions"));
}

Result<UniqueFd> BlobStoreImpl::OpenShard(std::string_view sha256, bool create) const {
  std::string shard(sha256.substr(0, 2));
  if (create && ::mkdirat(objects_fd_.get(), shard.c_str(), 0755) != 0 && errno != EEXIST) {
    return Err(ErrnoStatus("cannot create object directory", errno));
  }
  int fd =
      ::openat(objects_fd_.get(), shard.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Err(NotFound(fmt::format("Blob {} does not exist", sha256)));
    return Err(ErrnoStatus("cannot open object directory", errno));
  }
  return UniqueFd(fd);
}

Result<UniqueFd> BlobStoreImpl::OpenObject(std::string_view sha256) const {
  RETURN_IF_ERROR(CheckSha(sha256));
  ASSIGN_OR_RETURN(UniqueFd shard, OpenShard(sha256, /*create=*/false));
  std::string name = ObjectFileName(sha256);
  UniqueFd fd(::openat(shard.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Err(NotFound(fmt::format("Blob {} does not exist", sha256)));
    return Err(ErrnoStatus(fmt::format("cannot open blob {}", sha256), errno));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Err(ErrnoStatus("cannot stat blob", errno));
  if (!S_ISREG(st.st_mode)) {
    return Err(Internal(fmt::format("blob {} is not a regular file", sha256)));
  }
  return fd;
}

Status BlobStoreImpl::CommitObject(TempFile& temp, std::string_view sha256) {
  ASSIGN_OR_RETURN(UniqueFd shard, OpenShard(sha256, /*create=*/true));
  std::string name = ObjectFileName(sha256);
  int err = RenameNoReplace(tmp_fd_.get(), temp.name().c_str(), shard.get(), name.c_str());
  if (err == 0) {
    temp.Disown();
    return Status::Ok();
  }
  if (NoReplaceUnsupported(err)) {
    // link() never replaces either; the temp name is dropped by its owner.
    err =
        ::linkat(tmp_fd_.get(), temp.name().c_str(), shard.get(), name.c_str(), 0) == 0 ? 0 : errno;
    if (err == 0) return Status::Ok();
  }
  if (err != EEXIST) return ErrnoStatus("cannot store blob", err);
  // Another writer stored the same bytes first; ours is dropped with temp.
  struct stat st;
  if (StatNoFollow(shard.get(), name.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Internal(fmt::format("blob {} exists but is not a regular file", sha256));
  }
  return Status::Ok();
}

Result<std::string> BlobStoreImpl::Put(std::string_view data) {
  std::string sha = Sha256::HexOf(data);
  if (Exists(sha)) return sha;  // dedup without writing
  // Fast path: an unnamed inode in the shard directory, linked to its final
  // name once complete. One directory entry instead of create + rename, and
  // link() never replaces an existing object either.
  {
    ASSIGN_OR_RETURN(UniqueFd shard, OpenShard(sha, /*create=*/true));
    UniqueFd fd(::openat(shard.get(), ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, kObjectMode));
    if (fd.valid()) {
      RETURN_IF_ERROR(WriteAll(fd.get(), data.data(), data.size()));
      std::string proc = fmt::format("/proc/self/fd/{}", fd.get());
      std::string name = ObjectFileName(sha);
      if (::linkat(AT_FDCWD, proc.c_str(), shard.get(), name.c_str(), AT_SYMLINK_FOLLOW) == 0 ||
          errno == EEXIST) {
        return sha;
      }
      // No /proc or a refusing filesystem: fall through to the temp-file path.
    }
  }
  ASSIGN_OR_RETURN(TempFile temp, CreateTempFile());
  RETURN_IF_ERROR(WriteAll(temp.fd(), data.data(), data.size()));
  RETURN_IF_ERROR(CommitObject(temp, sha));
  return sha;
}

Result<std::string> BlobStoreImpl::PutIfHashIs(std::string_view data,
                                               std::string_view expected_sha256) {
  RETURN_IF_ERROR(CheckSha(expected_sha256));
  RETURN_IF_ERROR(CheckExpectedHash(Sha256::HexOf(data), expected_sha256));
  return Put(data);
}

Result<std::string> BlobStoreImpl::TryMoveIn(const fs::path& source,
                                             std::string_view expected_sha256) {
  // Only a plain regular file with a single name may be adopted: a second
  // hard link (or a symlink's target) could be modified after we hash it.
  struct stat lst;
  if (::lstat(source.c_str(), &lst) != 0 || !S_ISREG(lst.st_mode) || lst.st_nlink != 1) {
    return std::string();
  }
  std::string name = NewTempName();
  int err = RenameNoReplace(AT_FDCWD, source.c_str(), tmp_fd_.get(), name.c_str());
  if (NoReplaceUnsupported(err)) {
    err = ::renameat(AT_FDCWD, source.c_str(), tmp_fd_.get(), name.c_str()) == 0 ? 0 : errno;
  }
  if (err != 0) return std::string();  // EXDEV (other filesystem) and the rest: copy instead
  UniqueFd fd(
      ::openat(tmp_fd_.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  TempFile temp(tmp_fd_.get(), std::move(name), UniqueFd());
  struct stat st;
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
    // The name was swapped between lstat and rename; the source is gone
    // either way, and what we caught is dropped with temp.
    return Err(InvalidArgument("Source file changed while it was being stored"));
  }
  ASSIGN_OR_RETURN(std::string sha, HashFd(fd.get()));
  RETURN_IF_ERROR(CheckExpectedHash(sha, expected_sha256));
  ::fchmod(fd.get(), kObjectMode);  // best effort: the owner may differ
  RETURN_IF_ERROR(CommitObject(temp, sha));
  return sha;
}

Result<std::string> BlobStoreImpl::PutFile(const fs::path& source, bool consume_source) {
  return PutFileChecked(source, consume_source, {});
}

Result<std::string> BlobStoreImpl::PutFileIfHashIs(const fs::path& source,
                                                   std::string_view expected_sha256,
                                                   bool consume_source) {
  Status valid = CheckSha(expected_sha256);
  if (!valid.ok()) {
    if (consume_source) ::unlink(source.c_str());
    return Err(std::move(valid));
  }
  return PutFileChecked(source, consume_source, expected_sha256);
}

Result<std::string> BlobStoreImpl::PutFileChecked(const fs::path& source, bool consume_source,
                                                  std::string_view expected_sha256) {
  if (consume_source) {
    ASSIGN_OR_RETURN(std::string sha, TryMoveIn(source, expected_sha256));
    if (!sha.empty()) return sha;
  }
  // Server-side path; only its file name goes into messages.
  std::string shown = source.filename().string();
  UniqueFd src(::open(source.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!src.valid()) {
    int err = errno;
    return Err(InvalidArgument(
        fmt::format("Cannot open source file '{}': {}", shown, std::strerror(err))));
  }
  struct stat st;
  if (::fstat(src.get(), &st) != 0) return Err(ErrnoStatus("cannot stat source file", errno));
  if (!S_ISREG(st.st_mode)) {
    return Err(InvalidArgument(fmt::format("Source '{}' is not a regular file", shown)));
  }
  ASSIGN_OR_RETURN(TempFile temp, CreateTempFile());
  Sha256 hash;
  ASSIGN_OR_RETURN(int64_t copied, CopyAndHash(src.get(), temp.fd(), &hash));
  (void)copied;
  std::string sha = hash.FinishHex();
  Status matches = CheckExpectedHash(sha, expected_sha256);
  if (matches.ok()) matches = CommitObject(temp, sha);
  if (consume_source && ::unlink(source.c_str()) != 0 && errno != ENOENT) {
    log::Warn("blob: stored '{}' but cannot remove it: {}", shown, std::strerror(errno));
  }
  RETURN_IF_ERROR(matches);
  return sha;
}

bool BlobStoreImpl::Exists(std::string_view sha256) const {
  if (!IsSha256Hex(sha256)) return false;
  auto shard = OpenShard(sha256, /*create=*/false);
  if (!shard.has_value()) return false;
  struct stat st;
  return StatNoFollow(shard->get(), ObjectFileName(sha256).c_str(), &st) == 0 &&
         S_ISREG(st.st_mode);
}

Result<fs::path> BlobStoreImpl::ObjectPath(std::string_view sha256) const {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenObject(sha256));
  return root_ / "objects" / std::string(sha256.substr(0, 2)) / ObjectFileName(sha256);
}

Result<std::string> BlobStoreImpl::Read(std::string_view sha256) const {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenObject(sha256));
  return ReadAll(fd.get());
}

Status BlobStoreImpl::ForEachObject(const std::function<void(const ObjectInfo&)>& fn) const {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 256; ++i) {
    const char shard_name[3] = {kHex[i >> 4], kHex[i & 15], 0};
    int shard_fd =
        ::openat(objects_fd_.get(), shard_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (shard_fd < 0) {
      if (errno == ENOENT) continue;
      return ErrnoStatus("cannot open object directory", errno);
    }
    DIR* dir = ::fdopendir(shard_fd);
    if (dir == nullptr) {
      ::close(shard_fd);
      return ErrnoStatus("cannot list object directory", errno);
    }
    while (struct dirent* entry = ::readdir(dir)) {
      std::string sha = std::string(shard_name) + entry->d_name;
      if (!IsSha256Hex(sha)) continue;  // ".", "..", strays
      struct stat st;
      if (StatNoFollow(::dirfd(dir), entry->d_name, &st) != 0 || !S_ISREG(st.st_mode)) continue;
      fn(ObjectInfo{.sha256 = std::move(sha),
                    .size = st.st_size,
                    .link_count = st.st_nlink,
                    .change_time_seconds = st.st_ctim.tv_sec});
    }
    ::closedir(dir);
  }
  return Status::Ok();
}

Result<bool> BlobStoreImpl::RemoveIfUnlinked(std::string_view sha256) {
  RETURN_IF_ERROR(CheckSha(sha256));
  ASSIGN_OR_RETURN(UniqueFd shard, OpenShard(sha256, /*create=*/false));
  std::string name = ObjectFileName(sha256);
  struct stat st;
  if (StatNoFollow(shard.get(), name.c_str(), &st) != 0) return false;
  if (!S_ISREG(st.st_mode) || st.st_nlink > 1) return false;
  // Move it aside first: a view that links the object between our stat and
  // the unlink would otherwise lose its object name silently.
  std::string aside = NewTempName();
  if (::renameat(shard.get(), name.c_str(), tmp_fd_.get(), aside.c_str()) != 0) {
    if (errno == ENOENT) return false;
    return Err(ErrnoStatus("cannot move blob aside", errno));
  }
  if (StatNoFollow(tmp_fd_.get(), aside.c_str(), &st) == 0 && st.st_nlink > 1) {
    int err = RenameNoReplace(tmp_fd_.get(), aside.c_str(), shard.get(), name.c_str());
    if (NoReplaceUnsupported(err)) {
      err = ::linkat(tmp_fd_.get(), aside.c_str(), shard.get(), name.c_str(), 0) == 0 ? 0 : errno;
    }
    ::unlinkat(tmp_fd_.get(), aside.c_str(), 0);  // gone already if the rename worked
    if (err != 0 && err != EEXIST) return Err(ErrnoStatus("cannot restore blob", err));
    return false;
  }
  ::unlinkat(tmp_fd_.get(), aside.c_str(), 0);
  return true;
}

}  // namespace mlforge::blob

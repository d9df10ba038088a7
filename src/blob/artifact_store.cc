// Path-addressed artifact views over the blob store. Layout: docs/blob.md.
//
// Containment does not rest on string checks alone: after
// NormalizeRelativePath, every location is reached from the open views/
// descriptor one component at a time with O_NOFOLLOW, and a symlink met on
// the way (planted by anyone with shell access) ends the operation. Every
// change to the tree is one rename(), link() or unlink(), so concurrent
// writers and deleters see old or new states, never partial files.
#include <dirent.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/log.h"
#include "blob/blob.h"
#include "blob/blob_store_impl.h"
#include "blob/fs_util.h"
#include "blob/path_util.h"

namespace mlforge::blob {
namespace {

namespace fs = std::filesystem;

// How often an operation that raced a concurrent Put/Delete is restarted.
constexpr int kMaxRaceRetries = 8;

// The internal "lost a race, start over" signal; also what callers get if
// the retries run out (HTTP 503: try again).
Status Raced(std::string_view path) {
  return Unavailable(
      fmt::format("Artifact '{}' changed concurrently; retry", EchoForMessage(path)));
}
bool IsRaced(const Status& s) { return s.code() == ErrorCode::kTemporarilyUnavailable; }

Status ArtifactNotFound(std::string_view path) {
  return NotFound(fmt::format("Artifact '{}' does not exist", EchoForMessage(path)));
}

Status SymlinkRefused(std::string_view path, std::string_view at) {
  return Status(ErrorCode::kPermissionDenied,
                fmt::format("Artifact path '{}' crosses a symbolic link at '{}'; symbolic links "
                            "in the artifact store are never followed",
                            EchoForMessage(path), EchoForMessage(at)));
}

// Segments of a NormalizeRelativePath result. Re-checks the invariant the
// *at walk relies on (openat would happily follow ".."), so a future caller
// that skips normalization fails closed instead of escaping.
Result<std::vector<std::string>> SplitPath(std::string_view normalized) {
  std::vector<std::string> segments;
  if (normalized.empty()) return segments;
  for (;;) {
    size_t slash = normalized.find('/');
    std::string_view segment = normalized.substr(0, slash);
    if (segment.empty() || segment == "." || segment == ".." ||
        segment.find('\0') != std::string_view::npos) {
      return Err(Internal("artifact path was not normalized"));
    }
    segments.emplace_back(segment);
    if (slash == std::string_view::npos) break;
    normalized.remove_prefix(slash + 1);
  }
  return segments;
}

// A fresh open file description of the directory behind fd (a dup() would
// share the readdir position with other threads).
Result<UniqueFd> ReopenDir(int dir_fd) {
  UniqueFd fd(::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Err(ErrnoStatus("cannot open artifact directory", errno));
  return fd;
}

struct DirEntry {
  std::string name;
  struct stat st;
};

// Entries of the directory behind dir_fd (lstat'ed; vanished ones skipped).
Result<std::vector<DirEntry>> ReadEntries(int dir_fd) {
  ASSIGN_OR_RETURN(UniqueFd fd, ReopenDir(dir_fd));
  DIR* dir = ::fdopendir(fd.get());
  if (dir == nullptr) return Err(ErrnoStatus("cannot read artifact directory", errno));
  fd.Release();  // owned by dir now
  std::unique_ptr<DIR, int (*)(DIR*)> closer(dir, &::closedir);
  std::vector<DirEntry> entries;
  for (;;) {
    errno = 0;
    const dirent* ent = ::readdir(dir);
    if (ent == nullptr) {
      if (errno != 0) return Err(ErrnoStatus("cannot read artifact directory", errno));
      break;
    }
    std::string_view name = ent->d_name;
    if (name == "." || name == "..") continue;
    DirEntry entry{std::string(name), {}};
    if (StatNoFollow(::dirfd(dir), entry.name.c_str(), &entry.st) != 0) continue;
    entries.push_back(std::move(entry));
  }
  return entries;
}

// Removes the directory `name` inside parent_fd and everything below it.
// Symlinks inside are unlinked, never followed. Objects are untouched: only
// view names go away.
Status RemoveTree(int parent_fd, const std::string& name, std::string_view path) {
  UniqueFd dir(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) {
    if (errno == ENOENT) return Status::Ok();                    // a concurrent Delete won
    if (errno == ENOTDIR || errno == ELOOP) return Raced(path);  // replaced meanwhile
    return ErrnoStatus("cannot open artifact directory", errno);
  }
  for (int pass = 0; pass < kMaxRaceRetries; ++pass) {
    ASSIGN_OR_RETURN(std::vector<DirEntry> entries, ReadEntries(dir.get()));
    for (const DirEntry& entry : entries) {
      if (S_ISDIR(entry.st.st_mode)) {
        RETURN_IF_ERROR(RemoveTree(dir.get(), entry.name, path));
      } else if (::unlinkat(dir.get(), entry.name.c_str(), 0) != 0 && errno != ENOENT) {
        if (errno == EISDIR) return Raced(path);
        return ErrnoStatus("cannot delete artifact", errno);
      }
    }
    if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) {
      return Status::Ok();
    }
    if (errno != ENOTEMPTY && errno != EEXIST) {
      return ErrnoStatus("cannot delete artifact directory", errno);
    }
    // A concurrent Put added an entry: sweep again.
  }
  return Raced(path);
}

// Thread-safe: descriptors opened once, and every tree change is atomic.
class ArtifactStoreImpl final : public ArtifactStore {
 public:
  ArtifactStoreImpl(std::unique_ptr<BlobStoreImpl> blobs, UniqueFd views_fd)
      : blobs_(std::move(blobs)),
        views_fd_(std::move(views_fd)),
        views_root_(blobs_->root() / "views") {}

  BlobStore& blobs() override { return *blobs_; }

  Result<FileInfo> Put(std::string_view path, std::string_view data) override {
    ASSIGN_OR_RETURN(std::string normalized, NormalizeRelativePath(path));
    ASSIGN_OR_RETURN(std::string sha, blobs_->Put(data));
    return LinkView(normalized, sha);
  }

  Result<FileInfo> PutFile(std::string_view path, const fs::path& source,
                           bool consume_source) override {
    // Validate before touching (possibly consuming) the source.
    ASSIGN_OR_RETURN(std::string normalized, NormalizeRelativePath(path));
    ASSIGN_OR_RETURN(std::string sha, blobs_->PutFile(source, consume_source));
    return LinkView(normalized, sha);
  }

  Result<fs::path> Resolve(std::string_view path) const override {
    ASSIGN_OR_RETURN(std::string normalized, NormalizeRelativePath(path));
    ASSIGN_OR_RETURN(FileHandle file, OpenNormalized(normalized));
    return views_root_ / normalized;
  }

  Result<FileHandle> OpenForRead(std::string_view path) const override {
    ASSIGN_OR_RETURN(std::string normalized, NormalizeRelativePath(path));
    return OpenNormalized(normalized);
  }

  Result<std::string> Read(std::string_view path) const override {
    ASSIGN_OR_RETURN(FileHandle file, OpenForRead(path));
    return ReadAll(file.fd());
  }

  Result<std::vector<FileInfo>> List(std::string_view dir) const override;
  Status Delete(std::string_view path) override;
  Result<int64_t> CopyTree(std::string_view from, std::string_view to) override;

 private:
  // Opens the directory named by `segments` below views/, creating missing
  // ones if create. Errors: kResourceDoesNotExist (missing, or a file on the
  // way, when !create), kInvalidParameterValue (a file on the way, when
  // create), kPermissionDenied (a symlink on the way), Raced.
  Result<UniqueFd> OpenDir(std::span<const std::string> segments, bool create,
                           std::string_view path) const;
  Result<FileHandle> OpenNormalized(const std::string& normalized) const;
  Result<FileInfo> LinkView(const std::string& normalized, std::string_view sha);
  Result<FileInfo> TryLinkView(const std::string& normalized,
                               const std::vector<std::string>& segments, std::string_view sha);
  // A new name in tmp/ for the object's bytes: a hard link, else a copy.
  Result<TempFile> MakeViewTemp(std::string_view sha);
  Status TryDelete(const std::string& normalized, const std::vector<std::string>& segments);
  // CopyTree's steps: one regular file (the entry `name` of src_dir_fd), and
  // one directory with everything below it.
  Status CopyFileTo(int src_dir_fd, const std::string& name, const std::string& dest);
  Status CopyDirTo(int src_dir_fd, const std::string& dest, int64_t& copied);

  const std::unique_ptr<BlobStoreImpl> blobs_;
  const UniqueFd views_fd_;
  const fs::path views_root_;
};

Result<UniqueFd> ArtifactStoreImpl::OpenDir(std::span<const std::string> segments, bool create,
                                            std::string_view path) const {
  ASSIGN_OR_RETURN(UniqueFd dir, ReopenDir(views_fd_.get()));
  std::string prefix;
  for (const std::string& segment : segments) {
    if (!prefix.empty()) prefix += '/';
    prefix += segment;
    UniqueFd next;
    for (int attempt = 0; attempt < kMaxRaceRetries && !next.valid(); ++attempt) {
      int fd =
          ::openat(dir.get(), segment.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) {
        next.Reset(fd);
        break;
      }
      int err = errno;
      if (err == ENOENT) {
        if (!create) return Err(ArtifactNotFound(path));
        if (::mkdirat(dir.get(), segment.c_str(), 0755) != 0 && errno != EEXIST) {
          // ENOENT: our parent was deleted under us.
          if (errno == ENOENT) return Err(Raced(path));
          return Err(ErrnoStatus("cannot create artifact directory", errno));
        }
        continue;
      }
      if (err != ENOTDIR && err != ELOOP) {
        return Err(ErrnoStatus("cannot open artifact directory", err));
      }
      struct stat st;
      int stat_err = StatNoFollow(dir.get(), segment.c_str(), &st);
      if (stat_err == ENOENT || (stat_err == 0 && S_ISDIR(st.st_mode))) continue;  // changed: retry
      if (stat_err != 0) return Err(ErrnoStatus("cannot stat artifact directory", stat_err));
      if (S_ISLNK(st.st_mode)) return Err(SymlinkRefused(path, prefix));
      if (!create) return Err(ArtifactNotFound(path));
      return Err(InvalidArgument(fmt::format("Cannot write artifact '{}': '{}' is a file",
                                             EchoForMessage(path), EchoForMessage(prefix))));
    }
    if (!next.valid()) return Err(Raced(path));
    dir = std::move(next);
  }
  return dir;
}

Result<FileHandle> ArtifactStoreImpl::OpenNormalized(const std::string& normalized) const {
  ASSIGN_OR_RETURN(std::vector<std::string> segments, SplitPath(normalized));
  ASSIGN_OR_RETURN(UniqueFd parent,
                   OpenDir(std::span(segments).first(segments.size() - 1), false, normalized));
  const std::string& leaf = segments.back();
  struct stat st;
  int err = StatNoFollow(parent.get(), leaf.c_str(), &st);
  if (err == ENOENT) return Err(ArtifactNotFound(normalized));
  if (err != 0) return Err(ErrnoStatus("cannot stat artifact", err));
  if (S_ISLNK(st.st_mode)) return Err(SymlinkRefused(normalized, normalized));
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    // Devices and FIFOs are not artifacts; do not even open them.
    return Err(
        Status(ErrorCode::kPermissionDenied,
               fmt::format("Artifact '{}' is not a regular file", EchoForMessage(normalized))));
  }
  // O_NONBLOCK: should a FIFO be swapped in after the check, opening it must
  // not hang a request thread.
  UniqueFd fd(::openat(parent.get(), leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    err = errno;
    if (err == ENOENT) return Err(ArtifactNotFound(normalized));
    if (err == ELOOP) return Err(SymlinkRefused(normalized, normalized));
    return Err(ErrnoStatus("cannot open artifact", err));
  }
  if (::fstat(fd.get(), &st) != 0) return Err(ErrnoStatus("cannot stat artifact", errno));
  if (S_ISDIR(st.st_mode)) {
    return Err(NotFound(
        fmt::format("Artifact '{}' is a directory, not a file", EchoForMessage(normalized))));
  }
  if (!S_ISREG(st.st_mode)) {
    return Err(
        Status(ErrorCode::kPermissionDenied,
               fmt::format("Artifact '{}' is not a regular file", EchoForMessage(normalized))));
  }
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags >= 0) ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  return FileHandle(fd.Release(), static_cast<int64_t>(st.st_size));
}

Result<TempFile> ArtifactStoreImpl::MakeViewTemp(std::string_view sha) {
  ASSIGN_OR_RETURN(UniqueFd shard, blobs_->OpenShard(sha, /*create=*/false));
  std::string object = ObjectFileName(sha);
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string name = blobs_->NewTempName();
    if (::linkat(shard.get(), object.c_str(), blobs_->tmp_fd(), name.c_str(), 0) == 0) {
      return TempFile(blobs_->tmp_fd(), std::move(name), UniqueFd());
    }
    int err = errno;
    if (err == EEXIST) continue;
    if (err == EXDEV || err == EPERM || err == EMLINK || err == EOPNOTSUPP) break;  // copy
    if (err == ENOENT) return Err(Internal(fmt::format("blob {} vanished while linking", sha)));
    return Err(ErrnoStatus("cannot link artifact", err));
  }
  // No hard link possible (link limit, filesystem, protected_hardlinks):
  // the view gets its own copy of the bytes.
  ASSIGN_OR_RETURN(UniqueFd object_fd, blobs_->OpenObject(sha));
  ASSIGN_OR_RETURN(TempFile temp, blobs_->CreateTempFile());
  ASSIGN_OR_RETURN(int64_t copied, CopyAndHash(object_fd.get(), temp.fd(), nullptr));
  (void)copied;
  return temp;
}

Result<FileInfo> ArtifactStoreImpl::LinkView(const std::string& normalized, std::string_view sha) {
  ASSIGN_OR_RETURN(std::vector<std::string> segments, SplitPath(normalized));
  Result<FileInfo> result = Err(Raced(normalized));
  for (int attempt = 0; attempt < kMaxRaceRetries; ++attempt) {
    result = TryLinkView(normalized, segments, sha);
    if (result.has_value() || !IsRaced(result.error())) break;
  }
  return result;
}

Result<FileInfo> ArtifactStoreImpl::TryLinkView(const std::string& normalized,
                                                const std::vector<std::string>& segments,
                                                std::string_view sha) {
  ASSIGN_OR_RETURN(UniqueFd parent,
                   OpenDir(std::span(segments).first(segments.size() - 1), true, normalized));
  const std::string& leaf = segments.back();
  struct stat st;
  int err = StatNoFollow(parent.get(), leaf.c_str(), &st);
  if (err == 0) {
    if (S_ISDIR(st.st_mode)) {
      return Err(InvalidArgument(fmt::format("Cannot write artifact '{}': it is a directory",
                                             EchoForMessage(normalized))));
    }
    // rename() would replace the link itself, not its target, but a planted
    // link is refused consistently for every operation.
    if (S_ISLNK(st.st_mode)) return Err(SymlinkRefused(normalized, normalized));
    if (!S_ISREG(st.st_mode)) {
      return Err(InvalidArgument(fmt::format("Cannot write artifact '{}': not a regular file",
                                             EchoForMessage(normalized))));
    }
    // Already a link to this object: nothing to change.
    ASSIGN_OR_RETURN(UniqueFd shard, blobs_->OpenShard(sha, /*create=*/false));
    struct stat object_st;
    if (StatNoFollow(shard.get(), ObjectFileName(sha).c_str(), &object_st) == 0 &&
        object_st.st_dev == st.st_dev && object_st.st_ino == st.st_ino) {
      return FileInfo{normalized, false, static_cast<int64_t>(st.st_size)};
    }
  } else if (err != ENOENT) {
    return Err(ErrnoStatus("cannot stat artifact", err));
  }

  ASSIGN_OR_RETURN(TempFile view, MakeViewTemp(sha));
  struct stat view_st;
  if (StatNoFollow(blobs_->tmp_fd(), view.name().c_str(), &view_st) != 0) {
    return Err(ErrnoStatus("cannot stat new artifact", errno));
  }
  // Atomic replace: readers see the old file or the new one, never neither.
  if (::renameat(blobs_->tmp_fd(), view.name().c_str(), parent.get(), leaf.c_str()) != 0) {
    err = errno;
    if (err == EISDIR || err == ENOTEMPTY || err == EEXIST) {
      return Err(InvalidArgument(fmt::format("Cannot write artifact '{}': it is a directory",
                                             EchoForMessage(normalized))));
    }
    if (err == ENOENT) return Err(Raced(normalized));  // parent deleted under us
    return Err(ErrnoStatus("cannot write artifact", err));
  }
  // Not Disown(): when the old view already was this very inode, rename()
  // succeeds without doing anything (POSIX) and the temp name must still go.
  return FileInfo{normalized, false, static_cast<int64_t>(view_st.st_size)};
}

Result<std::vector<FileInfo>> ArtifactStoreImpl::List(std::string_view dir) const {
  ASSIGN_OR_RETURN(std::string normalized, NormalizeRelativePath(dir, /*allow_empty=*/true));
  ASSIGN_OR_RETURN(std::vector<std::string> segments, SplitPath(normalized));
  Result<UniqueFd> dir_fd = OpenDir(segments, false, normalized);
  if (!dir_fd.has_value()) {
    // A missing directory or a file lists as empty, as MLflow does.
    if (dir_fd.error().code() == ErrorCode::kResourceDoesNotExist) return std::vector<FileInfo>();
    return Err(std::move(dir_fd).error());
  }
  ASSIGN_OR_RETURN(std::vector<DirEntry> entries, ReadEntries(dir_fd->get()));
  std::vector<FileInfo> out;
  out.reserve(entries.size());
  for (const DirEntry& entry : entries) {
    bool is_dir = S_ISDIR(entry.st.st_mode);
    if (!is_dir && !S_ISREG(entry.st.st_mode)) {
      // Symlinks, FIFOs, ...: not artifacts, and never followed.
      log::Debug("blob: listing skips a non-regular entry under '{}'", EchoForMessage(normalized));
      continue;
    }
    std::string child = normalized.empty() ? entry.name : normalized + "/" + entry.name;
    // Only names a client could address again are shown.
    auto check = NormalizeRelativePath(child);
    if (!check.has_value() || *check != child) continue;
    out.push_back(
        FileInfo{std::move(child), is_dir, is_dir ? 0 : static_cast<int64_t>(entry.st.st_size)});
  }
  std::sort(out.begin(), out.end(),
            [](const FileInfo& a, const FileInfo& b) { return a.path < b.path; });
  return out;
}

Status ArtifactStoreImpl::TryDelete(const std::string& normalized,
                                    const std::vector<std::string>& segments) {
  ASSIGN_OR_RETURN(UniqueFd parent,
                   OpenDir(std::span(segments).first(segments.size() - 1), false, normalized));
  const std::string& leaf = segments.back();
  struct stat st;
  int err = StatNoFollow(parent.get(), leaf.c_str(), &st);
  if (err == ENOENT) return ArtifactNotFound(normalized);
  if (err != 0) return ErrnoStatus("cannot stat artifact", err);
  if (S_ISLNK(st.st_mode)) return SymlinkRefused(normalized, normalized);
  if (S_ISDIR(st.st_mode)) return RemoveTree(parent.get(), leaf, normalized);
  if (::unlinkat(parent.get(), leaf.c_str(), 0) != 0) {
    if (errno == ENOENT) return ArtifactNotFound(normalized);
    if (errno == EISDIR) return Raced(normalized);
    return ErrnoStatus("cannot delete artifact", errno);
  }
  return Status::Ok();
}

Status ArtifactStoreImpl::Delete(std::string_view path) {
  ASSIGN_OR_RETURN(std::string normalized, NormalizeRelativePath(path));
  ASSIGN_OR_RETURN(std::vector<std::string> segments, SplitPath(normalized));
  Status status = Raced(normalized);
  for (int attempt = 0; attempt < kMaxRaceRetries; ++attempt) {
    status = TryDelete(normalized, segments);
    if (!IsRaced(status)) break;
  }
  return status;
}

Status ArtifactStoreImpl::CopyFileTo(int src_dir_fd, const std::string& name,
                                     const std::string& dest) {
  // A new name in tmp/ for the source's inode: the view already is a name of
  // its object, so this shares the object without reading it.
  std::optional<TempFile> temp;
  for (int attempt = 0; attempt < 16 && !temp; ++attempt) {
    std::string temp_name = blobs_->NewTempName();
    if (::linkat(src_dir_fd, name.c_str(), blobs_->tmp_fd(), temp_name.c_str(), 0) == 0) {
      temp.emplace(blobs_->tmp_fd(), std::move(temp_name), UniqueFd());
      break;
    }
    int err = errno;
    if (err == EEXIST) continue;
    if (err == ENOENT) return Status::Ok();  // deleted meanwhile: nothing to copy
    if (err == EXDEV || err == EPERM || err == EMLINK || err == EOPNOTSUPP) break;
    return ErrnoStatus("cannot link artifact", err);
  }
  if (!temp) {
    UniqueFd source(
        ::openat(src_dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!source.valid()) {
      if (errno == ENOENT || errno == ELOOP) return Status::Ok();  // changed meanwhile: skip
      return ErrnoStatus("cannot open artifact", errno);
    }
    struct stat st;
    if (::fstat(source.get(), &st) != 0) return ErrnoStatus("cannot stat artifact", errno);
    if (!S_ISREG(st.st_mode)) return Status::Ok();
    ASSIGN_OR_RETURN(TempFile copy, blobs_->CreateTempFile());
    ASSIGN_OR_RETURN(int64_t bytes, CopyAndHash(source.get(), copy.fd(), nullptr));
    (void)bytes;
    temp.emplace(std::move(copy));
  }
  // linkat() names what the entry is now: a symlink swapped in after the
  // listing must not become a view.
  struct stat linked;
  if (StatNoFollow(blobs_->tmp_fd(), temp->name().c_str(), &linked) != 0) {
    return ErrnoStatus("cannot stat new artifact", errno);
  }
  if (!S_ISREG(linked.st_mode)) return Status::Ok();

  ASSIGN_OR_RETURN(std::vector<std::string> segments, SplitPath(dest));
  for (int attempt = 0; attempt < kMaxRaceRetries; ++attempt) {
    ASSIGN_OR_RETURN(UniqueFd parent,
                     OpenDir(std::span(segments).first(segments.size() - 1), true, dest));
    const std::string& leaf = segments.back();
    struct stat st;
    int err = StatNoFollow(parent.get(), leaf.c_str(), &st);
    if (err == 0 && S_ISLNK(st.st_mode)) return SymlinkRefused(dest, dest);
    if (err == 0 && S_ISDIR(st.st_mode)) {
      return InvalidArgument(
          fmt::format("Cannot write artifact '{}': it is a directory", EchoForMessage(dest)));
    }
    if (::renameat(blobs_->tmp_fd(), temp->name().c_str(), parent.get(), leaf.c_str()) == 0) {
      return Status::Ok();  // the temp name is unlinked by ~TempFile (see TryLinkView)
    }
    err = errno;
    if (err != ENOENT) return ErrnoStatus("cannot write artifact", err);
    // The parent was deleted under us: open it again.
  }
  return Raced(dest);
}

Status ArtifactStoreImpl::CopyDirTo(int src_dir_fd, const std::string& dest, int64_t& copied) {
  ASSIGN_OR_RETURN(std::vector<std::string> segments, SplitPath(dest));
  // The destination directory exists afterwards even when the source is empty.
  ASSIGN_OR_RETURN(UniqueFd made, OpenDir(segments, true, dest));
  (void)made;
  ASSIGN_OR_RETURN(std::vector<DirEntry> entries, ReadEntries(src_dir_fd));
  for (const DirEntry& entry : entries) {
    std::string child = dest + "/" + entry.name;
    // Only names a client could address are copied (as List shows them).
    auto check = NormalizeRelativePath(child);
    if (!check.has_value() || *check != child) continue;
    if (S_ISDIR(entry.st.st_mode)) {
      UniqueFd sub(::openat(src_dir_fd, entry.name.c_str(),
                            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub.valid()) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) continue;  // changed meanwhile
        return ErrnoStatus("cannot open artifact directory", errno);
      }
      RETURN_IF_ERROR(CopyDirTo(sub.get(), child, copied));
    } else if (S_ISREG(entry.st.st_mode)) {
      RETURN_IF_ERROR(CopyFileTo(src_dir_fd, entry.name, child));
      ++copied;
    }
  }
  return Status::Ok();
}

// Both paths normalized and non-empty, neither inside the other.
Result<std::pair<std::string, std::string>> CheckCopyPaths(std::string_view from,
                                                           std::string_view to) {
  ASSIGN_OR_RETURN(std::string source, NormalizeRelativePath(from));
  ASSIGN_OR_RETURN(std::string dest, NormalizeRelativePath(to));
  if (source == dest || dest.starts_with(source + "/") || source.starts_with(dest + "/")) {
    return Err(
        InvalidArgument(fmt::format("Cannot copy artifacts '{}' to '{}': one contains the other",
                                    EchoForMessage(source), EchoForMessage(dest))));
  }
  return std::make_pair(std::move(source), std::move(dest));
}

Result<int64_t> ArtifactStoreImpl::CopyTree(std::string_view from, std::string_view to) {
  ASSIGN_OR_RETURN(auto paths, CheckCopyPaths(from, to));
  const auto& [source, dest] = paths;
  ASSIGN_OR_RETURN(std::vector<std::string> segments, SplitPath(source));
  ASSIGN_OR_RETURN(UniqueFd parent,
                   OpenDir(std::span(segments).first(segments.size() - 1), false, source));
  const std::string& leaf = segments.back();
  struct stat st;
  int err = StatNoFollow(parent.get(), leaf.c_str(), &st);
  if (err == ENOENT) return Err(ArtifactNotFound(source));
  if (err != 0) return Err(ErrnoStatus("cannot stat artifact", err));
  if (S_ISLNK(st.st_mode)) return Err(SymlinkRefused(source, source));
  int64_t copied = 0;
  if (S_ISREG(st.st_mode)) {
    RETURN_IF_ERROR(CopyFileTo(parent.get(), leaf, dest));
    return int64_t{1};
  }
  if (!S_ISDIR(st.st_mode)) return Err(ArtifactNotFound(source));
  UniqueFd dir(
      ::openat(parent.get(), leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) {
    if (errno == ENOENT) return Err(ArtifactNotFound(source));
    if (errno == ELOOP || errno == ENOTDIR) return Err(Raced(source));
    return Err(ErrnoStatus("cannot open artifact directory", errno));
  }
  RETURN_IF_ERROR(CopyDirTo(dir.get(), dest, copied));
  return copied;
}

}  // namespace

Result<int64_t> ArtifactStore::CopyTree(std::string_view from, std::string_view to) {
  ASSIGN_OR_RETURN(auto paths, CheckCopyPaths(from, to));
  const auto& [source, dest] = paths;
  if (auto file = Read(source); file.has_value()) {
    RETURN_IF_ERROR(StatusOf(Put(dest, *file)));
    return int64_t{1};
  }
  ASSIGN_OR_RETURN(std::vector<FileInfo> children, List(source));
  if (children.empty()) {
    return Err(NotFound(fmt::format("Artifact '{}' does not exist", EchoForMessage(source))));
  }
  int64_t copied = 0;
  for (const FileInfo& child : children) {
    std::string_view rest = std::string_view(child.path).substr(source.size() + 1);
    ASSIGN_OR_RETURN(int64_t n, CopyTree(child.path, dest + "/" + std::string(rest)));
    copied += n;
  }
  return copied;
}

Result<std::unique_ptr<ArtifactStore>> ArtifactStore::Open(const fs::path& root) {
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStoreImpl> blobs, BlobStoreImpl::Open(root));
  ASSIGN_OR_RETURN(UniqueFd views_fd, OpenOrCreateDirAt(blobs->root_fd(), "views"));
  return std::unique_ptr<ArtifactStore>(
      new ArtifactStoreImpl(std::move(blobs), std::move(views_fd)));
}

Result<FileHandle> ArtifactStore::OpenForRead(std::string_view path) const {
  ASSIGN_OR_RETURN(fs::path resolved, Resolve(path));
  UniqueFd fd(::open(resolved.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Err(ArtifactNotFound(path));
    return Err(ErrnoStatus("cannot open artifact", errno));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Err(ErrnoStatus("cannot stat artifact", errno));
  if (!S_ISREG(st.st_mode)) return Err(ArtifactNotFound(path));
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags >= 0) ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  return FileHandle(fd.Release(), static_cast<int64_t>(st.st_size));
}

FileHandle::~FileHandle() {
  if (fd_ >= 0) ::close(fd_);
}

FileHandle::FileHandle(FileHandle&& other) noexcept : fd_(other.fd_), size_(other.size_) {
  other.fd_ = -1;
}

FileHandle& FileHandle::operator=(FileHandle&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
  }
  return *this;
}

int FileHandle::Release() { return std::exchange(fd_, -1); }

}  // namespace mlforge::blob

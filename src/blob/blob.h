// Content-addressed blob store (sha256) and path-addressed artifact views.
//
// On disk under one root:
//   objects/ab/cdef...   immutable content, named by its sha256 (hex)
//   views/<path>         a hard link to the object (a copy where links are
//                        impossible); directories are real directories
// Same bytes are stored once; a view is a name for them. Layout: docs/blob.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mlforge::blob {

// Checks a client-supplied relative artifact path and returns its normal form
// ("a/b/c": no leading or trailing '/', no empty, "." or ".." segment).
// Rejects (kInvalidParameterValue) anything that could leave the root, in
// any spelling: absolute paths, "..", backslashes, NUL and control bytes,
// percent-encoded (also double-encoded) separators or dots, drive letters.
// The empty path is the root itself and is allowed only if allow_empty.
// `path` must already be percent-decoded once (by the HTTP layer); any
// remaining "%XX" is refused as a second encoding layer. Also refused: '?'
// and '#' (URI delimiters), invalid UTF-8 (overlong dots), segments over
// kMaxArtifactSegmentBytes, paths over kMaxArtifactPathBytes. One trailing
// '/' is dropped; nothing else is rewritten. Full rules: docs/blob.md.
Result<std::string> NormalizeRelativePath(std::string_view path, bool allow_empty = false);

// Limits NormalizeRelativePath enforces, in bytes of the input.
inline constexpr size_t kMaxArtifactPathBytes = 4096;
inline constexpr size_t kMaxArtifactSegmentBytes = 255;

// An open, read-only regular file and its size when it was opened: lets a
// caller stream (sendfile) exactly the file that was checked, with no window
// for the name to be swapped in between. Owns the descriptor. Move-only;
// thread-compatible.
class FileHandle {
 public:
  FileHandle() = default;
  FileHandle(int fd, int64_t size) : fd_(fd), size_(size) {}
  ~FileHandle();
  FileHandle(FileHandle&& other) noexcept;
  FileHandle& operator=(FileHandle&& other) noexcept;
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  int64_t size() const { return size_; }
  // Gives up ownership; the caller must close the returned descriptor.
  int Release();

 private:
  int fd_ = -1;
  int64_t size_ = 0;
};

// One object of a BlobStore, as garbage collection sees it.
struct ObjectInfo {
  std::string sha256;
  int64_t size = 0;
  // Names of the inode: 1 = only objects/ab/...; each artifact view that is
  // a hard link adds one.
  uint64_t link_count = 0;
  int64_t change_time_seconds = 0;  // ctime: when it was stored or last linked
};

struct FileInfo {
  std::string path;  // relative to the artifact root, normalized
  bool is_dir = false;
  int64_t size = 0;  // bytes; 0 for directories
};

// Thread-safe. Objects are written to a temp file and renamed into place, so
// a crash never leaves a partial object under its final name.
class BlobStore {
 public:
  static Result<std::unique_ptr<BlobStore>> Open(const std::filesystem::path& root);
  virtual ~BlobStore() = default;

  // Stores bytes; returns their sha256 hex. Idempotent.
  virtual Result<std::string> Put(std::string_view data) = 0;
  // Stores a file's content, hashing while copying (or moving, if
  // consume_source and the file is on the same filesystem).
  virtual Result<std::string> PutFile(const std::filesystem::path& source, bool consume_source) = 0;
  virtual bool Exists(std::string_view sha256) const = 0;
  // Filesystem path of an object, for streaming reads; kResourceDoesNotExist if absent.
  virtual Result<std::filesystem::path> ObjectPath(std::string_view sha256) const = 0;
  virtual Result<std::string> Read(std::string_view sha256) const = 0;
  virtual const std::filesystem::path& root() const = 0;

  // Like Put / PutFile for content that arrives with a claimed name (uploads,
  // downloads): nothing is stored unless the bytes hash to expected_sha256;
  // a mismatch is kInvalidParameterValue. With consume_source the source is
  // gone afterwards either way.
  virtual Result<std::string> PutIfHashIs(std::string_view data,
                                          std::string_view expected_sha256) = 0;
  virtual Result<std::string> PutFileIfHashIs(const std::filesystem::path& source,
                                              std::string_view expected_sha256,
                                              bool consume_source) = 0;

  // Calls fn for every object (any order). For garbage collection.
  virtual Status ForEachObject(const std::function<void(const ObjectInfo&)>& fn) const = 0;
  // Removes an object unless an artifact view hard-links it (link count > 1);
  // returns whether it was removed. The object is first renamed into tmp/
  // and its link count re-checked there, so a view linked meanwhile keeps
  // it (it is moved back). The caller must ensure nothing else references
  // the object by name (e.g. dataset manifests).
  virtual Result<bool> RemoveIfUnlinked(std::string_view sha256) = 0;
};

// A path-addressed view over a BlobStore: the artifact tree clients see.
// Every path argument is a client path; it is normalized with
// NormalizeRelativePath, and the resolved location is checked to stay under
// the views root even through symlinks: no symlink inside the views tree is
// ever followed, and crossing one fails with kPermissionDenied. Thread-safe.
class ArtifactStore {
 public:
  // Opens (creating if needed) root/objects, root/views and root/tmp.
  static Result<std::unique_ptr<ArtifactStore>> Open(const std::filesystem::path& root);
  virtual ~ArtifactStore() = default;

  virtual BlobStore& blobs() = 0;

  // Writes (or replaces) the file at path. Parent directories are created.
  // Fails if a prefix of path is an existing file.
  virtual Result<FileInfo> Put(std::string_view path, std::string_view data) = 0;
  // Same, taking the content from a file (e.g. a spooled request body).
  // The path is checked before the source is touched. With consume_source
  // the source is gone afterwards (moved in when it is a regular file with a
  // single name on the store's filesystem, else copied and unlinked); the
  // caller must not write to it once the call starts.
  virtual Result<FileInfo> PutFile(std::string_view path, const std::filesystem::path& source,
                                   bool consume_source) = 0;
  // Filesystem path to stream a file from; kResourceDoesNotExist if the path
  // is absent or is a directory.
  // The path is checked when Resolve runs; prefer OpenForRead, which hands
  // back the very file that was checked.
  virtual Result<std::filesystem::path> Resolve(std::string_view path) const = 0;
  // Opens the file at path for reading (same rules and errors as Resolve).
  // The default, for test doubles, opens Resolve()'s result without
  // following a final symlink; the real store walks the tree by descriptor.
  virtual Result<FileHandle> OpenForRead(std::string_view path) const;
  virtual Result<std::string> Read(std::string_view path) const = 0;
  // Direct children of a directory (empty path = root), sorted by path.
  // A missing directory or a file path lists as empty, as MLflow does.
  virtual Result<std::vector<FileInfo>> List(std::string_view dir) const = 0;
  // Removes a file or a whole directory; kResourceDoesNotExist if absent.
  // The root itself ("") cannot be deleted. Objects stay (GC: docs/blob.md).
  virtual Status Delete(std::string_view path) = 0;
  // Makes `to` a copy of the file or directory tree at `from` without copying
  // data: every file of the copy is another name (hard link) for the same
  // stored bytes, or a byte copy where links are impossible. Later changes
  // to either tree do not affect the other (views are only ever replaced,
  // never written in place). Existing files under `to` are replaced, others
  // kept. Symlinks and special files in the source are skipped, never
  // followed. Returns the number of files copied. Errors:
  // kResourceDoesNotExist (`from` absent), kInvalidParameterValue (a path is
  // empty, or one contains the other). The default, for test doubles, copies
  // through List/Read/Put.
  virtual Result<int64_t> CopyTree(std::string_view from, std::string_view to);
};

}  // namespace mlforge::blob

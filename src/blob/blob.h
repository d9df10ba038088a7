// Content-addressed blob store (sha256) and path-addressed artifact views.
//
// On disk under one root:
//   objects/ab/cdef...   immutable content, named by its sha256 (hex)
//   views/<path>         a hard link to the object (a copy where links are
//                        impossible); directories are real directories
// Same bytes are stored once; a view is a name for them. Layout: docs/blob.md.
#pragma once

#include <cstdint>
#include <filesystem>
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
Result<std::string> NormalizeRelativePath(std::string_view path, bool allow_empty = false);

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
};

// A path-addressed view over a BlobStore: the artifact tree clients see.
// Every path argument is a client path; it is normalized with
// NormalizeRelativePath, and the resolved location is checked to stay under
// the views root even through symlinks. Thread-safe.
class ArtifactStore {
 public:
  // Opens (creating if needed) root/objects and root/views.
  static Result<std::unique_ptr<ArtifactStore>> Open(const std::filesystem::path& root);
  virtual ~ArtifactStore() = default;

  virtual BlobStore& blobs() = 0;

  // Writes (or replaces) the file at path. Parent directories are created.
  // Fails if a prefix of path is an existing file.
  virtual Result<FileInfo> Put(std::string_view path, std::string_view data) = 0;
  // Same, taking the content from a file (e.g. a spooled request body).
  virtual Result<FileInfo> PutFile(std::string_view path, const std::filesystem::path& source,
                                   bool consume_source) = 0;
  // Filesystem path to stream a file from; kResourceDoesNotExist if the path
  // is absent or is a directory.
  virtual Result<std::filesystem::path> Resolve(std::string_view path) const = 0;
  virtual Result<std::string> Read(std::string_view path) const = 0;
  // Direct children of a directory (empty path = root), sorted by path.
  // A missing directory or a file path lists as empty, as MLflow does.
  virtual Result<std::vector<FileInfo>> List(std::string_view dir) const = 0;
  // Removes a file or a whole directory; kResourceDoesNotExist if absent.
  virtual Status Delete(std::string_view path) = 0;
};

}  // namespace mlforge::blob

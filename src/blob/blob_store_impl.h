// Private to src/blob: the local-filesystem BlobStore, shared with the
// artifact views that hard-link its objects.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "blob/blob.h"
#include "blob/fs_util.h"

namespace mlforge::blob {

// A name in tmp/ that is unlinked on destruction unless Disown()ed (after it
// was renamed to its final name). Holds the open descriptor if it has one.
// Not thread-safe; one owner.
class TempFile {
 public:
  TempFile(int dir_fd, std::string name, UniqueFd fd)
      : dir_fd_(dir_fd), name_(std::move(name)), fd_(std::move(fd)) {}
  ~TempFile();
  TempFile(TempFile&& other) noexcept
      : dir_fd_(other.dir_fd_), name_(std::move(other.name_)), fd_(std::move(other.fd_)) {
    other.name_.clear();
  }
  TempFile& operator=(TempFile&&) = delete;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  const std::string& name() const { return name_; }
  int fd() const { return fd_.get(); }
  // The name no longer exists in tmp/ (it was renamed); do not unlink it.
  void Disown() { name_.clear(); }

 private:
  int dir_fd_;
  std::string name_;
  UniqueFd fd_;
};

// Thread-safe: all state is descriptors opened once plus an atomic counter;
// every mutation of the tree is a single atomic rename or link.
class BlobStoreImpl final : public BlobStore {
 public:
  static Result<std::unique_ptr<BlobStoreImpl>> Open(const std::filesystem::path& root);

  Result<std::string> Put(std::string_view data) override;
  Result<std::string> PutFile(const std::filesystem::path& source, bool consume_source) override;
  bool Exists(std::string_view sha256) const override;
  Result<std::filesystem::path> ObjectPath(std::string_view sha256) const override;
  Result<std::string> Read(std::string_view sha256) const override;
  const std::filesystem::path& root() const override { return root_; }
  Result<std::string> PutIfHashIs(std::string_view data, std::string_view expected_sha256) override;
  Result<std::string> PutFileIfHashIs(const std::filesystem::path& source,
                                      std::string_view expected_sha256,
                                      bool consume_source) override;
  Status ForEachObject(const std::function<void(const ObjectInfo&)>& fn) const override;
  Result<bool> RemoveIfUnlinked(std::string_view sha256) override;

  // --- For ArtifactStoreImpl, which lives under the same root. ---
  int root_fd() const { return root_fd_.get(); }
  int tmp_fd() const { return tmp_fd_.get(); }
  // A fresh name for tmp/. Unique among live stores of this process; callers
  // still create with O_EXCL (or retry on EEXIST) against other processes.
  std::string NewTempName();
  // Creates an empty read-only file in tmp/, open for writing.
  Result<TempFile> CreateTempFile();
  // The shard directory objects/<first two hex> (never a symlink).
  Result<UniqueFd> OpenShard(std::string_view sha256, bool create) const;
  // Opens an object read-only; kResourceDoesNotExist if absent.
  Result<UniqueFd> OpenObject(std::string_view sha256) const;

 private:
  BlobStoreImpl(std::filesystem::path root, UniqueFd root_fd, UniqueFd objects_fd, UniqueFd tmp_fd);

  // Moves a complete temp file to objects/ under its hash. Never replaces an
  // existing object: views hard-link it, so a new inode would split them.
  Status CommitObject(TempFile& temp, std::string_view sha256);
  // PutFile with an optional expected hash (empty: any content is fine).
  Result<std::string> PutFileChecked(const std::filesystem::path& source, bool consume_source,
                                     std::string_view expected_sha256);
  // PutFile's fast path: rename the source into tmp/ and hash it there.
  // Returns an empty string when the caller should fall back to copying.
  Result<std::string> TryMoveIn(const std::filesystem::path& source,
                                std::string_view expected_sha256);

  const std::filesystem::path root_;  // canonical
  const UniqueFd root_fd_;
  const UniqueFd objects_fd_;
  const UniqueFd tmp_fd_;
  std::atomic<uint64_t> temp_counter_{0};
};

// Name of an object inside its shard directory (sha256 without its first two chars).
inline std::string ObjectFileName(std::string_view sha256) { return std::string(sha256.substr(2)); }

}  // namespace mlforge::blob

// Private to src/blob: descriptor-relative file helpers (POSIX *at calls).
//
// Everything under the store root is reached from an open directory
// descriptor, one component at a time, with O_NOFOLLOW: the kernel, not a
// string comparison, guarantees that no symlink is followed.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/hash.h"
#include "base/status.h"

namespace mlforge::blob {

// Buffer size for copying and hashing.
inline constexpr size_t kCopyBufferBytes = 1 << 20;

// Owns one file descriptor. Move-only; thread-compatible.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// "what: strerror(err)" as an internal error. Never includes absolute paths
// (messages may reach clients).
Status ErrnoStatus(std::string_view what, int err);

// Opens (creating if missing) the directory `name` inside dir_fd without
// following a symlink. Used for the fixed layout directories.
Result<UniqueFd> OpenOrCreateDirAt(int dir_fd, const char* name);

// Writes all of data to fd (handles short writes and EINTR).
Status WriteAll(int fd, const void* data, size_t size);

// Reads the whole regular file behind fd from offset 0.
Result<std::string> ReadAll(int fd);

// Copies src (from offset 0) to dst, feeding every byte to hash if non-null.
// Returns the number of bytes copied.
Result<int64_t> CopyAndHash(int src_fd, int dst_fd, Sha256* hash);

// Hashes the file behind fd from offset 0.
Result<std::string> HashFd(int fd);

// fstatat(dir_fd, name, AT_SYMLINK_NOFOLLOW). Returns errno (0 on success).
int StatNoFollow(int dir_fd, const char* name, struct stat* st);

}  // namespace mlforge::blob

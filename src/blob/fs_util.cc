#include "blob/fs_util.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace mlforge::blob {

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) ::close(fd_);  // close() errors on read-only or renamed files carry no data loss
  fd_ = fd;
}

Status ErrnoStatus(std::string_view what, int err) {
  return Internal(fmt::format("{}: {}", what, std::strerror(err)));
}

Result<UniqueFd> OpenOrCreateDirAt(int dir_fd, const char* name) {
  if (::mkdirat(dir_fd, name, 0755) != 0 && errno != EEXIST) {
    return Err(ErrnoStatus(fmt::format("cannot create store directory '{}'", name), errno));
  }
  int fd = ::openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    struct stat st;
    if (StatNoFollow(dir_fd, name, &st) == 0 && S_ISLNK(st.st_mode)) {
      // The layout must live on one filesystem under one root; a redirected
      // layout directory would break hard links and the containment checks.
      return Err(Internal(fmt::format("store directory '{}' is a symbolic link", name)));
    }
    return Err(ErrnoStatus(fmt::format("cannot open store directory '{}'", name), err));
  }
  return UniqueFd(fd);
}

Status WriteAll(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot write blob data", errno);
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

Result<std::string> ReadAll(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Err(ErrnoStatus("cannot stat file", errno));
  std::string out;
  out.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  for (;;) {
    if (done == out.size()) out.resize(out.size() + 4096);  // the file may have grown
    ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Err(ErrnoStatus("cannot read file", errno));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

Result<int64_t> CopyAndHash(int src_fd, int dst_fd, Sha256* hash) {
  auto buffer = std::make_unique<char[]>(kCopyBufferBytes);
  int64_t offset = 0;
  for (;;) {
    ssize_t n = ::pread(src_fd, buffer.get(), kCopyBufferBytes, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Err(ErrnoStatus("cannot read source file", errno));
    }
    if (n == 0) break;
    if (hash != nullptr) hash->Update(buffer.get(), static_cast<size_t>(n));
    if (dst_fd >= 0) RETURN_IF_ERROR(WriteAll(dst_fd, buffer.get(), static_cast<size_t>(n)));
    offset += n;
  }
  return offset;
}

Result<std::string> HashFd(int fd) {
  Sha256 hash;
  ASSIGN_OR_RETURN(int64_t size, CopyAndHash(fd, -1, &hash));
  (void)size;
  return hash.FinishHex();
}

int StatNoFollow(int dir_fd, const char* name, struct stat* st) {
  return ::fstatat(dir_fd, name, st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
}

}  // namespace mlforge::blob

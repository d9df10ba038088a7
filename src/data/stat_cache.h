// Private to src/data: what a workspace file hashed to, keyed by its stat
// data, so `status` reads only files that changed. Format: docs/data.md.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/status.h"

namespace mlforge::data {

struct FileStamp {
  int64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint64_t inode = 0;
  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};

FileStamp StampOf(const struct stat& st);

// ".<pid>.<n>.tmp": a temp-file suffix unique among this process's threads
// and, by the pid, among processes.
std::string UniqueTempSuffix();

// Wall clock in ns (CLOCK_REALTIME, the clock file timestamps use).
int64_t NowNanos();

// Externally synchronized. A missing or damaged file loads as empty: it is
// only a cache.
class StatCache {
 public:
  // A file changed in the same timestamp tick as it was hashed could keep
  // its stamp; entries hashed less than this after the file's last change
  // are not trusted (the file is read again, as git does for "racy" files).
  static constexpr int64_t kRacyWindowNs = 50'000'000;

  explicit StatCache(std::filesystem::path file) : file_(std::move(file)) {}

  void Load();
  // Written to a temp file and renamed: concurrent writers lose entries,
  // never corrupt the file.
  Status Save() const;

  // The sha256 hex recorded for path if its stamp still matches and the
  // entry is not racy; empty otherwise.
  std::string Lookup(const std::string& path, const FileStamp& stamp) const;
  // hashed_at_ns: when reading the file began.
  void Record(const std::string& path, const FileStamp& stamp, std::string_view sha256_hex,
              int64_t hashed_at_ns);
  bool dirty() const { return dirty_; }

 private:
  struct Entry {
    FileStamp stamp;
    int64_t hashed_at_ns = 0;
    unsigned char sha256[32];
  };
  std::filesystem::path file_;
  std::unordered_map<std::string, Entry> entries_;
  bool dirty_ = false;
};

}  // namespace mlforge::data

#include "data/stat_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>

namespace mlforge::data {
namespace {

constexpr char kMagic[8] = {'M', 'L', 'F', 'S', 'T', 'A', 'T', '1'};

// Record after the path: size, mtime, ctime, inode, hashed_at (5 x 8 bytes), sha256 (32).
constexpr size_t kFixedBytes = 5 * 8 + 32;

void PutU64(std::string& out, uint64_t v) {
  char b[8];
  std::memcpy(b, &v, 8);  // host order: the file never leaves the machine
  out.append(b, 8);
}
uint64_t GetU64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

int HexValue(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

}  // namespace

FileStamp StampOf(const struct stat& st) {
  return FileStamp{.size = st.st_size,
                   .mtime_ns = st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec,
                   .ctime_ns = st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec,
                   .inode = st.st_ino};
}

std::string UniqueTempSuffix() {
  static std::atomic<uint64_t> counter{0};
  return "." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1)) + ".tmp";
}

int64_t NowNanos() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

void StatCache::Load() {
  entries_.clear();
  dirty_ = false;
  std::ifstream in(file_, std::ios::binary);
  if (!in) return;
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() < sizeof(kMagic) || std::memcmp(data.data(), kMagic, sizeof(kMagic)) != 0) return;
  size_t pos = sizeof(kMagic);
  // One allocation of buckets instead of a rehash every doubling; paths
  // average well over 8 bytes, so this over-reserves at most modestly.
  entries_.reserve(data.size() / (kFixedBytes + 2 + 8));
  while (pos + 2 <= data.size()) {
    uint16_t len;
    std::memcpy(&len, data.data() + pos, 2);
    pos += 2;
    if (pos + len + kFixedBytes > data.size()) break;  // truncated tail: drop it
    std::string path(data.data() + pos, len);
    pos += len;
    const char* p = data.data() + pos;
    Entry e;
    e.stamp.size = static_cast<int64_t>(GetU64(p));
    e.stamp.mtime_ns = static_cast<int64_t>(GetU64(p + 8));
    e.stamp.ctime_ns = static_cast<int64_t>(GetU64(p + 16));
    e.stamp.inode = GetU64(p + 24);
    e.hashed_at_ns = static_cast<int64_t>(GetU64(p + 32));
    std::memcpy(e.sha256, p + 40, 32);
    pos += kFixedBytes;
    entries_.insert_or_assign(std::move(path), e);
  }
}

Status StatCache::Save() const {
  std::string out(kMagic, sizeof(kMagic));
  out.reserve(entries_.size() * (kFixedBytes + 40));
  for (const auto& [path, e] : entries_) {
    if (path.size() > 0xffff) continue;
    uint16_t len = static_cast<uint16_t>(path.size());
    out.append(reinterpret_cast<const char*>(&len), 2);
    out += path;
    PutU64(out, static_cast<uint64_t>(e.stamp.size));
    PutU64(out, static_cast<uint64_t>(e.stamp.mtime_ns));
    PutU64(out, static_cast<uint64_t>(e.stamp.ctime_ns));
    PutU64(out, e.stamp.inode);
    PutU64(out, static_cast<uint64_t>(e.hashed_at_ns));
    out.append(reinterpret_cast<const char*>(e.sha256), 32);
  }
  std::filesystem::path tmp = file_;
  tmp += UniqueTempSuffix();
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(out.data(), static_cast<std::streamsize>(out.size()));
    if (!f) return Internal("cannot write the stat cache");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file_, ec);
  if (ec) return Internal("cannot write the stat cache: " + ec.message());
  return Status::Ok();
}

std::string StatCache::Lookup(const std::string& path, const FileStamp& stamp) const {
  auto it = entries_.find(path);
  if (it == entries_.end()) return {};
  const Entry& e = it->second;
  if (!(e.stamp == stamp)) return {};
  if (std::max(stamp.mtime_ns, stamp.ctime_ns) + kRacyWindowNs > e.hashed_at_ns) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(64, '0');
  for (int i = 0; i < 32; ++i) {
    hex[2 * i] = kHex[e.sha256[i] >> 4];
    hex[2 * i + 1] = kHex[e.sha256[i] & 15];
  }
  return hex;
}

void StatCache::Record(const std::string& path, const FileStamp& stamp, std::string_view sha256_hex,
                       int64_t hashed_at_ns) {
  Entry e;
  e.stamp = stamp;
  e.hashed_at_ns = hashed_at_ns;
  for (int i = 0; i < 32; ++i) {
    e.sha256[i] = static_cast<unsigned char>(HexValue(sha256_hex[2 * i]) << 4 |
                                             HexValue(sha256_hex[2 * i + 1]));
  }
  entries_.insert_or_assign(path, e);
  dirty_ = true;
}

}  // namespace mlforge::data

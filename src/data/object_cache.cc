// The workspace cache: loose objects in a blob::BlobStore, small objects in
// pack files. Layout and format: docs/data.md ("Packs").
#include <dirent.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <unordered_set>

#include "base/hash.h"
#include "base/log.h"
#include "blob/blob.h"
#include "data/data.h"

namespace mlforge::data {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPackMagic = "MLFPACK1";
constexpr std::string_view kIndexMagic = "MLFIDX01";
constexpr size_t kIndexEntryBytes = 32 + 8 + 8;  // raw sha256, offset, size
// A worker's pack rolls over past this size, so no pack file gets huge.
constexpr int64_t kMaxPackBytes = int64_t{1} << 30;
// Appends are buffered: one write() per this many bytes, not per object.
constexpr size_t kWriteBufferBytes = 4 << 20;

using RawSha = std::array<uint8_t, 32>;

Status Errno(std::string_view what, int err) {
  return Internal(fmt::format("{}: {}", what, std::strerror(err)));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// REQUIRES: IsSha256Hex(hex).
RawSha ToRaw(std::string_view hex) {
  RawSha raw;
  for (size_t i = 0; i < raw.size(); ++i) {
    raw[i] = static_cast<uint8_t>(HexValue(hex[2 * i]) << 4 | HexValue(hex[2 * i + 1]));
  }
  return raw;
}

std::string ToHex(const RawSha& raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(64, '0');
  for (size_t i = 0; i < raw.size(); ++i) {
    hex[2 * i] = kDigits[raw[i] >> 4];
    hex[2 * i + 1] = kDigits[raw[i] & 15];
  }
  return hex;
}

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}

Status WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t w = ::write(fd, bytes.data(), bytes.size());
    if (w < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write a pack", errno);
    }
    bytes.remove_prefix(static_cast<size_t>(w));
  }
  return Status::Ok();
}

Result<std::string> ReadRange(const fs::path& file, int64_t offset, int64_t size) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Err(Errno("cannot open " + file.filename().string(), errno));
  std::string out(static_cast<size_t>(size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t r = ::pread(fd, out.data() + got, out.size() - got, offset + static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int err = r < 0 ? errno : EIO;
      ::close(fd);
      return Err(Errno("cannot read " + file.filename().string() + " (truncated?)", err));
    }
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  return out;
}

struct PackEntry {
  RawSha sha;
  int64_t offset = 0;
  int64_t size = 0;
};

bool BySha(const PackEntry& a, const PackEntry& b) { return a.sha < b.sha; }

// The index text: magic, count, sorted entries, then the sha256 of all that,
// so a damaged index is noticed instead of pointing at wrong bytes.
std::string EncodeIndex(std::vector<PackEntry> entries) {
  std::sort(entries.begin(), entries.end(), BySha);
  std::string out(kIndexMagic);
  PutU64(out, entries.size());
  for (const PackEntry& e : entries) {
    out.append(reinterpret_cast<const char*>(e.sha.data()), e.sha.size());
    PutU64(out, static_cast<uint64_t>(e.offset));
    PutU64(out, static_cast<uint64_t>(e.size));
  }
  RawSha check = ToRaw(Sha256::HexOf(out));
  out.append(reinterpret_cast<const char*>(check.data()), check.size());
  return out;
}

Result<std::vector<PackEntry>> DecodeIndex(std::string_view text) {
  auto bad = [] { return Err(InvalidArgument("damaged pack index")); };
  if (text.size() < kIndexMagic.size() + 8 + 32 || !text.starts_with(kIndexMagic)) return bad();
  std::string_view body = text.substr(0, text.size() - 32);
  RawSha stored;
  std::memcpy(stored.data(), text.data() + body.size(), stored.size());
  if (Sha256::HexOf(body) != ToHex(stored)) return bad();
  uint64_t count = GetU64(body.data() + kIndexMagic.size());
  size_t header = kIndexMagic.size() + 8;
  if ((body.size() - header) / kIndexEntryBytes != count ||
      (body.size() - header) % kIndexEntryBytes != 0) {
    return bad();
  }
  std::vector<PackEntry> entries(count);
  const char* p = body.data() + header;
  for (PackEntry& e : entries) {
    std::memcpy(e.sha.data(), p, 32);
    e.offset = static_cast<int64_t>(GetU64(p + 32));
    e.size = static_cast<int64_t>(GetU64(p + 40));
    p += kIndexEntryBytes;
  }
  if (!std::is_sorted(entries.begin(), entries.end(), BySha)) return bad();
  return entries;
}

std::string RandomId() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}", rd(), rd());
}

struct Pack {
  std::string name;  // "pack-<id>"
  fs::path data;     // <name>.pack
  std::vector<PackEntry> entries;  // sorted by sha

  const PackEntry* Find(const RawSha& sha) const {
    auto it = std::lower_bound(entries.begin(), entries.end(), PackEntry{sha}, BySha);
    return it != entries.end() && it->sha == sha ? &*it : nullptr;
  }
};

class ObjectCacheImpl;

class PackWriterImpl final : public ObjectCache::PackWriter {
 public:
  PackWriterImpl(ObjectCacheImpl& cache, int lock_fd, int workers)
      : cache_(cache), lock_fd_(lock_fd), workers_(static_cast<size_t>(std::max(1, workers))) {}
  ~PackWriterImpl() override;
  Status Add(int worker, std::string_view sha256, std::string_view data) override;
  Status Commit() override;

 private:
  struct Open {
    int fd = -1;
    fs::path temp;
    int64_t size = 0;  // bytes in file + buffer
    std::string buffer;
    std::vector<PackEntry> entries;
  };
  struct Worker {
    Open current;
    std::vector<Open> full;  // rolled over, waiting for Commit
  };
  Status Flush(Open& open);
  Status StartPack(Open& open);
  Status Publish(Open& open);
  void Discard(Open& open);

  ObjectCacheImpl& cache_;
  int lock_fd_;
  std::vector<Worker> workers_;
  std::mutex claimed_mu_;  // guards claimed_
  std::unordered_set<std::string> claimed_;
  bool committed_ = false;
};

class ObjectCacheImpl final : public ObjectCache {
 public:
  ObjectCacheImpl(fs::path packs_dir, std::unique_ptr<blob::BlobStore> loose)
      : packs_dir_(std::move(packs_dir)), loose_(std::move(loose)) {}

  blob::BlobStore& loose() override { return *loose_; }

  bool Exists(std::string_view sha256) override { return Locate(sha256).has_value(); }

  Result<ObjectLocation> Locate(std::string_view sha256) override {
    if (!IsSha256Hex(sha256)) return Err(InvalidArgument("Invalid object hash"));
    RawSha raw = ToRaw(sha256);
    if (auto found = FindPacked(raw)) return *found;
    if (loose_->Exists(sha256)) {
      ASSIGN_OR_RETURN(fs::path path, loose_->ObjectPath(sha256));
      struct stat st;
      if (::stat(path.c_str(), &st) == 0) {
        return ObjectLocation{.file = path, .offset = 0, .size = st.st_size, .packed = false};
      }
    }
    // Another process may have published a pack since we last looked.
    RETURN_IF_ERROR(Reload());
    if (auto found = FindPacked(raw)) return *found;
    return Err(NotFound(fmt::format("Object {} is not in the cache", sha256)));
  }

  Result<std::string> Read(std::string_view sha256) override {
    ASSIGN_OR_RETURN(ObjectLocation where, Locate(sha256));
    if (!where.packed) return loose_->Read(sha256);
    return ReadRange(where.file, where.offset, where.size);
  }

  Result<std::string> Put(std::string_view data) override { return loose_->Put(data); }
  Result<std::string> PutIfHashIs(std::string_view data, std::string_view sha256) override {
    return loose_->PutIfHashIs(data, sha256);
  }
  Result<std::string> PutFile(const fs::path& source) override {
    return loose_->PutFile(source, /*consume_source=*/false);
  }

  Status ForEachObject(const std::function<void(std::string_view, int64_t)>& fn) override {
    RETURN_IF_ERROR(Reload());
    RETURN_IF_ERROR(loose_->ForEachObject(
        [&](const blob::ObjectInfo& o) { fn(o.sha256, o.size); }));
    std::shared_lock lock(mu_);
    for (const auto& pack : packs_) {
      for (const PackEntry& e : pack->entries) fn(ToHex(e.sha), e.size);
    }
    return Status::Ok();
  }

  Result<std::unique_ptr<PackWriter>> BeginPacks(int workers) override {
    ASSIGN_OR_RETURN(int lock_fd, LockPacks());
    // Holding the lock, no other writer is active: temp files are leftovers
    // of a killed one.
    RemoveTempFiles();
    if (Status s = Reload(); !s.ok()) {
      ::close(lock_fd);
      return Err(s);
    }
    return std::unique_ptr<PackWriter>(new PackWriterImpl(*this, lock_fd, workers));
  }

  Status RemoveAllExcept(const std::unordered_set<std::string>& keep, bool dry_run,
                         LocalGcResult& result) override;

  // For PackWriterImpl.
  const fs::path& packs_dir() const { return packs_dir_; }
  bool ExistsForWriter(const RawSha& raw, std::string_view hex) {
    return FindPacked(raw).has_value() || loose_->Exists(hex);
  }
  void AddPack(std::shared_ptr<const Pack> pack) {
    std::unique_lock lock(mu_);
    packs_.push_back(std::move(pack));
  }

 private:
  std::optional<ObjectLocation> FindPacked(const RawSha& raw) {
    std::shared_lock lock(mu_);
    for (const auto& pack : packs_) {
      if (const PackEntry* e = pack->Find(raw)) {
        return ObjectLocation{.file = pack->data, .offset = e->offset, .size = e->size,
                              .packed = true};
      }
    }
    return std::nullopt;
  }

  Result<int> LockPacks() {
    int fd = ::open((packs_dir_ / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Err(Errno("cannot open the pack lock", errno));
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Err(Errno("cannot lock the packs", err));
    }
    return fd;
  }

  void RemoveTempFiles() {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(packs_dir_, ec)) {
      if (entry.path().filename().string().starts_with("tmp-")) fs::remove(entry.path(), ec);
    }
  }

  // Loads the index of every published pack not loaded yet. A damaged index
  // is skipped with a warning: its objects count as missing (and are
  // fetched again by pull), never as present with wrong bytes.
  Status Reload() {
    std::vector<std::string> names;
    DIR* dir = ::opendir(packs_dir_.c_str());
    if (dir == nullptr) return Errno("cannot list the packs", errno);
    while (struct dirent* e = ::readdir(dir)) {
      std::string_view n = e->d_name;
      if (n.starts_with("pack-") && n.ends_with(".idx")) {
        names.emplace_back(n.substr(0, n.size() - 4));
      }
    }
    ::closedir(dir);
    {
      std::shared_lock lock(mu_);
      std::erase_if(names, [&](const std::string& n) {
        return std::any_of(packs_.begin(), packs_.end(),
                           [&](const auto& p) { return p->name == n; });
      });
    }
    for (const std::string& name : names) {
      fs::path idx = packs_dir_ / (name + ".idx");
      std::error_code ec;
      auto size = fs::file_size(idx, ec);
      if (ec) continue;  // removed meanwhile by a gc
      auto text = ReadRange(idx, 0, static_cast<int64_t>(size));
      if (!text.has_value()) continue;
      auto entries = DecodeIndex(*text);
      if (!entries.has_value()) {
        log::Warn("data: skipping pack {}: {}", name, entries.error().message());
        continue;
      }
      auto pack = std::make_shared<Pack>();
      pack->name = name;
      pack->data = packs_dir_ / (name + ".pack");
      pack->entries = std::move(*entries);
      std::unique_lock lock(mu_);
      if (std::none_of(packs_.begin(), packs_.end(), [&](const auto& p) { return p->name == name; })) {
        packs_.push_back(std::move(pack));
      }
    }
    return Status::Ok();
  }

  fs::path packs_dir_;
  std::unique_ptr<blob::BlobStore> loose_;
  std::shared_mutex mu_;  // guards packs_
  std::vector<std::shared_ptr<const Pack>> packs_;
};

PackWriterImpl::~PackWriterImpl() {
  if (!committed_) {
    for (Worker& w : workers_) {
      Discard(w.current);
      for (Open& o : w.full) Discard(o);
    }
  }
  ::close(lock_fd_);  // releases the flock
}

void PackWriterImpl::Discard(Open& open) {
  if (open.fd >= 0) {
    ::close(open.fd);
    open.fd = -1;
    std::error_code ec;
    fs::remove(open.temp, ec);
  }
}

Status PackWriterImpl::StartPack(Open& open) {
  open.temp = cache_.packs_dir() / fmt::format("tmp-{}.pack", RandomId());
  open.fd = ::open(open.temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (open.fd < 0) return Errno("cannot create a pack", errno);
  open.buffer.reserve(kWriteBufferBytes + ObjectCache::kPackObjectBytes);
  open.buffer.assign(kPackMagic);
  open.size = static_cast<int64_t>(kPackMagic.size());
  return Status::Ok();
}

Status PackWriterImpl::Flush(Open& open) {
  RETURN_IF_ERROR(WriteAll(open.fd, open.buffer));
  open.buffer.clear();
  return Status::Ok();
}

Status PackWriterImpl::Add(int worker, std::string_view sha256, std::string_view data) {
  RawSha raw = ToRaw(sha256);
  if (cache_.ExistsForWriter(raw, sha256)) return Status::Ok();
  {
    std::lock_guard lock(claimed_mu_);
    if (!claimed_.emplace(sha256).second) return Status::Ok();  // another file, same bytes
  }
  Worker& w = workers_.at(static_cast<size_t>(worker));
  if (w.current.fd >= 0 && w.current.size + static_cast<int64_t>(data.size()) > kMaxPackBytes) {
    RETURN_IF_ERROR(Flush(w.current));
    w.full.push_back(std::move(w.current));
    w.current = Open{};
  }
  if (w.current.fd < 0) RETURN_IF_ERROR(StartPack(w.current));
  w.current.entries.push_back(
      PackEntry{raw, w.current.size, static_cast<int64_t>(data.size())});
  w.current.buffer.append(data);
  w.current.size += static_cast<int64_t>(data.size());
  if (w.current.buffer.size() >= kWriteBufferBytes) RETURN_IF_ERROR(Flush(w.current));
  return Status::Ok();
}

// The data file is renamed into place first, then the index: a pack is
// visible only once both are complete.
Status PackWriterImpl::Publish(Open& open) {
  RETURN_IF_ERROR(Flush(open));
  ::close(open.fd);
  open.fd = -1;
  std::string name = "pack-" + RandomId();
  fs::path dir = cache_.packs_dir();
  fs::path idx_temp = dir / fmt::format("tmp-{}.idx", RandomId());
  std::string index = EncodeIndex(open.entries);
  int fd = ::open(idx_temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) return Errno("cannot create a pack index", errno);
  Status written = WriteAll(fd, index);
  ::close(fd);
  RETURN_IF_ERROR(written);
  if (::rename(open.temp.c_str(), (dir / (name + ".pack")).c_str()) != 0 ||
      ::rename(idx_temp.c_str(), (dir / (name + ".idx")).c_str()) != 0) {
    return Errno("cannot publish a pack", errno);
  }
  auto pack = std::make_shared<Pack>();
  pack->name = name;
  pack->data = dir / (name + ".pack");
  pack->entries = std::move(open.entries);
  std::sort(pack->entries.begin(), pack->entries.end(), BySha);
  cache_.AddPack(std::move(pack));
  return Status::Ok();
}

Status PackWriterImpl::Commit() {
  for (Worker& w : workers_) {
    for (Open& o : w.full) RETURN_IF_ERROR(Publish(o));
    w.full.clear();
    if (w.current.fd >= 0) RETURN_IF_ERROR(Publish(w.current));
  }
  committed_ = true;
  return Status::Ok();
}

Status ObjectCacheImpl::RemoveAllExcept(const std::unordered_set<std::string>& keep, bool dry_run,
                                        LocalGcResult& result) {
  ASSIGN_OR_RETURN(int lock_fd, LockPacks());
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }
  } unlock{lock_fd};
  RETURN_IF_ERROR(Reload());

  std::vector<blob::ObjectInfo> doomed;
  RETURN_IF_ERROR(loose_->ForEachObject([&](const blob::ObjectInfo& o) {
    if (keep.contains(o.sha256)) {
      ++result.objects_kept;
    } else {
      doomed.push_back(o);
    }
  }));
  for (const blob::ObjectInfo& o : doomed) {
    bool removed = dry_run;
    if (!dry_run) {
      ASSIGN_OR_RETURN(removed, loose_->RemoveIfUnlinked(o.sha256));
    }
    if (removed) {
      ++result.objects_removed;
      result.bytes_removed += o.size;
    }
  }

  std::vector<std::shared_ptr<const Pack>> packs;
  {
    std::shared_lock lock(mu_);
    packs = packs_;
  }
  for (const auto& pack : packs) {
    std::vector<PackEntry> kept;
    int64_t removed = 0, removed_bytes = 0;
    for (const PackEntry& e : pack->entries) {
      if (keep.contains(ToHex(e.sha))) {
        kept.push_back(e);
      } else {
        ++removed;
        removed_bytes += e.size;
      }
    }
    result.objects_kept += static_cast<int64_t>(kept.size());
    result.objects_removed += removed;
    result.bytes_removed += removed_bytes;
    if (dry_run || removed == 0) continue;
    // Copy what stays into a new pack, publish it, then drop the old one.
    // The writer skips what the cache has, so the old pack is hidden from
    // it first; if the copy fails, the old files are still there and the
    // next Reload finds them again.
    {
      std::unique_lock lock(mu_);
      std::erase(packs_, pack);
    }
    if (!kept.empty()) {
      PackWriterImpl writer(*this, ::dup(lock_fd), 1);
      for (const PackEntry& e : kept) {
        ASSIGN_OR_RETURN(std::string bytes, ReadRange(pack->data, e.offset, e.size));
        RETURN_IF_ERROR(writer.Add(0, ToHex(e.sha), bytes));
      }
      RETURN_IF_ERROR(writer.Commit());
    }
    std::error_code ec;
    fs::remove(packs_dir_ / (pack->name + ".idx"), ec);
    fs::remove(pack->data, ec);
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<ObjectCache>> ObjectCache::Open(const fs::path& dir) {
  ASSIGN_OR_RETURN(std::unique_ptr<blob::BlobStore> loose, blob::BlobStore::Open(dir));
  std::error_code ec;
  fs::create_directories(dir / "packs", ec);
  if (ec) return Err(Internal("Cannot create " + (dir / "packs").string() + ": " + ec.message()));
  return std::unique_ptr<ObjectCache>(new ObjectCacheImpl(dir / "packs", std::move(loose)));
}

}  // namespace mlforge::data

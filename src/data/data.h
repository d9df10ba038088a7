// Data versioning: content-addressed datasets (docs/data.md).
//
// Client side: a Workspace keeps a local cache of objects (a blob::BlobStore
// under <workspace>/.mlforge/cache), a stat cache for the fast status path,
// pointer files PATH.mlfd meant for git, and a local version log; Push/Pull
// move objects to and from a server. Server side: DatasetService keeps
// datasets, versions and manifests in SQL and objects in the server's
// BlobStore.
//
// A dataset version is a manifest of (path, sha256, size) entries; its id is
// the sha256 of the manifest's canonical text (EncodeManifest).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/status.h"

namespace mlforge {
class Clock;
namespace sql {
class Database;
}
namespace blob {
class BlobStore;
}
}  // namespace mlforge

namespace mlforge::data {

// ---------------------------------------------------------------------------
// Manifests (pure functions; thread-safe).

struct ManifestEntry {
  std::string path;  // normalized relative path (ValidateManifestPath)
  std::string sha256;
  int64_t size = 0;
  friend bool operator==(const ManifestEntry&, const ManifestEntry&) = default;
};

// Entries sorted by path bytes, paths unique. Build one with MakeManifest.
struct Manifest {
  std::vector<ManifestEntry> entries;
  int64_t TotalSize() const;
};

inline constexpr size_t kMaxDatasetNameBytes = 256;
// Limits of a manifest path, in bytes.
inline constexpr size_t kMaxManifestPathBytes = 4096;
inline constexpr size_t kMaxManifestSegmentBytes = 255;

// A manifest path is a relative path in normal form that cannot leave the
// directory it is restored into: non-empty; no leading '/', no empty, "." or
// ".." segment; no '\' (a separator elsewhere), no byte < 0x20 or 0x7f (NUL,
// newline); well-formed UTF-8; length limits above. kInvalidParameterValue.
Status ValidateManifestPath(std::string_view path);

// Sorts, validates every entry (path, sha256 hex, size >= 0) and refuses
// duplicate paths and a path that is also a directory of another path.
Result<Manifest> MakeManifest(std::vector<ManifestEntry> entries);

// The canonical text: one line per entry, "<sha256> <size> <path>\n", sorted
// by path bytes. REQUIRES: manifest came from MakeManifest/ParseManifest.
std::string EncodeManifest(const Manifest& manifest);
// Parses canonical text and refuses anything else (unsorted, duplicates, bad
// paths or hashes, "+1" or "01" sizes), so a version id names one manifest.
Result<Manifest> ParseManifest(std::string_view text);
// The version id: sha256 hex of EncodeManifest(manifest).
std::string ManifestId(const Manifest& manifest);

struct ManifestDiff {
  std::vector<ManifestEntry> added;    // in `to` only
  std::vector<ManifestEntry> removed;  // in `from` only
  std::vector<std::pair<ManifestEntry, ManifestEntry>> modified;  // (from, to)
  bool empty() const { return added.empty() && removed.empty() && modified.empty(); }
};
ManifestDiff DiffManifests(const Manifest& from, const Manifest& to);

// Dataset names: 1..kMaxDatasetNameBytes bytes, UTF-8, no control bytes.
Status ValidateDatasetName(std::string_view name);

// ---------------------------------------------------------------------------
// Pointer files (PATH.mlfd, YAML; docs/data.md).

inline constexpr std::string_view kPointerSuffix = ".mlfd";

struct Pointer {
  std::string path;  // file or directory name, relative to the pointer's directory
  bool is_directory = false;
  std::string version_id;  // the manifest's sha256
  int64_t size = 0;        // bytes of all files
  int64_t file_count = 0;
  std::string dataset;     // dataset name
};

Result<Pointer> ReadPointer(const std::filesystem::path& pointer_file);
// Written to a temp file and renamed into place.
Status WritePointer(const std::filesystem::path& pointer_file, const Pointer& pointer);
// "images" -> "images.mlfd"; "images.mlfd" stays.
std::filesystem::path PointerFileFor(const std::filesystem::path& target);

// ---------------------------------------------------------------------------
// Progress of long work. Implementations must be thread-safe; Update is
// called often, from worker threads, and should be cheap.

class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  // phase: "hashing", "uploading", ...; total 0 when unknown.
  virtual void Update(std::string_view phase, int64_t done, int64_t total, int64_t bytes) = 0;
  virtual void Finish() = 0;
};

// ---------------------------------------------------------------------------
// Client workspace.

struct AddOptions {
  std::string dataset;  // empty: the target's basename
  int threads = 0;      // 0: one per core
  ProgressSink* progress = nullptr;
};

struct AddResult {
  Pointer pointer;
  std::filesystem::path pointer_file;
  int64_t files_hashed = 0;       // files read (the rest came from the stat cache)
  int64_t symlinks_skipped = 0;   // symlinks and special files are never followed or stored
};

struct StatusReport {
  Pointer pointer;
  ManifestDiff changes;  // from the pointer's version to the workspace
  bool target_missing = false;
  int64_t files_hashed = 0;
  int64_t symlinks_skipped = 0;
  bool clean() const { return !target_missing && changes.empty(); }
};

struct CheckoutOptions {
  int threads = 0;
  ProgressSink* progress = nullptr;
  // Remove workspace files under the target that the version does not list.
  bool remove_extra = true;
};

struct CheckoutResult {
  int64_t files_written = 0;
  int64_t files_unchanged = 0;
  int64_t files_removed = 0;
};

struct LogEntry {
  int64_t time_millis = 0;
  std::string dataset;
  std::string version_id;
  int64_t file_count = 0;
  int64_t size = 0;
  std::string path;  // pointer file, relative to the workspace root
};

struct LocalGcResult {
  int64_t objects_kept = 0;
  int64_t objects_removed = 0;
  int64_t bytes_removed = 0;
};

// Where an object's bytes are: a whole loose file, or a range of a pack.
struct ObjectLocation {
  std::filesystem::path file;
  int64_t offset = 0;
  int64_t size = 0;
  bool packed = false;
};

// The workspace cache: each content once, named by its sha256.
//
// Loose objects live in a blob::BlobStore (cache/objects/ab/cdef...). Small
// contents that `add` stores go into pack files instead (cache/packs/*.pack,
// each with a sorted index *.idx), because creating one file per object is
// what bounds adding many small files: ext4 creates a few thousand files a
// second here, a pack takes appends. Layout: docs/data.md.
//
// Thread-safe. Several processes may share a cache: packs are written under
// an exclusive lock on cache/packs/lock and published by renaming their
// index into place, so a reader sees a pack whole or not at all.
class ObjectCache {
 public:
  // Objects up to this size are packed by PackWriter::Add.
  static constexpr int64_t kPackObjectBytes = 1 << 20;

  static Result<std::unique_ptr<ObjectCache>> Open(const std::filesystem::path& dir);
  virtual ~ObjectCache() = default;

  virtual blob::BlobStore& loose() = 0;
  virtual bool Exists(std::string_view sha256) = 0;
  // kResourceDoesNotExist if absent.
  virtual Result<ObjectLocation> Locate(std::string_view sha256) = 0;
  // The stored bytes, not verified (callers that serve them verify).
  virtual Result<std::string> Read(std::string_view sha256) = 0;
  // Loose stores (manifests, pulled objects), as blob::BlobStore.
  virtual Result<std::string> Put(std::string_view data) = 0;
  virtual Result<std::string> PutIfHashIs(std::string_view data, std::string_view sha256) = 0;
  virtual Result<std::string> PutFile(const std::filesystem::path& source) = 0;
  // Every object, loose and packed (an object in both is reported once per copy).
  virtual Status ForEachObject(const std::function<void(std::string_view sha256, int64_t size)>& fn) = 0;

  // Writes small objects into new packs. Holds the pack lock from Begin to
  // Commit (or destruction, which discards what was written), so concurrent
  // adds of the same content store it once. One pack file per worker: no
  // lock on the write path.
  class PackWriter {
   public:
    virtual ~PackWriter() = default;
    // Stores data (whose sha256 the caller computed) unless the cache or
    // this writer already has it. worker in [0, workers). Thread-safe across
    // workers; each worker is used by one thread at a time.
    virtual Status Add(int worker, std::string_view sha256, std::string_view data) = 0;
    // Publishes the packs written.
    virtual Status Commit() = 0;
  };
  virtual Result<std::unique_ptr<PackWriter>> BeginPacks(int workers) = 0;

  // Removes every object not in `keep`: loose files are unlinked, packs that
  // hold removable objects are rewritten without them. Counts in result.
  virtual Status RemoveAllExcept(const std::unordered_set<std::string>& keep, bool dry_run,
                                 LocalGcResult& result) = 0;
};


// A workspace: a directory with .mlforge/ (cache, stat cache, log) below it.
// Thread-compatible: one command at a time per object. Several processes may
// share a workspace: the cache is safe for concurrent writers (same content
// is stored once), the stat cache is last-writer-wins (it is only a cache),
// and log lines are appended atomically.
class Workspace {
 public:
  // Opens root (creating root/.mlforge if missing).
  static Result<std::unique_ptr<Workspace>> Open(const std::filesystem::path& root,
                                                 const Clock& clock);
  // The nearest directory at or above `start` holding .mlforge/, or nullopt.
  static std::optional<std::filesystem::path> Find(const std::filesystem::path& start);
  virtual ~Workspace() = default;

  virtual const std::filesystem::path& root() const = 0;
  virtual ObjectCache& cache() = 0;

  // Hashes a file or directory (inside the workspace), stores new content in
  // the cache, stores the manifest as an object, writes target.mlfd, appends
  // to the log. Symlinks are skipped (counted), never followed.
  virtual Result<AddResult> Add(const std::filesystem::path& target, const AddOptions& options) = 0;
  // Compares the target named by a pointer file with its version. Only files
  // whose (size, mtime, ctime, inode) changed since they were last hashed
  // are read.
  virtual Result<StatusReport> Status(const std::filesystem::path& pointer_file) = 0;
  // Restores the target named by a pointer file from the cache. Every object
  // is verified while it is copied; a corrupted or missing object fails the
  // checkout (kInternalError / kResourceDoesNotExist) naming it, and its
  // file is not written. Never writes outside the target (symlinks on the
  // way are refused).
  virtual Result<CheckoutResult> Checkout(const std::filesystem::path& pointer_file,
                                          const CheckoutOptions& options) = 0;
  // The manifest of a version from the cache, verified against its id.
  virtual Result<Manifest> LoadManifest(std::string_view version_id) = 0;
  // Stores a manifest in the cache (as an object) and returns its id.
  virtual Result<std::string> StoreManifest(const Manifest& manifest) = 0;
  // Versions recorded by Add, oldest first; empty dataset = all.
  virtual Result<std::vector<LogEntry>> Log(std::string_view dataset) = 0;
  // Every pointer file under the workspace root (not under .mlforge or .git).
  virtual Result<std::vector<std::filesystem::path>> FindPointers() = 0;
  // Removes cache objects that no kept version references: the versions of
  // every pointer file in the workspace, plus keep_versions.
  virtual Result<LocalGcResult> CollectGarbage(const std::vector<std::string>& keep_versions,
                                               bool dry_run) = 0;
};

// ---------------------------------------------------------------------------
// Push / pull (client side of the datasets API).

struct RemoteOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 5000;
  int connections = 4;  // parallel uploads/downloads
  ProgressSink* progress = nullptr;
  // Test hook: stop (kTemporarilyUnavailable) after this many object
  // transfers, as a killed push would. Negative: never.
  int64_t abort_after_objects = -1;
};

// Parses "http://host:port" (an optional path is ignored). https is refused.
Result<RemoteOptions> ParseRemoteUri(std::string_view uri);

struct TransferResult {
  std::string version_id;
  int64_t objects_total = 0;  // referenced by the version (+1 for the manifest)
  int64_t objects_transferred = 0;
  int64_t bytes_transferred = 0;
  int64_t version_number = 0;  // push: the server's number for this version
};

// Uploads what the server lacks of a version (one batched existence check,
// then parallel uploads; objects already there are skipped, so a push that
// was interrupted resumes), then registers the version under `dataset`.
Result<TransferResult> Push(Workspace& workspace, std::string_view dataset,
                            std::string_view version_id, const RemoteOptions& options);
// Downloads the manifest and the objects of a version missing from the
// cache, verifying each against its hash (a mismatch is refused, nothing is
// stored). Does not touch workspace files: Checkout does.
Result<TransferResult> Pull(Workspace& workspace, std::string_view version_id,
                            const RemoteOptions& options);

// ---------------------------------------------------------------------------
// Server side.

struct DatasetInfo {
  std::string name;
  std::string description;
  int64_t creation_time = 0;  // ms
  int64_t last_update_time = 0;
  int64_t version_count = 0;
};

struct VersionInfo {
  std::string dataset;
  int64_t version = 0;     // 1, 2, ... per dataset
  std::string version_id;  // manifest sha256
  int64_t file_count = 0;
  int64_t size = 0;
  std::string message;
  int64_t creation_time = 0;
};

struct ManifestPage {
  std::vector<ManifestEntry> entries;
  std::string next_page_token;
};

struct ServerGcResult {
  int64_t objects_scanned = 0;
  int64_t objects_referenced = 0;  // by a dataset manifest (or is a manifest)
  int64_t objects_linked = 0;      // hard-linked by artifact views
  int64_t objects_recent = 0;      // younger than the grace period
  int64_t objects_removable = 0;
  int64_t bytes_removable = 0;
  int64_t objects_removed = 0;  // 0 on a dry run
};

// Limits of the API (requests over them are kInvalidParameterValue).
inline constexpr int kMaxMissingCheck = 10'000;  // hashes per objects/missing call
inline constexpr int kMaxManifestPage = 10'000;

// Thread-safe: every call is one database transaction plus blob-store calls.
class DatasetService {
 public:
  // Applies the "data" schema migrations. db, objects and clock must outlive it.
  static Result<std::unique_ptr<DatasetService>> Open(sql::Database& db, blob::BlobStore& objects,
                                                      const Clock& clock);
  virtual ~DatasetService() = default;

  virtual Result<DatasetInfo> CreateDataset(std::string_view name, std::string_view description) = 0;
  virtual Result<DatasetInfo> GetDataset(std::string_view name) = 0;
  virtual Result<std::vector<DatasetInfo>> ListDatasets() = 0;

  // Registers the manifest object `version_id` (already uploaded) as the next
  // version of the dataset (created if missing). Refuses (kInvalidParameterValue)
  // when the manifest or any object it names is missing; `missing` then lists
  // them (up to 100). Registering the same id again returns the existing version.
  virtual Result<VersionInfo> CreateVersion(std::string_view dataset, std::string_view version_id,
                                            std::string_view message,
                                            std::vector<std::string>* missing) = 0;
  // `version`: a number ("3"), or a version id.
  virtual Result<VersionInfo> GetVersion(std::string_view dataset, std::string_view version) = 0;
  virtual Result<std::vector<VersionInfo>> ListVersions(std::string_view dataset) = 0;
  // Versions (of any dataset) whose id is `digest` or starts with it: how an
  // MLflow dataset input's digest names a version (see DigestsNamingVersion).
  // A digest that cannot name a version (not 8..64 lowercase hex) finds none.
  virtual Result<std::vector<VersionInfo>> FindVersionsByDigest(std::string_view digest) = 0;
  virtual Result<ManifestPage> GetManifest(std::string_view version_id, int max_results,
                                           std::string_view page_token) = 0;

  // Which of the hashes are not stored. Every hash must be valid hex.
  virtual Result<std::vector<std::string>> MissingObjects(const std::vector<std::string>& sha256s) = 0;
  // Stores an uploaded file (consumed) iff it hashes to sha256.
  virtual Status PutObject(std::string_view sha256, const std::filesystem::path& spooled) = 0;
  virtual Status PutObjectBytes(std::string_view sha256, std::string_view bytes) = 0;
  virtual Result<std::filesystem::path> ObjectPath(std::string_view sha256) = 0;

  // Objects referenced by no dataset version, linked by no artifact view and
  // older than grace_seconds; removed unless dry_run.
  virtual Result<ServerGcResult> CollectGarbage(bool dry_run, int64_t grace_seconds) = 0;
};

// Applies the "data" schema migrations alone (`mlforge db upgrade`).
Status ApplyDataMigrations(sql::Database& db);

// Digests a run's MLflow dataset input may carry to name this version: the
// full id and every prefix of 8 or more hex chars (MLflow digests are short).
std::vector<std::string> DigestsNamingVersion(std::string_view version_id);

}  // namespace mlforge::data

// Server side of data versioning: datasets, versions and manifests in SQL
// (component "data"), objects in the server's BlobStore. docs/data.md.
#include <fmt/core.h>

#include <algorithm>
#include <mutex>
#include <shared_mutex>
#include <unordered_set>

#include "base/clock.h"
#include "base/hash.h"
#include "base/page_token.h"
#include "blob/blob.h"
#include "data/data.h"
#include "sql/sql.h"

namespace mlforge::data {
namespace {

// Manifest paths sort bytewise on both backends: SQLite's default BINARY
// collation, and COLLATE "C" on PostgreSQL.
#define MLFORGE_DATA_V1(PATH_COLLATE)                                          \
  "CREATE TABLE data_datasets ("                                               \
  "  name TEXT PRIMARY KEY,"                                                   \
  "  description TEXT NOT NULL DEFAULT '',"                                    \
  "  creation_time BIGINT NOT NULL,"                                           \
  "  last_update_time BIGINT NOT NULL,"                                        \
  "  version_count BIGINT NOT NULL DEFAULT 0);"                                \
  "CREATE TABLE data_manifests ("                                              \
  "  manifest_id TEXT PRIMARY KEY,"                                            \
  "  file_count BIGINT NOT NULL,"                                              \
  "  total_size BIGINT NOT NULL);"                                             \
  "CREATE TABLE data_manifest_entries ("                                       \
  "  manifest_id TEXT NOT NULL REFERENCES data_manifests(manifest_id),"        \
  "  path TEXT " PATH_COLLATE " NOT NULL,"                                     \
  "  sha256 TEXT NOT NULL,"                                                    \
  "  size BIGINT NOT NULL,"                                                    \
  "  PRIMARY KEY (manifest_id, path));"                                        \
  "CREATE TABLE data_versions ("                                               \
  "  dataset_name TEXT NOT NULL REFERENCES data_datasets(name),"               \
  "  version BIGINT NOT NULL,"                                                 \
  "  manifest_id TEXT NOT NULL REFERENCES data_manifests(manifest_id),"        \
  "  message TEXT NOT NULL DEFAULT '',"                                        \
  "  creation_time BIGINT NOT NULL,"                                           \
  "  PRIMARY KEY (dataset_name, version),"                                     \
  "  UNIQUE (dataset_name, manifest_id));"

constexpr sql::Migration kMigrations[] = {
    {.version = 1,
     .name = "datasets, versions, manifests",
     .sqlite = MLFORGE_DATA_V1(""),
     .postgres = MLFORGE_DATA_V1("COLLATE \"C\"")},
};

// Rows per multi-row INSERT of manifest entries (4 parameters each).
constexpr size_t kEntriesPerInsert = 250;
// Missing objects named in an error, at most.
constexpr size_t kMissingReported = 100;

constexpr std::string_view kVersionColumns =
    "v.dataset_name, v.version, v.manifest_id, m.file_count, m.total_size, v.message, "
    "v.creation_time";

VersionInfo ReadVersion(const sql::Row& r) {
  return VersionInfo{.dataset = std::string(r.GetText(0)),
                     .version = r.GetInt(1),
                     .version_id = std::string(r.GetText(2)),
                     .file_count = r.GetInt(3),
                     .size = r.GetInt(4),
                     .message = std::string(r.GetText(5)),
                     .creation_time = r.GetInt(6)};
}

DatasetInfo ReadDataset(const sql::Row& r) {
  return DatasetInfo{.name = std::string(r.GetText(0)),
                     .description = std::string(r.GetText(1)),
                     .creation_time = r.GetInt(2),
                     .last_update_time = r.GetInt(3),
                     .version_count = r.GetInt(4)};
}

constexpr std::string_view kDatasetColumns =
    "name, description, creation_time, last_update_time, version_count";

Status CheckSha(std::string_view sha) {
  if (IsSha256Hex(sha)) return Status::Ok();
  return InvalidArgument("Invalid sha256: expected 64 lowercase hex characters");
}

// Thread-safe. gc_mu_ keeps garbage collection from deleting an object
// between a version's existence check and its insert (within this process;
// a collector on another replica is covered by the grace period).
class DatasetServiceImpl final : public DatasetService {
 public:
  DatasetServiceImpl(sql::Database& db, blob::BlobStore& objects, const Clock& clock)
      : db_(db), objects_(objects), clock_(clock) {}

  Result<DatasetInfo> CreateDataset(std::string_view name, std::string_view description) override {
    RETURN_IF_ERROR(ValidateDatasetName(name));
    int64_t now = clock_.NowMillis();
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      return StatusOf(c.Execute(
          "INSERT INTO data_datasets (name, description, creation_time, last_update_time) "
          "VALUES (?, ?, ?, ?)",
          {name, description, now, now}));
    }));
    return GetDataset(name);
  }

  Result<DatasetInfo> GetDataset(std::string_view name) override {
    std::optional<DatasetInfo> found;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      return c.Query(fmt::format("SELECT {} FROM data_datasets WHERE name = ?", kDatasetColumns),
                     {name}, [&](const sql::Row& r) { found = ReadDataset(r); });
    }));
    if (!found) return Err(NotFound(fmt::format("Dataset '{}' does not exist", name)));
    return *found;
  }

  Result<std::vector<DatasetInfo>> ListDatasets() override {
    std::vector<DatasetInfo> out;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      return c.Query(fmt::format("SELECT {} FROM data_datasets ORDER BY name", kDatasetColumns), {},
                     [&](const sql::Row& r) { out.push_back(ReadDataset(r)); });
    }));
    return out;
  }

  Result<VersionInfo> CreateVersion(std::string_view dataset, std::string_view version_id,
                                    std::string_view message,
                                    std::vector<std::string>* missing) override {
    RETURN_IF_ERROR(ValidateDatasetName(dataset));
    RETURN_IF_ERROR(CheckSha(version_id));
    std::shared_lock gc_guard(gc_mu_);
    if (auto existing = FindVersionById(dataset, version_id); existing.has_value()) {
      return *existing;
    }
    auto text = objects_.Read(version_id);
    if (!text.has_value()) {
      if (missing) missing->assign(1, std::string(version_id));
      return Err(InvalidArgument(fmt::format(
          "Manifest object {} is not on the server; upload it first", version_id)));
    }
    if (Sha256::HexOf(*text) != version_id) {
      return Err(Internal(fmt::format("Stored object {} is corrupted", version_id)));
    }
    ASSIGN_OR_RETURN(Manifest manifest, ParseManifest(*text));
    std::vector<std::string> absent;
    size_t absent_count = 0;
    std::unordered_set<std::string_view> checked;
    for (const ManifestEntry& e : manifest.entries) {
      if (!checked.insert(e.sha256).second || objects_.Exists(e.sha256)) continue;
      if (absent.size() < kMissingReported) absent.push_back(e.sha256);
      ++absent_count;
    }
    if (absent_count > 0) {
      if (missing) *missing = absent;
      return Err(InvalidArgument(fmt::format(
          "{} object(s) of version {} are not on the server; upload them first (first: {})",
          absent_count, version_id, absent.front())));
    }
    int64_t now = clock_.NowMillis();
    int64_t number = 0;
    Status s = db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      RETURN_IF_ERROR(StatusOf(c.Execute(
          "INSERT INTO data_datasets (name, description, creation_time, last_update_time) "
          "VALUES (?, '', ?, ?) ON CONFLICT (name) DO NOTHING",
          {dataset, now, now})));
      ASSIGN_OR_RETURN(int64_t inserted,
                       c.Execute("INSERT INTO data_manifests (manifest_id, file_count, total_size) "
                                 "VALUES (?, ?, ?) ON CONFLICT (manifest_id) DO NOTHING",
                                 {version_id, static_cast<int64_t>(manifest.entries.size()),
                                  manifest.TotalSize()}));
      if (inserted == 1) RETURN_IF_ERROR(InsertEntries(c, version_id, manifest));
      // One statement: on PostgreSQL the row lock orders concurrent creators.
      RETURN_IF_ERROR(c.Query(
          "UPDATE data_datasets SET version_count = version_count + 1, last_update_time = ? "
          "WHERE name = ? RETURNING version_count",
          {now, dataset}, [&](const sql::Row& r) { number = r.GetInt(0); }));
      return StatusOf(c.Execute(
          "INSERT INTO data_versions (dataset_name, version, manifest_id, message, creation_time) "
          "VALUES (?, ?, ?, ?, ?)",
          {dataset, number, version_id, message, now}));
    });
    if (s.code() == ErrorCode::kResourceAlreadyExists) {
      // A concurrent push registered the same version first.
      if (auto existing = FindVersionById(dataset, version_id); existing.has_value()) {
        return *existing;
      }
    }
    RETURN_IF_ERROR(s);
    return GetVersion(dataset, std::to_string(number));
  }

  Result<VersionInfo> GetVersion(std::string_view dataset, std::string_view version) override {
    std::optional<VersionInfo> found;
    bool numeric = !version.empty() && version.size() < 19 &&
                   std::all_of(version.begin(), version.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (numeric) {
      int64_t n = std::stoll(std::string(version));
      RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
        return c.Query(fmt::format("SELECT {} FROM data_versions v JOIN data_manifests m ON "
                                   "m.manifest_id = v.manifest_id WHERE v.dataset_name = ? AND "
                                   "v.version = ?",
                                   kVersionColumns),
                       {dataset, n}, [&](const sql::Row& r) { found = ReadVersion(r); });
      }));
    } else {
      RETURN_IF_ERROR(CheckSha(version));
      found = FindVersionById(dataset, version);
    }
    if (!found) {
      return Err(NotFound(fmt::format("Version '{}' of dataset '{}' does not exist", version, dataset)));
    }
    return *found;
  }

  Result<std::vector<VersionInfo>> ListVersions(std::string_view dataset) override {
    ASSIGN_OR_RETURN(DatasetInfo info, GetDataset(dataset));
    (void)info;
    std::vector<VersionInfo> out;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      return c.Query(fmt::format("SELECT {} FROM data_versions v JOIN data_manifests m ON "
                                 "m.manifest_id = v.manifest_id WHERE v.dataset_name = ? "
                                 "ORDER BY v.version",
                                 kVersionColumns),
                     {dataset}, [&](const sql::Row& r) { out.push_back(ReadVersion(r)); });
    }));
    return out;
  }

  Result<ManifestPage> GetManifest(std::string_view version_id, int max_results,
                                   std::string_view page_token) override {
    RETURN_IF_ERROR(CheckSha(version_id));
    if (max_results <= 0 || max_results > kMaxManifestPage) {
      return Err(InvalidArgument(fmt::format("max_results must be 1 to {}", kMaxManifestPage)));
    }
    // The token is the last path of the previous page (base64), so pages stay
    // stable however the table grows.
    std::string after;
    if (!page_token.empty()) {
      auto decoded = Base64Decode(page_token);
      if (!decoded.has_value() || ValidateManifestPath(*decoded).ok() == false) {
        return Err(InvalidArgument("Invalid page_token"));
      }
      after = std::move(*decoded);
    }
    bool known = false;
    ManifestPage page;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      RETURN_IF_ERROR(c.Query("SELECT 1 FROM data_manifests WHERE manifest_id = ?", {version_id},
                              [&](const sql::Row&) { known = true; }));
      return c.Query(
          "SELECT path, sha256, size FROM data_manifest_entries WHERE manifest_id = ? AND path > ? "
          "ORDER BY path LIMIT ?",
          {version_id, std::string_view(after), static_cast<int64_t>(max_results) + 1},
          [&](const sql::Row& r) {
            page.entries.push_back(ManifestEntry{std::string(r.GetText(0)),
                                                 std::string(r.GetText(1)), r.GetInt(2)});
          });
    }));
    if (!known) return Err(NotFound(fmt::format("Version {} does not exist", version_id)));
    if (page.entries.size() > static_cast<size_t>(max_results)) {
      page.entries.pop_back();
      page.next_page_token = Base64Encode(page.entries.back().path);
    }
    return page;
  }

  Result<std::vector<std::string>> MissingObjects(const std::vector<std::string>& sha256s) override {
    if (sha256s.size() > static_cast<size_t>(kMaxMissingCheck)) {
      return Err(InvalidArgument(
          fmt::format("At most {} hashes per existence check", kMaxMissingCheck)));
    }
    for (const std::string& s : sha256s) RETURN_IF_ERROR(CheckSha(s));
    std::vector<std::string> out;
    for (const std::string& s : sha256s) {
      if (!objects_.Exists(s)) out.push_back(s);
    }
    return out;
  }

  Status PutObject(std::string_view sha256, const std::filesystem::path& spooled) override {
    return StatusOf(objects_.PutFileIfHashIs(spooled, sha256, /*consume_source=*/true));
  }

  Status PutObjectBytes(std::string_view sha256, std::string_view bytes) override {
    return StatusOf(objects_.PutIfHashIs(bytes, sha256));
  }

  Result<std::filesystem::path> ObjectPath(std::string_view sha256) override {
    RETURN_IF_ERROR(CheckSha(sha256));
    return objects_.ObjectPath(sha256);
  }

  Result<ServerGcResult> CollectGarbage(bool dry_run, int64_t grace_seconds) override {
    if (grace_seconds < 0) return Err(InvalidArgument("grace_seconds must be >= 0"));
    std::unique_lock gc_guard(gc_mu_);
    std::unordered_set<std::string> referenced;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      RETURN_IF_ERROR(c.Query("SELECT manifest_id FROM data_manifests", {},
                              [&](const sql::Row& r) { referenced.emplace(r.GetText(0)); }));
      return c.Query("SELECT DISTINCT sha256 FROM data_manifest_entries", {},
                     [&](const sql::Row& r) { referenced.emplace(r.GetText(0)); });
    }));
    ServerGcResult result;
    std::vector<blob::ObjectInfo> removable;
    const int64_t now_seconds = clock_.NowMillis() / 1000;
    RETURN_IF_ERROR(objects_.ForEachObject([&](const blob::ObjectInfo& o) {
      ++result.objects_scanned;
      if (referenced.contains(o.sha256)) {
        ++result.objects_referenced;
      } else if (o.link_count > 1) {
        ++result.objects_linked;  // an artifact view (e.g. a model version's file) uses it
      } else if (o.change_time_seconds + grace_seconds > now_seconds) {
        ++result.objects_recent;  // maybe part of a push still in progress
      } else {
        removable.push_back(o);
      }
    }));
    result.objects_removable = static_cast<int64_t>(removable.size());
    for (const blob::ObjectInfo& o : removable) result.bytes_removable += o.size;
    if (!dry_run) {
      for (const blob::ObjectInfo& o : removable) {
        ASSIGN_OR_RETURN(bool removed, objects_.RemoveIfUnlinked(o.sha256));
        if (removed) ++result.objects_removed;
      }
    }
    return result;
  }

  Result<std::vector<VersionInfo>> FindVersionsByDigest(std::string_view digest) override {
    std::vector<VersionInfo> out;
    const bool hex = std::all_of(digest.begin(), digest.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    });
    if (!hex || digest.size() < 8 || digest.size() > 64) return out;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      out.clear();
      return c.Query(fmt::format("SELECT {} FROM data_versions v JOIN data_manifests m ON "
                                 "m.manifest_id = v.manifest_id WHERE SUBSTR(m.manifest_id, 1, CAST(? AS INTEGER)) "
                                 "= ? ORDER BY v.manifest_id, v.dataset_name, v.version",
                                 kVersionColumns),
                     {static_cast<int64_t>(digest.size()), digest},
                     [&](const sql::Row& r) { out.push_back(ReadVersion(r)); });
    }));
    return out;
  }

  Status Migrate() { return ApplyDataMigrations(db_); }

 private:
  std::optional<VersionInfo> FindVersionById(std::string_view dataset, std::string_view id) {
    std::optional<VersionInfo> found;
    Status s = db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      return c.Query(fmt::format("SELECT {} FROM data_versions v JOIN data_manifests m ON "
                                 "m.manifest_id = v.manifest_id WHERE v.dataset_name = ? AND "
                                 "v.manifest_id = ?",
                                 kVersionColumns),
                     {dataset, id}, [&](const sql::Row& r) { found = ReadVersion(r); });
    });
    if (!s.ok()) return std::nullopt;
    return found;
  }

  static Status InsertEntries(sql::Connection& c, std::string_view manifest_id,
                              const Manifest& manifest) {
    const auto& entries = manifest.entries;
    std::vector<sql::Param> params;
    for (size_t start = 0; start < entries.size(); start += kEntriesPerInsert) {
      size_t end = std::min(entries.size(), start + kEntriesPerInsert);
      std::string sql = "INSERT INTO data_manifest_entries (manifest_id, path, sha256, size) VALUES ";
      params.clear();
      for (size_t i = start; i < end; ++i) {
        sql += i == start ? "(?, ?, ?, ?)" : ", (?, ?, ?, ?)";
        params.emplace_back(manifest_id);
        params.emplace_back(std::string_view(entries[i].path));
        params.emplace_back(std::string_view(entries[i].sha256));
        params.emplace_back(entries[i].size);
      }
      RETURN_IF_ERROR(StatusOf(c.Execute(sql, params)));
    }
    return Status::Ok();
  }

  sql::Database& db_;
  blob::BlobStore& objects_;
  const Clock& clock_;
  std::shared_mutex gc_mu_;
};

}  // namespace

Status ApplyDataMigrations(sql::Database& db) { return db.Migrate("data", kMigrations); }

Result<std::unique_ptr<DatasetService>> DatasetService::Open(sql::Database& db,
                                                             blob::BlobStore& objects,
                                                             const Clock& clock) {
  auto service = std::make_unique<DatasetServiceImpl>(db, objects, clock);
  RETURN_IF_ERROR(service->Migrate());
  return std::unique_ptr<DatasetService>(std::move(service));
}

}  // namespace mlforge::data

// DatasetService on SQLite and PostgreSQL: versions, manifests, the missing
// check, verified uploads, and a garbage collector that never removes what a
// dataset version or an artifact view depends on.
#include <gtest/gtest.h>

#include <fstream>

#include "base/clock.h"
#include "base/hash.h"
#include "blob/blob.h"
#include "data/data.h"
#include "support/scratch_database.h"
#include "support/temp_dir.h"

namespace mlforge::data {
namespace {

class DatasetServiceTest : public ::testing::TestWithParam<sql::Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == sql::Backend::kPostgres && sql::testing::PgOptedOut()) {
      GTEST_SKIP() << "MLFORGE_TEST_PG=off";
    }
    auto scratch = sql::testing::ScratchDatabase::Create(GetParam());
    ASSERT_TRUE(scratch.has_value()) << scratch.error().ToString();
    scratch_ = std::move(*scratch);
    auto db = scratch_->Open();
    ASSERT_TRUE(db.has_value()) << db.error().ToString();
    db_ = std::move(*db);
    auto artifacts = blob::ArtifactStore::Open(dir_.path() / "store");
    ASSERT_TRUE(artifacts.has_value());
    artifacts_ = std::move(*artifacts);
    // The real clock: gc compares it with the objects' ctime.
    auto service = DatasetService::Open(*db_, artifacts_->blobs(), SystemClock::Get());
    ASSERT_TRUE(service.has_value()) << service.error().ToString();
    service_ = std::move(*service);
  }

  // Uploads contents and a manifest of them; returns the manifest id.
  std::string UploadVersion(const std::vector<std::pair<std::string, std::string>>& files,
                            bool upload_objects = true) {
    std::vector<ManifestEntry> entries;
    for (const auto& [path, content] : files) {
      std::string sha = Sha256::HexOf(content);
      if (upload_objects) EXPECT_OK(service_->PutObjectBytes(sha, content));
      entries.push_back({path, sha, static_cast<int64_t>(content.size())});
    }
    auto manifest = MakeManifest(entries);
    std::string text = EncodeManifest(*manifest);
    std::string id = Sha256::HexOf(text);
    EXPECT_OK(service_->PutObjectBytes(id, text));
    return id;
  }

  testing::TempDir dir_;
  std::unique_ptr<sql::testing::ScratchDatabase> scratch_;
  std::unique_ptr<sql::Database> db_;
  std::unique_ptr<blob::ArtifactStore> artifacts_;
  std::unique_ptr<DatasetService> service_;
};

TEST_P(DatasetServiceTest, VersionsAreNumberedAndIdempotent) {
  std::string v1 = UploadVersion({{"a", "1"}, {"b/c", "2"}});
  std::string v2 = UploadVersion({{"a", "1"}, {"b/c", "3"}});
  auto r1 = service_->CreateVersion("ds", v1, "first", nullptr);
  ASSERT_TRUE(r1.has_value()) << r1.error().ToString();
  EXPECT_EQ(r1->version, 1);
  EXPECT_EQ(r1->file_count, 2);
  EXPECT_EQ(r1->size, 2);
  auto r2 = service_->CreateVersion("ds", v2, "", nullptr);
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(r2->version, 2);
  auto again = service_->CreateVersion("ds", v1, "", nullptr);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->version, 1);
  // The same manifest under another dataset is stored once, numbered there.
  auto other = service_->CreateVersion("other", v1, "", nullptr);
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->version, 1);

  EXPECT_EQ(service_->GetVersion("ds", "2")->version_id, v2);
  EXPECT_EQ(service_->GetVersion("ds", v1)->version, 1);
  EXPECT_EQ(service_->GetVersion("ds", "3").error().code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(service_->ListVersions("ds")->size(), 2u);
  EXPECT_EQ(service_->GetDataset("ds")->version_count, 2);
  EXPECT_EQ(service_->ListDatasets()->size(), 2u);
  EXPECT_FALSE(service_->ListVersions("nope").has_value());
  EXPECT_EQ(service_->CreateDataset("ds", "").error().code(), ErrorCode::kResourceAlreadyExists);
}

// How lineage links an MLflow dataset input to versions: its digest is the
// version id or a prefix of 8+ hex chars of it, in any dataset.
TEST_P(DatasetServiceTest, FindVersionsByDigestMatchesIdsAndPrefixes) {
  std::string v1 = UploadVersion({{"a", "1"}});
  std::string v2 = UploadVersion({{"a", "2"}});
  ASSERT_TRUE(service_->CreateVersion("ds", v1, "", nullptr).has_value());
  ASSERT_TRUE(service_->CreateVersion("other", v1, "", nullptr).has_value());
  ASSERT_TRUE(service_->CreateVersion("ds", v2, "", nullptr).has_value());

  auto full = service_->FindVersionsByDigest(v1);
  ASSERT_TRUE(full.has_value()) << full.error().ToString();
  ASSERT_EQ(full->size(), 2u);  // the same manifest in two datasets
  EXPECT_EQ((*full)[0].dataset, "ds");
  EXPECT_EQ((*full)[1].dataset, "other");
  auto prefix = service_->FindVersionsByDigest(v2.substr(0, 8));
  ASSERT_TRUE(prefix.has_value());
  ASSERT_EQ(prefix->size(), 1u);
  EXPECT_EQ((*prefix)[0].version_id, v2);
  // Too short, not hex, upper case, or unknown: no version, and no error.
  for (std::string digest : {v1.substr(0, 7), std::string("not-hex-digest"), std::string("ABCDEF12"),
                             std::string(64, '0'), std::string("1234abcd%'")}) {
    auto none = service_->FindVersionsByDigest(digest);
    ASSERT_TRUE(none.has_value()) << digest;
    EXPECT_TRUE(none->empty()) << digest;
  }
}

TEST_P(DatasetServiceTest, CreateVersionRefusesMissingObjectsAndNamesThem) {
  std::string id = UploadVersion({{"x", "present"}, {"y", "absent"}}, /*upload_objects=*/false);
  ASSERT_OK(service_->PutObjectBytes(Sha256::HexOf("present"), "present"));
  std::vector<std::string> missing;
  auto r = service_->CreateVersion("ds", id, "", &missing);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidParameterValue);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0], Sha256::HexOf("absent"));
  EXPECT_FALSE(service_->GetDataset("ds").has_value());  // nothing half-created

  std::string never = std::string(64, 'e');
  missing.clear();
  EXPECT_FALSE(service_->CreateVersion("ds", never, "", &missing).has_value());
  EXPECT_EQ(missing, std::vector<std::string>{never});
  EXPECT_FALSE(service_->CreateVersion("ds", "not-a-hash", "", nullptr).has_value());
  EXPECT_FALSE(service_->CreateVersion("", id, "", nullptr).has_value());
}

TEST_P(DatasetServiceTest, ManifestPagesInPathOrder) {
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 0; i < 25; ++i) files.push_back({"f" + std::to_string(i), std::to_string(i)});
  files.push_back({"B", "upper"});  // bytewise: "B" < "f..." on both backends
  std::string id = UploadVersion(files);
  ASSERT_TRUE(service_->CreateVersion("ds", id, "", nullptr).has_value());
  std::vector<std::string> paths;
  std::string token;
  int pages = 0;
  do {
    auto page = service_->GetManifest(id, 10, token);
    ASSERT_TRUE(page.has_value()) << page.error().ToString();
    for (const auto& e : page->entries) paths.push_back(e.path);
    token = page->next_page_token;
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(paths.size(), 26u);
  EXPECT_EQ(paths.front(), "B");
  EXPECT_TRUE(std::is_sorted(paths.begin(), paths.end()));
  EXPECT_FALSE(service_->GetManifest(id, 0, "").has_value());
  EXPECT_FALSE(service_->GetManifest(id, 10, "!!garbage").has_value());
  EXPECT_EQ(service_->GetManifest(std::string(64, 'f'), 10, "").error().code(),
            ErrorCode::kResourceDoesNotExist);
}

TEST_P(DatasetServiceTest, UploadsAreVerifiedAndMissingCheckIsBatched) {
  std::string sha = Sha256::HexOf("content");
  EXPECT_FALSE(service_->PutObjectBytes(sha, "tampered").ok());
  auto missing = service_->MissingObjects({sha});
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->size(), 1u);  // nothing stored under either name
  EXPECT_TRUE(service_->MissingObjects({Sha256::HexOf("tampered")})->size() == 1);

  // A spooled upload with the wrong name: refused, consumed, nothing stored.
  auto spooled = dir_.path() / "spool";
  std::ofstream(spooled) << "tampered";
  EXPECT_FALSE(service_->PutObject(sha, spooled).ok());
  EXPECT_FALSE(std::filesystem::exists(spooled));
  std::ofstream(spooled) << "content";
  EXPECT_OK(service_->PutObject(sha, spooled));
  EXPECT_TRUE(service_->MissingObjects({sha})->empty());

  EXPECT_FALSE(service_->MissingObjects({"../../etc/passwd"}).has_value());
  std::vector<std::string> too_many(kMaxMissingCheck + 1, sha);
  EXPECT_FALSE(service_->MissingObjects(too_many).has_value());
}

TEST_P(DatasetServiceTest, GcNeverRemovesWhatVersionsOrArtifactsUse) {
  std::string id = UploadVersion({{"kept", "in a version"}});
  ASSERT_TRUE(service_->CreateVersion("ds", id, "", nullptr).has_value());
  // A registered model's pinned file is an artifact view: a hard link.
  ASSERT_TRUE(artifacts_->Put("models/m/1/model.json", "model weights").has_value());
  std::string orphan = Sha256::HexOf("orphan");
  ASSERT_OK(service_->PutObjectBytes(orphan, "orphan"));
  std::string uploaded_not_versioned = UploadVersion({{"p", "pending push"}});

  auto dry = service_->CollectGarbage(/*dry_run=*/true, /*grace_seconds=*/0);
  ASSERT_TRUE(dry.has_value()) << dry.error().ToString();
  EXPECT_EQ(dry->objects_referenced, 2);  // the manifest and its object
  EXPECT_EQ(dry->objects_linked, 1);
  EXPECT_EQ(dry->objects_removable, 3);  // orphan, pending content, pending manifest
  EXPECT_EQ(dry->objects_removed, 0);
  EXPECT_TRUE(service_->MissingObjects({orphan})->empty());

  // Within the grace period nothing is removed: a push may be in flight.
  auto graced = service_->CollectGarbage(false, 3600);
  EXPECT_EQ(graced->objects_removed, 0);
  EXPECT_EQ(graced->objects_recent, 3);

  auto real = service_->CollectGarbage(false, 0);
  ASSERT_TRUE(real.has_value());
  EXPECT_EQ(real->objects_removed, 3);
  EXPECT_EQ(service_->MissingObjects({orphan, uploaded_not_versioned})->size(), 2u);
  EXPECT_TRUE(service_->MissingObjects({id, Sha256::HexOf("in a version")})->empty());
  EXPECT_EQ(*artifacts_->Read("models/m/1/model.json"), "model weights");
  EXPECT_TRUE(service_->GetManifest(id, 10, "").has_value());
}

INSTANTIATE_TEST_SUITE_P(Backends, DatasetServiceTest,
                         ::testing::Values(sql::Backend::kSqlite, sql::Backend::kPostgres),
                         [](const auto& info) {
                           return info.param == sql::Backend::kSqlite ? "sqlite" : "postgres";
                         });

}  // namespace
}  // namespace mlforge::data

// Client workspace: add/status/checkout/gc round trips, corruption, symlinks,
// hostile manifests, concurrent adds.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/clock.h"
#include "base/hash.h"
#include "blob/blob.h"
#include "data/data.h"
#include "support/temp_dir.h"

namespace mlforge::data {
namespace {

namespace fs = std::filesystem;

void WriteFile(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Files hashed less than the stat cache's racy window after their last
// change are read again; tests wait it out where they count reads.
void WaitPastRacyWindow() { std::this_thread::sleep_for(std::chrono::milliseconds(80)); }

int64_t CountObjects(ObjectCache& cache) {
  int64_t n = 0;
  EXPECT_TRUE(cache.ForEachObject([&](std::string_view, int64_t) { ++n; }).ok());
  return n;
}

class WorkspaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ws = Workspace::Open(dir_.path(), clock_);
    ASSERT_TRUE(ws.has_value()) << ws.error().ToString();
    ws_ = std::move(*ws);
    for (int i = 0; i < 30; ++i) WriteFile(Root() / "images" / ("f" + std::to_string(i)), "data " + std::to_string(i));
    WriteFile(Root() / "images/sub/deep/x.bin", std::string(1000, 'x'));
    WriteFile(Root() / "images/dup", "data 1");  // same bytes as f1: stored once
  }
  fs::path Root() const { return dir_.path(); }
  AddResult MustAdd(const fs::path& target, std::string dataset = "") {
    auto r = ws_->Add(target, AddOptions{.dataset = dataset, .threads = 2});
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r.value_or(AddResult{});
  }

  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Workspace> ws_;
};

TEST_F(WorkspaceTest, AddStatusCheckoutRoundTrip) {
  AddResult added = MustAdd(Root() / "images");
  EXPECT_EQ(added.pointer.file_count, 32);
  EXPECT_TRUE(added.pointer.is_directory);
  EXPECT_EQ(added.pointer.dataset, "images");
  EXPECT_EQ(added.pointer_file, Root() / "images.mlfd");
  // 31 distinct contents + the manifest.
  EXPECT_EQ(CountObjects(ws_->cache()), 32);

  auto clean = ws_->Status(added.pointer_file);
  ASSERT_TRUE(clean.has_value()) << clean.error().ToString();
  EXPECT_TRUE(clean->clean());

  WriteFile(Root() / "images/f0", "edited");
  fs::remove(Root() / "images/f1");
  WriteFile(Root() / "images/new", "new");
  auto changed = ws_->Status(added.pointer_file);
  ASSERT_TRUE(changed.has_value());
  ASSERT_EQ(changed->changes.modified.size(), 1u);
  EXPECT_EQ(changed->changes.modified[0].first.path, "f0");
  ASSERT_EQ(changed->changes.removed.size(), 1u);
  EXPECT_EQ(changed->changes.removed[0].path, "f1");
  ASSERT_EQ(changed->changes.added.size(), 1u);
  EXPECT_EQ(changed->changes.added[0].path, "new");

  auto out = ws_->Checkout(added.pointer_file, {});
  ASSERT_TRUE(out.has_value()) << out.error().ToString();
  EXPECT_EQ(out->files_removed, 1);
  EXPECT_EQ(ReadFile(Root() / "images/f0"), "data 0");
  EXPECT_EQ(ReadFile(Root() / "images/f1"), "data 1");
  EXPECT_FALSE(fs::exists(Root() / "images/new"));
  EXPECT_TRUE(ws_->Status(added.pointer_file)->clean());

  // The whole directory restored from the pointer and the cache alone.
  fs::remove_all(Root() / "images");
  EXPECT_TRUE(ws_->Status(added.pointer_file)->target_missing);
  out = ws_->Checkout(added.pointer_file, {});
  ASSERT_TRUE(out.has_value()) << out.error().ToString();
  EXPECT_EQ(out->files_written, 32);
  EXPECT_EQ(ReadFile(Root() / "images/sub/deep/x.bin"), std::string(1000, 'x'));
  EXPECT_TRUE(ws_->Status(added.pointer_file)->clean());
}

TEST_F(WorkspaceTest, SingleFileAndLargeFile) {
  std::string big(9 << 20, 'b');  // over the read-whole-file limit: streamed
  big[12345] = 'c';
  WriteFile(Root() / "model.bin", big);
  AddResult added = MustAdd(Root() / "model.bin", "weights");
  EXPECT_FALSE(added.pointer.is_directory);
  EXPECT_EQ(added.pointer.size, static_cast<int64_t>(big.size()));
  auto manifest = ws_->LoadManifest(added.pointer.version_id);
  ASSERT_TRUE(manifest.has_value());
  ASSERT_EQ(manifest->entries.size(), 1u);
  EXPECT_EQ(manifest->entries[0].sha256, Sha256::HexOf(big));
  fs::remove(Root() / "model.bin");
  ASSERT_TRUE(ws_->Checkout(added.pointer_file, {}).has_value());
  EXPECT_EQ(ReadFile(Root() / "model.bin"), big);
}

TEST_F(WorkspaceTest, StatusReadsOnlyFilesWhoseStatChanged) {
  WaitPastRacyWindow();
  AddResult added = MustAdd(Root() / "images");
  EXPECT_EQ(added.files_hashed, 32);
  auto again = ws_->Status(added.pointer_file);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->files_hashed, 0);
  // Same size, new content: the stamp (mtime/ctime) differs, so it is read.
  WriteFile(Root() / "images/f3", "DATA 3");
  auto changed = ws_->Status(added.pointer_file);
  EXPECT_EQ(changed->files_hashed, 1);
  EXPECT_EQ(changed->changes.modified.size(), 1u);
  // A re-add reads only that file as well.
  WaitPastRacyWindow();
  AddResult readded = MustAdd(Root() / "images");
  EXPECT_LE(readded.files_hashed, 1);
  EXPECT_NE(readded.pointer.version_id, added.pointer.version_id);
}

TEST_F(WorkspaceTest, FlippedByteInCacheIsDetectedAndNeverCheckedOut) {
  AddResult added = MustAdd(Root() / "images");
  std::string sha = Sha256::HexOf("data 7");
  auto object = ws_->cache().Locate(sha);
  ASSERT_TRUE(object.has_value());
  EXPECT_TRUE(object->packed);  // small contents live in packs
  ::chmod(object->file.c_str(), 0644);
  {
    std::fstream f(object->file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(object->offset + 2);
    f.put('X');
  }
  fs::remove(Root() / "images/f7");
  auto out = ws_->Checkout(added.pointer_file, {.threads = 1});
  ASSERT_FALSE(out.has_value());
  EXPECT_NE(out.error().message().find("corrupted"), std::string::npos) << out.error().message();
  EXPECT_NE(out.error().message().find(sha), std::string::npos);
  EXPECT_FALSE(fs::exists(Root() / "images/f7"));
  // No temp file is left behind either.
  for (const auto& e : fs::directory_iterator(Root() / "images")) {
    EXPECT_EQ(e.path().filename().string().find("mlforge-tmp"), std::string::npos);
  }
}

TEST_F(WorkspaceTest, CorruptedManifestIsRefused) {
  AddResult added = MustAdd(Root() / "images");
  auto object = ws_->cache().Locate(added.pointer.version_id);
  ASSERT_TRUE(object.has_value());
  EXPECT_FALSE(object->packed);  // manifests are loose objects
  ::chmod(object->file.c_str(), 0644);
  std::ofstream(object->file, std::ios::app) << "x";
  EXPECT_FALSE(ws_->LoadManifest(added.pointer.version_id).has_value());
  EXPECT_FALSE(ws_->Checkout(added.pointer_file, {}).has_value());
}

TEST_F(WorkspaceTest, SymlinksAreSkippedOnAddAndNeverFollowedOnCheckout) {
  testing::TempDir outside;
  WriteFile(outside.path() / "secret", "secret");
  fs::create_symlink(outside.path() / "secret", Root() / "images/link-to-file");
  fs::create_directory_symlink(outside.path(), Root() / "images/link-to-dir");
  AddResult added = MustAdd(Root() / "images");
  EXPECT_EQ(added.symlinks_skipped, 2);
  EXPECT_EQ(added.pointer.file_count, 32);
  // A symlinked target itself is refused.
  fs::create_directory_symlink(outside.path(), Root() / "elsewhere");
  EXPECT_FALSE(ws_->Add(Root() / "elsewhere", {}).has_value());

  // Checkout must not write through a directory symlink planted where the
  // manifest has a directory.
  fs::remove_all(Root() / "images/sub");
  fs::create_directory_symlink(outside.path(), Root() / "images/sub");
  auto out = ws_->Checkout(added.pointer_file, {});
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().code(), ErrorCode::kPermissionDenied) << out.error().ToString();
  EXPECT_FALSE(fs::exists(outside.path() / "deep"));
  EXPECT_EQ(ReadFile(outside.path() / "secret"), "secret");
}

TEST_F(WorkspaceTest, HostileManifestsAreRefusedAndNothingIsWritten) {
  testing::TempDir outside;
  const std::string sha = Sha256::HexOf("evil");
  ASSERT_TRUE(ws_->cache().Put("evil").has_value());
  fs::create_directories(Root() / "d");
  for (std::string path : {std::string("../escaped"), std::string("/abs"), std::string("a\\b"),
                           std::string("a\0b", 3), std::string("x/../../escaped")}) {
    std::string text = sha + " 4 " + path + "\n";
    auto id = ws_->cache().Put(text);
    ASSERT_TRUE(id.has_value());
    Pointer p{.path = "d", .is_directory = true, .version_id = *id, .size = 4, .file_count = 1,
              .dataset = "d"};
    ASSERT_TRUE(WritePointer(Root() / "d.mlfd", p).ok());
    auto out = ws_->Checkout(Root() / "d.mlfd", {});
    EXPECT_FALSE(out.has_value()) << path;
  }
  EXPECT_FALSE(fs::exists(Root() / "escaped"));
  EXPECT_FALSE(fs::exists(Root().parent_path() / "escaped"));
  EXPECT_FALSE(fs::exists("/abs"));
  EXPECT_EQ(std::distance(fs::directory_iterator(Root() / "d"), fs::directory_iterator()), 0);
}

TEST_F(WorkspaceTest, ConcurrentAddsOfTheSameContentStoreItOnce) {
  for (int i = 0; i < 200; ++i) WriteFile(Root() / "copy" / ("f" + std::to_string(i)), "same " + std::to_string(i));
  fs::copy(Root() / "copy", Root() / "copy2", fs::copy_options::recursive);
  std::vector<std::thread> threads;
  std::vector<std::string> ids(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      // Separate Workspace objects: as separate processes would.
      auto ws = Workspace::Open(Root(), clock_);
      ASSERT_TRUE(ws.has_value());
      auto r = (*ws)->Add(Root() / (t % 2 ? "copy" : "copy2"), {.dataset = "c", .threads = 2});
      ASSERT_TRUE(r.has_value()) << r.error().ToString();
      ids[t] = r->pointer.version_id;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(ids[0], ids[2]);
  EXPECT_EQ(CountObjects(ws_->cache()), 201);  // 200 contents + one manifest
  auto log = ws_->Log("c");
  ASSERT_TRUE(log.has_value());
  EXPECT_EQ(log->size(), 4u);
}

TEST_F(WorkspaceTest, GcKeepsWhatPointersReference) {
  AddResult v1 = MustAdd(Root() / "images");
  WriteFile(Root() / "images/f0", "only in v2");
  fs::remove(Root() / "images/f2");
  AddResult v2 = MustAdd(Root() / "images");
  ASSERT_NE(v1.pointer.version_id, v2.pointer.version_id);
  int64_t before = CountObjects(ws_->cache());
  auto dry = ws_->CollectGarbage({}, /*dry_run=*/true);
  ASSERT_TRUE(dry.has_value());
  // v1's manifest, "data 0" and "data 2" are referenced only by v1.
  EXPECT_EQ(dry->objects_removed, 3);
  EXPECT_EQ(CountObjects(ws_->cache()), before);
  auto kept = ws_->CollectGarbage({v1.pointer.version_id}, false);
  EXPECT_EQ(kept->objects_removed, 0);
  auto real = ws_->CollectGarbage({}, false);
  EXPECT_EQ(real->objects_removed, 3);
  EXPECT_EQ(CountObjects(ws_->cache()), before - 3);
  fs::remove_all(Root() / "images");
  ASSERT_TRUE(ws_->Checkout(v2.pointer_file, {}).has_value());
  EXPECT_EQ(ReadFile(Root() / "images/f0"), "only in v2");
  // An unreadable pointer stops the collector instead of dropping its data.
  std::ofstream(Root() / "broken.mlfd") << "path: [";
  EXPECT_FALSE(ws_->CollectGarbage({}, false).has_value());
}

int CountPackFiles(const fs::path& packs, std::string_view suffix) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(packs)) n += e.path().string().ends_with(suffix);
  return n;
}

TEST_F(WorkspaceTest, SmallContentsArePackedAndGcRewritesPacks) {
  AddResult v1 = MustAdd(Root() / "images");
  fs::path packs = Root() / ".mlforge/cache/packs";
  int packs_after_v1 = CountPackFiles(packs, ".pack");
  EXPECT_GE(packs_after_v1, 1);
  EXPECT_EQ(CountPackFiles(packs, ".idx"), packs_after_v1);
  WriteFile(Root() / "images/f5", "v2 only");
  AddResult v2 = MustAdd(Root() / "images");
  // Only the new content was written: one more pack, holding one object.
  EXPECT_EQ(CountPackFiles(packs, ".pack"), packs_after_v1 + 1);
  // The pointer now names v2, so v1's pack holds 30 live objects and one
  // dead one: the pack is rewritten, and every kept object still reads back.
  auto gc = ws_->CollectGarbage({}, false);
  ASSERT_TRUE(gc.has_value()) << gc.error().ToString();
  EXPECT_EQ(gc->objects_removed, 2);  // "data 5" and v1's manifest
  EXPECT_FALSE(ws_->cache().Exists(Sha256::HexOf("data 5")));
  auto reopened = Workspace::Open(Root(), clock_);  // as a later process sees it
  ASSERT_TRUE(reopened.has_value());
  for (int i = 0; i < 30; ++i) {
    std::string content = i == 5 ? "v2 only" : "data " + std::to_string(i);
    auto bytes = (*reopened)->cache().Read(Sha256::HexOf(content));
    ASSERT_TRUE(bytes.has_value()) << content;
    EXPECT_EQ(*bytes, content);
  }
  fs::remove_all(Root() / "images");
  ASSERT_TRUE((*reopened)->Checkout(v2.pointer_file, {}).has_value());
  EXPECT_EQ(ReadFile(Root() / "images/f5"), "v2 only");
  EXPECT_EQ(ReadFile(Root() / "images/f6"), "data 6");
}

TEST_F(WorkspaceTest, UncommittedPacksAreNeverVisibleAndTheirLeftoversAreRemoved) {
  std::string sha = Sha256::HexOf("never committed");
  fs::path packs = Root() / ".mlforge/cache/packs";
  {
    auto writer = ws_->cache().BeginPacks(1);
    ASSERT_TRUE(writer.has_value());
    ASSERT_TRUE((*writer)->Add(0, sha, "never committed").ok());
    EXPECT_FALSE(ws_->cache().Exists(sha));  // written, not published
  }  // destroyed without Commit, as an add that failed half way
  EXPECT_FALSE(ws_->cache().Exists(sha));
  EXPECT_EQ(CountPackFiles(packs, ".pack"), 0);
  // A killed process leaves its temp pack behind; the next writer removes it.
  WriteFile(packs / "tmp-0123456789abcdef.pack", "MLFPACK1partial");
  auto writer = ws_->cache().BeginPacks(1);
  ASSERT_TRUE(writer.has_value());
  EXPECT_FALSE(fs::exists(packs / "tmp-0123456789abcdef.pack"));
}

TEST_F(WorkspaceTest, DamagedPackIndexIsIgnoredNeverTrusted) {
  AddResult added = MustAdd(Root() / "images");
  fs::path packs = Root() / ".mlforge/cache/packs";
  for (const auto& e : fs::directory_iterator(packs)) {
    if (!e.path().string().ends_with(".idx")) continue;
    ::chmod(e.path().c_str(), 0644);
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);  // inside the first entry's hash
    f.put('\x5a');
  }
  auto reopened = Workspace::Open(Root(), clock_);
  ASSERT_TRUE(reopened.has_value());
  EXPECT_FALSE((*reopened)->cache().Exists(Sha256::HexOf("data 1")));
  fs::remove(Root() / "images/f1");
  auto out = (*reopened)->Checkout(added.pointer_file, {});
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().code(), ErrorCode::kResourceDoesNotExist) << out.error().ToString();
  EXPECT_FALSE(fs::exists(Root() / "images/f1"));
}

TEST_F(WorkspaceTest, RefusesTargetsOutsideTheWorkspace) {
  testing::TempDir outside;
  WriteFile(outside.path() / "x", "x");
  EXPECT_FALSE(ws_->Add(outside.path() / "x", {}).has_value());
  EXPECT_FALSE(ws_->Add(Root() / ".mlforge", {}).has_value());
  EXPECT_FALSE(ws_->Add(Root() / "missing", {}).has_value());
  EXPECT_FALSE(ws_->Add(Root() / "images", {.dataset = std::string("bad\nname")}).has_value());
}

}  // namespace
}  // namespace mlforge::data

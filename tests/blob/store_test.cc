// BlobStore and ArtifactStore on a real filesystem, each test in its own
// temp dir: layout, dedup, atomic replace, listing, deletion, symlink
// containment, large files and concurrency.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/hash.h"
#include "blob/attack_paths.h"
#include "blob/blob.h"
#include "support/temp_dir.h"

namespace mlforge::blob {
namespace {

namespace fs = std::filesystem;
using ::mlforge::testing::TempDir;

void WriteFile(const fs::path& path, std::string_view content) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct stat LStat(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

size_t CountRegularFiles(const fs::path& dir) {
  size_t n = 0;
  if (!fs::exists(dir)) return 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) ++n;
  }
  return n;
}

// Every entry below dir (not following symlinks) -> its kind and content.
std::map<std::string, std::string> Snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    std::string rel = fs::relative(entry.path(), dir).string();
    if (entry.is_symlink()) {
      out[rel] = "link:" + fs::read_symlink(entry.path()).string();
    } else if (entry.is_directory()) {
      out[rel] = "dir";
    } else {
      out[rel] = "file:" + ReadFile(entry.path());
    }
  }
  return out;
}

std::string RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(size, '\0');
  for (size_t i = 0; i + 8 <= size; i += 8) {
    uint64_t v = rng();
    std::memcpy(out.data() + i, &v, 8);
  }
  return out;
}

fs::path ObjectFile(const fs::path& root, const std::string& sha) {
  return root / "objects" / sha.substr(0, 2) / sha.substr(2);
}

// Checks the store's invariants: every view file is a hard link to (or a
// copy of) the object named by its content's hash, every object's name is
// its hash, no symlinks were created, and tmp/ holds nothing.
void ExpectConsistent(const fs::path& root) {
  for (const auto& entry : fs::recursive_directory_iterator(root / "objects")) {
    ASSERT_FALSE(entry.is_symlink()) << entry.path();
    if (!entry.is_regular_file()) continue;
    std::string name =
        entry.path().parent_path().filename().string() + entry.path().filename().string();
    EXPECT_EQ(Sha256::HexOf(ReadFile(entry.path())), name) << entry.path();
  }
  for (const auto& entry : fs::recursive_directory_iterator(root / "views")) {
    ASSERT_FALSE(entry.is_symlink()) << entry.path();
    if (!entry.is_regular_file()) continue;
    std::string sha = Sha256::HexOf(ReadFile(entry.path()));
    fs::path object = ObjectFile(root, sha);
    ASSERT_TRUE(fs::exists(object)) << entry.path();
    EXPECT_EQ(LStat(entry.path()).st_ino, LStat(object).st_ino) << entry.path();
  }
  EXPECT_TRUE(fs::is_empty(root / "tmp")) << "temp files left behind";
}

TEST(BlobStore, PutReadAndLayout) {
  TempDir tmp;
  auto opened = BlobStore::Open(tmp.path() / "store");
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  BlobStore& store = **opened;
  const fs::path root = store.root();
  EXPECT_EQ(root, fs::canonical(tmp.path() / "store"));

  auto sha = store.Put("hello");
  ASSERT_TRUE(sha.has_value());
  EXPECT_EQ(*sha, Sha256::HexOf("hello"));
  EXPECT_TRUE(store.Exists(*sha));
  auto path = store.ObjectPath(*sha);
  ASSERT_TRUE(path.has_value());
  EXPECT_EQ(*path, ObjectFile(root, *sha));
  EXPECT_EQ(ReadFile(*path), "hello");
  EXPECT_EQ(LStat(*path).st_mode & 0222, 0u) << "objects must be read-only";
  EXPECT_EQ(*store.Read(*sha), "hello");

  // Idempotent: one object.
  EXPECT_EQ(*store.Put("hello"), *sha);
  EXPECT_EQ(CountRegularFiles(root / "objects"), 1u);
  EXPECT_TRUE(fs::is_empty(root / "tmp"));

  auto empty = store.Put("");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(*store.Read(*empty), "");
}

TEST(BlobStore, RejectsBadIds) {
  TempDir tmp;
  auto store = std::move(BlobStore::Open(tmp.path()).value());
  for (std::string_view bad : {"", "zz", "../../etc/passwd", "ABCDEF", "0123"}) {
    EXPECT_FALSE(store->Exists(bad));
    EXPECT_EQ(store->Read(bad).error().code(), ErrorCode::kInvalidParameterValue) << bad;
    EXPECT_EQ(store->ObjectPath(bad).error().code(), ErrorCode::kInvalidParameterValue) << bad;
  }
  std::string absent = Sha256::HexOf("never stored");
  EXPECT_FALSE(store->Exists(absent));
  EXPECT_EQ(store->Read(absent).error().code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(store->ObjectPath(absent).error().code(), ErrorCode::kResourceDoesNotExist);
}

TEST(BlobStore, PutFileCopiesOrConsumes) {
  TempDir tmp;
  auto store = std::move(BlobStore::Open(tmp.path() / "store").value());
  fs::path source = tmp.path() / "src.txt";
  WriteFile(source, "payload");
  auto sha = store->PutFile(source, /*consume_source=*/false);
  ASSERT_TRUE(sha.has_value()) << sha.error().ToString();
  EXPECT_EQ(*sha, Sha256::HexOf("payload"));
  EXPECT_EQ(ReadFile(source), "payload");

  ASSERT_EQ(store->PutFile(source, /*consume_source=*/true).value(), *sha);
  EXPECT_FALSE(fs::exists(source));
  EXPECT_EQ(CountRegularFiles(store->root() / "objects"), 1u);

  auto missing = store->PutFile(tmp.path() / "missing", false);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().message().find(tmp.path().string()), std::string::npos)
      << "server paths must not leak into messages";
  EXPECT_FALSE(store->PutFile(tmp.path(), false).has_value());  // a directory
  EXPECT_TRUE(fs::is_empty(store->root() / "tmp"));
}

class ArtifactStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = ArtifactStore::Open(tmp_.path() / "store");
    ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
    store_ = std::move(*opened);
    root_ = store_->blobs().root();
    outside_ = tmp_.path() / "outside";
    WriteFile(outside_ / "secret.txt", "secret");
  }
  void TearDown() override {
    if (store_ != nullptr) ExpectConsistent(root_);
    EXPECT_EQ(ReadFile(outside_ / "secret.txt"), "secret");
  }

  fs::path views() const { return root_ / "views"; }

  TempDir tmp_;
  std::unique_ptr<ArtifactStore> store_;
  fs::path root_;
  fs::path outside_;  // a directory beside the store that must never change
};

TEST_F(ArtifactStoreTest, PutReadResolveOpen) {
  auto info = store_->Put("model/MLmodel", "flavors: {}\n");
  ASSERT_TRUE(info.has_value()) << info.error().ToString();
  EXPECT_EQ(info->path, "model/MLmodel");
  EXPECT_FALSE(info->is_dir);
  EXPECT_EQ(info->size, 12);
  EXPECT_EQ(*store_->Read("model/MLmodel"), "flavors: {}\n");

  auto resolved = store_->Resolve("model/MLmodel");
  ASSERT_TRUE(resolved.has_value());
  EXPECT_EQ(*resolved, views() / "model" / "MLmodel");
  EXPECT_EQ(ReadFile(*resolved), "flavors: {}\n");

  auto handle = store_->OpenForRead("model/MLmodel");
  ASSERT_TRUE(handle.has_value());
  EXPECT_EQ(handle->size(), 12);
  char buffer[32] = {};
  EXPECT_EQ(::pread(handle->fd(), buffer, sizeof(buffer), 0), 12);
  EXPECT_EQ(std::string(buffer), "flavors: {}\n");
  FileHandle moved = std::move(*handle);
  EXPECT_FALSE(handle->valid());
  EXPECT_TRUE(moved.valid());

  // A trailing slash names the same file; the reported path is normalized.
  EXPECT_EQ(store_->Put("notes/", "n")->path, "notes");
  EXPECT_EQ(*store_->Read("notes"), "n");
  EXPECT_EQ(store_->Put("empty.txt", "")->size, 0);
  EXPECT_EQ(*store_->Read("empty.txt"), "");
}

TEST_F(ArtifactStoreTest, MissingAndDirectoriesAreNotFiles) {
  ASSERT_TRUE(store_->Put("d/f.txt", "x").has_value());
  for (std::string_view p : {"missing", "d/missing", "d", "d/f.txt/deeper", "missing/x"}) {
    EXPECT_EQ(store_->Read(p).error().code(), ErrorCode::kResourceDoesNotExist) << p;
    EXPECT_EQ(store_->Resolve(p).error().code(), ErrorCode::kResourceDoesNotExist) << p;
    EXPECT_EQ(store_->OpenForRead(p).error().code(), ErrorCode::kResourceDoesNotExist) << p;
  }
  EXPECT_EQ(store_->Resolve("").error().code(), ErrorCode::kInvalidParameterValue);
}

TEST_F(ArtifactStoreTest, SameBytesShareOneObject) {
  ASSERT_TRUE(store_->Put("a.txt", "same bytes").has_value());
  ASSERT_TRUE(store_->Put("b/c.txt", "same bytes").has_value());
  ASSERT_TRUE(store_->Put("other.txt", "other bytes").has_value());
  EXPECT_EQ(CountRegularFiles(root_ / "objects"), 2u);
  fs::path object = ObjectFile(root_, Sha256::HexOf("same bytes"));
  struct stat st = LStat(object);
  EXPECT_EQ(LStat(views() / "a.txt").st_ino, st.st_ino);
  EXPECT_EQ(LStat(views() / "b" / "c.txt").st_ino, st.st_ino);
  EXPECT_EQ(st.st_nlink, 3u);  // the object + two views
}

TEST_F(ArtifactStoreTest, ReplaceIsAtomicAndLeavesTheOldObject) {
  ASSERT_TRUE(store_->Put("f", "version 1").has_value());
  ASSERT_TRUE(store_->Put("f", "version 2").has_value());
  EXPECT_EQ(*store_->Read("f"), "version 2");
  fs::path old_object = ObjectFile(root_, Sha256::HexOf("version 1"));
  ASSERT_TRUE(fs::exists(old_object));
  EXPECT_EQ(LStat(old_object).st_nlink, 1u);  // unreferenced by views: the GC rule
  EXPECT_EQ(LStat(ObjectFile(root_, Sha256::HexOf("version 2"))).st_nlink, 2u);
}

TEST_F(ArtifactStoreTest, FileAndDirectoryConflicts) {
  ASSERT_TRUE(store_->Put("f", "file").has_value());
  auto under_file = store_->Put("f/g", "x");
  ASSERT_FALSE(under_file.has_value());
  EXPECT_EQ(under_file.error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_NE(under_file.error().message().find("'f' is a file"), std::string::npos)
      << under_file.error().message();
  auto deep = store_->Put("f/g/h/i", "x");
  ASSERT_FALSE(deep.has_value());
  EXPECT_NE(deep.error().message().find("is a file"), std::string::npos);

  ASSERT_TRUE(store_->Put("d/inner", "x").has_value());
  auto onto_dir = store_->Put("d", "y");
  ASSERT_FALSE(onto_dir.has_value());
  EXPECT_EQ(onto_dir.error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_NE(onto_dir.error().message().find("directory"), std::string::npos);

  EXPECT_EQ(*store_->Read("f"), "file");
  EXPECT_EQ(*store_->Read("d/inner"), "x");
}

TEST_F(ArtifactStoreTest, ListsDirectChildrenSorted) {
  ASSERT_TRUE(store_->Put("a/b.txt", "bbb").has_value());
  ASSERT_TRUE(store_->Put("a/a.bin", std::string(1000, 'a')).has_value());
  ASSERT_TRUE(store_->Put("a/c/d.txt", "d").has_value());
  ASSERT_TRUE(store_->Put("a/B upper", "B").has_value());
  ASSERT_TRUE(store_->Put("z.txt", "z").has_value());

  auto listed = store_->List("a");
  ASSERT_TRUE(listed.has_value()) << listed.error().ToString();
  ASSERT_EQ(listed->size(), 4u);
  EXPECT_EQ((*listed)[0].path, "a/B upper");  // byte order
  EXPECT_EQ((*listed)[1].path, "a/a.bin");
  EXPECT_EQ((*listed)[1].size, 1000);
  EXPECT_FALSE((*listed)[1].is_dir);
  EXPECT_EQ((*listed)[2].path, "a/b.txt");
  EXPECT_EQ((*listed)[2].size, 3);
  EXPECT_EQ((*listed)[3].path, "a/c");
  EXPECT_TRUE((*listed)[3].is_dir);
  EXPECT_EQ((*listed)[3].size, 0);

  auto top = store_->List("");
  ASSERT_TRUE(top.has_value());
  ASSERT_EQ(top->size(), 2u);
  EXPECT_EQ((*top)[0].path, "a");
  EXPECT_TRUE((*top)[0].is_dir);
  EXPECT_EQ((*top)[1].path, "z.txt");

  EXPECT_EQ(store_->List("a/")->size(), 4u);
  EXPECT_EQ(store_->List("a/c")->front().path, "a/c/d.txt");
  EXPECT_TRUE(store_->List("missing")->empty());
  EXPECT_TRUE(store_->List("a/b.txt")->empty());  // a file lists as empty, as MLflow does
  EXPECT_TRUE(store_->List("a/b.txt/x")->empty());
  EXPECT_EQ(store_->List("../a").error().code(), ErrorCode::kInvalidParameterValue);
}

TEST_F(ArtifactStoreTest, DeleteFilesAndDirectoriesButNeverObjects) {
  ASSERT_TRUE(store_->Put("run/model/MLmodel", "m").has_value());
  ASSERT_TRUE(store_->Put("run/model/data/w.bin", "w").has_value());
  ASSERT_TRUE(store_->Put("run/metrics.json", "{}").has_value());
  ASSERT_TRUE(store_->Put("keep.txt", "k").has_value());
  const size_t objects = CountRegularFiles(root_ / "objects");

  ASSERT_TRUE(store_->Delete("run/metrics.json").ok());
  EXPECT_EQ(store_->Read("run/metrics.json").error().code(), ErrorCode::kResourceDoesNotExist);

  Status deleted = store_->Delete("run/model");
  ASSERT_TRUE(deleted.ok()) << deleted.ToString();
  EXPECT_FALSE(fs::exists(views() / "run" / "model"));
  EXPECT_TRUE(store_->List("run")->empty());
  EXPECT_EQ(*store_->Read("keep.txt"), "k");
  EXPECT_EQ(CountRegularFiles(root_ / "objects"), objects);  // GC is a separate step

  EXPECT_EQ(store_->Delete("run/model").code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(store_->Delete("nothing/here").code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(store_->Delete("keep.txt/x").code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(store_->Delete("").code(), ErrorCode::kInvalidParameterValue);  // never the root
  EXPECT_EQ(store_->Delete("/").code(), ErrorCode::kInvalidParameterValue);
  ASSERT_TRUE(store_->Delete("run/").ok());
  EXPECT_EQ(store_->List("")->size(), 1u);
}

TEST_F(ArtifactStoreTest, AttackPathsAreRefusedAndTouchNothing) {
  ASSERT_TRUE(store_->Put("a/b/c.txt", "legit").has_value());
  fs::path source = tmp_.path() / "upload.bin";
  WriteFile(source, "pwned");
  const auto before = Snapshot(tmp_.path());

  for (const std::string& attack : AttackPaths()) {
    SCOPED_TRACE("attack path: '" + attack + "'");
    const ErrorCode kInvalid = ErrorCode::kInvalidParameterValue;
    EXPECT_EQ(store_->Put(attack, "pwned").error().code(), kInvalid);
    // Validated before the source is consumed.
    EXPECT_EQ(store_->PutFile(attack, source, /*consume_source=*/true).error().code(), kInvalid);
    EXPECT_EQ(store_->Read(attack).error().code(), kInvalid);
    EXPECT_EQ(store_->Resolve(attack).error().code(), kInvalid);
    EXPECT_EQ(store_->OpenForRead(attack).error().code(), kInvalid);
    EXPECT_EQ(store_->Delete(attack).code(), kInvalid);
    if (!attack.empty()) {
      EXPECT_EQ(store_->List(attack).error().code(), kInvalid);
    }
  }
  EXPECT_EQ(Snapshot(tmp_.path()), before);
}

TEST_F(ArtifactStoreTest, LookalikeNamesStayInside) {
  const std::vector<std::string> names = {
      "\u2024\u2024/x",
      "\uff0e\uff0e/x",
      "\u2215etc\u2215passwd",
      "...",
      "..a/b",
      "~/x",
      "a;b/c",
      "100%",
      "my file.txt",
      "日本語/ファイル.txt",
      ".hidden",
  };
  auto before_outside = Snapshot(tmp_.path() / "outside");
  for (const std::string& name : names) {
    auto put = store_->Put(name, "inside");
    ASSERT_TRUE(put.has_value()) << name << ": " << put.error().ToString();
    fs::path on_disk = views() / put->path;
    EXPECT_TRUE(fs::is_regular_file(on_disk)) << name;
    // Stays under views/ however the name looks.
    std::string canonical = fs::canonical(on_disk).string();
    EXPECT_EQ(canonical.rfind(fs::canonical(views()).string() + "/", 0), 0u) << canonical;
    EXPECT_EQ(*store_->Read(name), "inside");
  }
  EXPECT_EQ(Snapshot(tmp_.path() / "outside"), before_outside);
  // Nothing was created beside the store.
  for (const auto& entry : fs::directory_iterator(tmp_.path())) {
    std::string name = entry.path().filename().string();
    EXPECT_TRUE(name == "store" || name == "outside") << name;
  }
}

// Symlinks planted inside views/ (by anyone with shell access) are never
// followed, for any operation, whether they point at a file or a directory
// outside, absolutely or relatively.
TEST_F(ArtifactStoreTest, SymlinkToOutsideFileIsRefused) {
  fs::create_symlink(outside_ / "secret.txt", views() / "abs_link");
  fs::create_symlink("../../outside/secret.txt", views() / "rel_link");
  ASSERT_EQ(ReadFile(views() / "rel_link"), "secret");  // the plant works
  fs::path source = tmp_.path() / "upload.bin";
  WriteFile(source, "pwned");
  const auto outside_before = Snapshot(outside_);

  for (std::string link : {"abs_link", "rel_link"}) {
    SCOPED_TRACE(link);
    auto read = store_->Read(link);
    ASSERT_FALSE(read.has_value());
    EXPECT_EQ(read.error().code(), ErrorCode::kPermissionDenied);
    EXPECT_NE(read.error().message().find("symbolic link"), std::string::npos);
    EXPECT_EQ(read.error().message().find(outside_.string()), std::string::npos);
    EXPECT_FALSE(store_->Resolve(link).has_value());
    EXPECT_FALSE(store_->OpenForRead(link).has_value());
    EXPECT_FALSE(store_->Put(link, "pwned").has_value());
    EXPECT_FALSE(store_->PutFile(link, source, false).has_value());
    EXPECT_FALSE(store_->Delete(link).ok());
    EXPECT_FALSE(store_->List(link).has_value());
    EXPECT_FALSE(store_->Put(link + "/x", "pwned").has_value());
    EXPECT_TRUE(fs::is_symlink(views() / link));  // not replaced, not removed
  }
  EXPECT_EQ(Snapshot(outside_), outside_before);
  // Listing the directory holding the links does not show them.
  EXPECT_TRUE(store_->List("")->empty());
  fs::remove(views() / "abs_link");
  fs::remove(views() / "rel_link");
}

TEST_F(ArtifactStoreTest, SymlinkToOutsideDirectoryIsRefused) {
  ASSERT_TRUE(store_->Put("real/file.txt", "ok").has_value());
  fs::create_symlink(outside_, views() / "dirlink");
  fs::create_symlink("../../../outside", views() / "real" / "deeplink");
  const auto outside_before = Snapshot(outside_);

  for (std::string dir : {"dirlink", "real/deeplink"}) {
    SCOPED_TRACE(dir);
    auto read = store_->Read(dir + "/secret.txt");
    ASSERT_FALSE(read.has_value());
    EXPECT_EQ(read.error().code(), ErrorCode::kPermissionDenied);
    EXPECT_FALSE(store_->Resolve(dir + "/secret.txt").has_value());
    EXPECT_FALSE(store_->OpenForRead(dir + "/secret.txt").has_value());
    EXPECT_FALSE(store_->Put(dir + "/new.txt", "pwned").has_value());
    EXPECT_FALSE(store_->Put(dir + "/sub/new.txt", "pwned").has_value());
    EXPECT_FALSE(store_->Put(dir + "/secret.txt", "pwned").has_value());
    EXPECT_FALSE(store_->List(dir).has_value());
    EXPECT_FALSE(store_->List(dir + "/").has_value());
    EXPECT_FALSE(store_->Delete(dir + "/secret.txt").ok());
    EXPECT_FALSE(store_->Delete(dir).ok());
    EXPECT_TRUE(fs::is_symlink(views() / dir));
  }
  EXPECT_EQ(Snapshot(outside_), outside_before);

  // Listing a directory that holds a link shows only real entries.
  auto listed = store_->List("real");
  ASSERT_TRUE(listed.has_value());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().path, "real/file.txt");

  // Deleting a directory that contains a link removes the link itself, not
  // what it points at.
  ASSERT_TRUE(store_->Delete("real").ok());
  EXPECT_FALSE(fs::exists(views() / "real"));
  EXPECT_EQ(Snapshot(outside_), outside_before);
  fs::remove(views() / "dirlink");
}

TEST_F(ArtifactStoreTest, SymlinkedObjectShardIsNotFollowed) {
  const std::string sha = Sha256::HexOf("shard attack");
  fs::create_directories(root_ / "objects");
  fs::create_symlink(outside_, root_ / "objects" / sha.substr(0, 2));
  EXPECT_FALSE(store_->Put("x", "shard attack").has_value());
  EXPECT_FALSE(store_->blobs().Exists(sha));
  EXPECT_FALSE(store_->blobs().Read(sha).has_value());
  EXPECT_FALSE(fs::exists(outside_ / sha.substr(2)));
  fs::remove(root_ / "objects" / sha.substr(0, 2));
}

TEST_F(ArtifactStoreTest, SpecialFilesAreNotArtifacts) {
  ASSERT_EQ(::mkfifo((views() / "fifo").c_str(), 0644), 0);
  // Must fail fast, not block on a FIFO with no writer.
  auto read = store_->Read("fifo");
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_FALSE(store_->Resolve("fifo").has_value());
  EXPECT_FALSE(store_->Put("fifo", "x").has_value());
  EXPECT_TRUE(store_->List("")->empty());
  EXPECT_TRUE(store_->Delete("fifo").ok());  // removing the name is harmless
  EXPECT_FALSE(fs::exists(views() / "fifo"));
}

// The default OpenForRead, for test doubles that only implement Resolve.
class ResolveOnlyStore final : public ArtifactStore {
 public:
  explicit ResolveOnlyStore(fs::path target) : target_(std::move(target)) {}
  BlobStore& blobs() override { std::abort(); }
  Result<FileInfo> Put(std::string_view, std::string_view) override { return FileInfo{}; }
  Result<FileInfo> PutFile(std::string_view, const fs::path&, bool) override { return FileInfo{}; }
  Result<fs::path> Resolve(std::string_view) const override { return target_; }
  Result<std::string> Read(std::string_view) const override { return std::string(); }
  Result<std::vector<FileInfo>> List(std::string_view) const override {
    return std::vector<FileInfo>();
  }
  Status Delete(std::string_view) override { return Status::Ok(); }

 private:
  fs::path target_;
};

TEST(ArtifactStoreDefaults, OpenForReadOpensTheResolvedFileWithoutFollowingLinks) {
  TempDir tmp;
  WriteFile(tmp.path() / "file", "abc");
  fs::create_symlink(tmp.path() / "file", tmp.path() / "link");
  auto opened = ResolveOnlyStore(tmp.path() / "file").OpenForRead("x");
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->size(), 3);
  EXPECT_FALSE(ResolveOnlyStore(tmp.path() / "link").OpenForRead("x").has_value());
  EXPECT_FALSE(ResolveOnlyStore(tmp.path()).OpenForRead("x").has_value());
  EXPECT_EQ(ResolveOnlyStore(tmp.path() / "gone").OpenForRead("x").error().code(),
            ErrorCode::kResourceDoesNotExist);
}

TEST(ArtifactStoreOpen, RefusesSymlinkedLayoutButAcceptsSymlinkedRoot) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "elsewhere");
  fs::create_directories(tmp.path() / "store");
  fs::create_directory_symlink(tmp.path() / "elsewhere", tmp.path() / "store" / "views");
  EXPECT_FALSE(ArtifactStore::Open(tmp.path() / "store").has_value());

  // The configured root itself may be a symlink (operator's choice).
  fs::create_directories(tmp.path() / "real_root");
  fs::create_directory_symlink(tmp.path() / "real_root", tmp.path() / "root_link");
  auto store = ArtifactStore::Open(tmp.path() / "root_link");
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  EXPECT_EQ((*store)->blobs().root(), fs::canonical(tmp.path() / "real_root"));
  ASSERT_TRUE((*store)->Put("a", "b").has_value());
  EXPECT_TRUE(fs::exists(tmp.path() / "real_root" / "views" / "a"));
}

TEST_F(ArtifactStoreTest, FiftyMegabyteRoundTrip) {
  constexpr size_t kSize = 50u << 20;
  const std::string first = RandomBytes(kSize, 1);
  const std::string second = RandomBytes(kSize, 2);

  // consume=false: copied, the source stays.
  fs::path src1 = tmp_.path() / "spool" / "one";
  WriteFile(src1, first);
  auto one = store_->PutFile("big/one.bin", src1, /*consume_source=*/false);
  ASSERT_TRUE(one.has_value()) << one.error().ToString();
  EXPECT_EQ(one->size, static_cast<int64_t>(kSize));
  EXPECT_TRUE(fs::exists(src1));
  EXPECT_TRUE(*store_->Read("big/one.bin") == first);
  EXPECT_TRUE(store_->blobs().Exists(Sha256::HexOf(first)));

  // consume=true on the same filesystem: the file is moved, not copied.
  fs::path src2 = tmp_.path() / "spool" / "two";
  WriteFile(src2, second);
  const ino_t src2_inode = LStat(src2).st_ino;
  auto two = store_->PutFile("big/two.bin", src2, /*consume_source=*/true);
  ASSERT_TRUE(two.has_value()) << two.error().ToString();
  EXPECT_FALSE(fs::exists(src2));
  EXPECT_EQ(LStat(views() / "big" / "two.bin").st_ino, src2_inode);
  EXPECT_EQ(LStat(views() / "big" / "two.bin").st_mode & 0222, 0u);
  EXPECT_TRUE(*store_->Read("big/two.bin") == second);

  // consume=true of bytes already stored: the source goes, one object stays.
  auto three = store_->PutFile("big/three.bin", src1, /*consume_source=*/true);
  ASSERT_TRUE(three.has_value());
  EXPECT_FALSE(fs::exists(src1));
  EXPECT_EQ(LStat(views() / "big" / "three.bin").st_ino, LStat(views() / "big" / "one.bin").st_ino);
  EXPECT_EQ(CountRegularFiles(root_ / "objects"), 2u);

  // Streaming through the handle sees every byte.
  auto handle = store_->OpenForRead("big/two.bin");
  ASSERT_TRUE(handle.has_value());
  EXPECT_EQ(handle->size(), static_cast<int64_t>(kSize));
  Sha256 streamed;
  std::string buffer(1 << 20, '\0');
  for (off_t offset = 0;;) {
    ssize_t n = ::pread(handle->fd(), buffer.data(), buffer.size(), offset);
    ASSERT_GE(n, 0);
    if (n == 0) break;
    streamed.Update(buffer.data(), static_cast<size_t>(n));
    offset += n;
  }
  EXPECT_EQ(streamed.FinishHex(), Sha256::HexOf(second));
}

TEST_F(ArtifactStoreTest, ConsumeNeverAdoptsAFileWithOtherNames) {
  // A second hard link could change the bytes after hashing: copy instead.
  fs::path source = tmp_.path() / "spool" / "src";
  fs::path other_name = tmp_.path() / "spool" / "other";
  WriteFile(source, "shared inode");
  fs::create_hard_link(source, other_name);
  auto put = store_->PutFile("f", source, /*consume_source=*/true);
  ASSERT_TRUE(put.has_value()) << put.error().ToString();
  EXPECT_FALSE(fs::exists(source));
  EXPECT_NE(LStat(views() / "f").st_ino, LStat(other_name).st_ino);
  WriteFile(other_name, "changed later");
  EXPECT_EQ(*store_->Read("f"), "shared inode");

  // A symlinked source is read through, never moved into the store.
  fs::path target = tmp_.path() / "spool" / "target";
  WriteFile(target, "via link");
  fs::create_symlink(target, tmp_.path() / "spool" / "link");
  ASSERT_TRUE(store_->PutFile("g", tmp_.path() / "spool" / "link", true).has_value());
  EXPECT_EQ(*store_->Read("g"), "via link");
  EXPECT_EQ(ReadFile(target), "via link");
  EXPECT_FALSE(fs::is_symlink(views() / "g"));
}

TEST_F(ArtifactStoreTest, ConsumeAcrossFilesystemsCopies) {
  const fs::path shm = "/dev/shm";
  struct stat shm_st {
  }, root_st{};
  if (::stat(shm.c_str(), &shm_st) != 0 || ::stat(root_.c_str(), &root_st) != 0 ||
      shm_st.st_dev == root_st.st_dev || ::access(shm.c_str(), W_OK) != 0) {
    GTEST_SKIP() << "no second writable filesystem";
  }
  fs::path source = shm / ("mlforge-blob-test-" + std::to_string(::getpid()));
  WriteFile(source, "from another filesystem");
  auto put = store_->PutFile("x", source, /*consume_source=*/true);
  ASSERT_TRUE(put.has_value()) << put.error().ToString();
  EXPECT_FALSE(fs::exists(source));
  EXPECT_EQ(*store_->Read("x"), "from another filesystem");
}

TEST_F(ArtifactStoreTest, ConcurrentPutsOfSameAndDifferentContent) {
  constexpr int kThreads = 8;
  constexpr int kIterations = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIterations; ++i) {
        std::string mine = "thread " + std::to_string(t) + " item " + std::to_string(i);
        if (!store_->Put("same/t" + std::to_string(t) + "_" + std::to_string(i), "common")
                 .has_value())
          ++failures;
        if (!store_->Put("shared/path", "common").has_value()) ++failures;
        if (!store_->Put("uniq/" + std::to_string(t) + "/" + std::to_string(i), mine).has_value())
          ++failures;
        if (!store_->blobs().Put("blob only").has_value()) ++failures;
        fs::path spool = tmp_.path() / "spool" / (std::to_string(t) + "_" + std::to_string(i));
        WriteFile(spool, "spooled common");
        if (!store_->PutFile("spooled/" + std::to_string(t), spool, /*consume_source=*/true)
                 .has_value())
          ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  // "common", "blob only", "spooled common" + one per (thread, item).
  EXPECT_EQ(CountRegularFiles(root_ / "objects"), 3u + kThreads * kIterations);
  struct stat common = LStat(ObjectFile(root_, Sha256::HexOf("common")));
  EXPECT_EQ(common.st_nlink, 1u + kThreads * kIterations + 1u);
  EXPECT_EQ(*store_->Read("shared/path"), "common");
  EXPECT_EQ(store_->List("same")->size(), static_cast<size_t>(kThreads * kIterations));
  EXPECT_EQ(*store_->Read("uniq/3/7"), "thread 3 item 7");
}

TEST_F(ArtifactStoreTest, ConcurrentPutAndDeleteStayConsistent) {
  constexpr int kWriters = 4;
  constexpr int kDeleters = 4;
  constexpr int kIterations = 150;
  std::atomic<int> unexpected{0};
  std::atomic<int> puts_ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIterations; ++i) {
        std::string path = "d/s" + std::to_string(i % 5) + "/f" + std::to_string(t);
        auto put = store_->Put(path, "content " + std::to_string(i % 7));
        if (put.has_value()) {
          ++puts_ok;
        } else if (put.error().code() != ErrorCode::kTemporarilyUnavailable) {
          ADD_FAILURE() << put.error().ToString();
          ++unexpected;
        }
      }
    });
  }
  for (int t = 0; t < kDeleters; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIterations; ++i) {
        Status s = store_->Delete(t % 2 == 0 ? "d" : "d/s" + std::to_string(i % 5));
        if (!s.ok() && s.code() != ErrorCode::kResourceDoesNotExist &&
            s.code() != ErrorCode::kTemporarilyUnavailable) {
          ADD_FAILURE() << s.ToString();
          ++unexpected;
        }
        auto listed = store_->List("d");
        if (!listed.has_value()) ++unexpected;
        auto read = store_->Read("d/s0/f0");
        if (read.has_value() && read->rfind("content ", 0) != 0) ++unexpected;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_GT(puts_ok.load(), kWriters * kIterations / 2);
  // Afterwards the tree is usable and consistent (TearDown checks objects,
  // views and tmp/).
  ASSERT_TRUE(store_->Put("d/s0/f0", "final").has_value());
  EXPECT_EQ(*store_->Read("d/s0/f0"), "final");
}

TEST_F(ArtifactStoreTest, CopyTreeSharesBytesAndStaysIndependent) {
  ASSERT_TRUE(store_->Put("run/model/MLmodel", "flavors: {}").has_value());
  ASSERT_TRUE(store_->Put("run/model/data/w.bin", "weights").has_value());
  ASSERT_TRUE(store_->Put("run/model/data/empty", "").has_value());
  auto copied = store_->CopyTree("run/model", "pinned/1");
  ASSERT_TRUE(copied.has_value()) << copied.error().ToString();
  EXPECT_EQ(*copied, 3);
  EXPECT_EQ(*store_->Read("pinned/1/data/w.bin"), "weights");
  EXPECT_EQ(*store_->Read("pinned/1/data/empty"), "");
  // Same inode: no bytes were copied.
  struct stat a, b;
  ASSERT_EQ(::stat(store_->Resolve("run/model/data/w.bin")->c_str(), &a), 0);
  ASSERT_EQ(::stat(store_->Resolve("pinned/1/data/w.bin")->c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  // Replacing or deleting the source leaves the copy as it was.
  ASSERT_TRUE(store_->Put("run/model/data/w.bin", "changed").has_value());
  ASSERT_TRUE(store_->Delete("run").ok());
  EXPECT_EQ(*store_->Read("pinned/1/data/w.bin"), "weights");
  EXPECT_EQ(*store_->Read("pinned/1/MLmodel"), "flavors: {}");
  // A single file copies too.
  EXPECT_EQ(*store_->CopyTree("pinned/1/MLmodel", "single/MLmodel"), 1);
  EXPECT_EQ(*store_->Read("single/MLmodel"), "flavors: {}");
}

TEST_F(ArtifactStoreTest, CopyTreeRefusesBadPaths) {
  ASSERT_TRUE(store_->Put("a/b/c", "x").has_value());
  EXPECT_EQ(store_->CopyTree("missing", "dest").error().code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(store_->CopyTree("a", "a/b/inside").error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(store_->CopyTree("a/b", "a").error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(store_->CopyTree("a", "a").error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(store_->CopyTree("", "x").error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(store_->CopyTree("../a", "x").error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(store_->CopyTree("a", "../x").error().code(), ErrorCode::kInvalidParameterValue);
  // A symlink planted in the source is skipped, never followed.
  const fs::path link = views() / "a" / "link";
  ASSERT_EQ(::symlink((outside_ / "secret.txt").c_str(), link.c_str()), 0);
  auto copied = store_->CopyTree("a", "z");
  ASSERT_TRUE(copied.has_value()) << copied.error().ToString();
  EXPECT_EQ(*copied, 1);
  EXPECT_FALSE(store_->Read("z/link").has_value());
  EXPECT_EQ(*store_->Read("z/b/c"), "x");
  ::unlink(link.c_str());
}

}  // namespace
}  // namespace mlforge::blob

// Manifests: canonical form, validation (no path can escape), diff; pointers.
#include <gtest/gtest.h>

#include <fstream>

#include "base/hash.h"
#include "data/data.h"
#include "support/temp_dir.h"

namespace mlforge::data {
namespace {

const std::string kA(64, 'a');
const std::string kB(64, 'b');

TEST(ManifestTest, CanonicalTextIsSortedAndIdIsItsHash) {
  auto m = MakeManifest({{"b/x", kB, 2}, {"a", kA, 10}, {"a-z", kA, 0}});
  ASSERT_TRUE(m.has_value()) << m.error().ToString();
  std::string text = EncodeManifest(*m);
  EXPECT_EQ(text, kA + " 10 a\n" + kA + " 0 a-z\n" + kB + " 2 b/x\n");
  EXPECT_EQ(ManifestId(*m), Sha256::HexOf(text));
  auto parsed = ParseManifest(text);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
  EXPECT_EQ(parsed->entries, m->entries);
  EXPECT_EQ(m->TotalSize(), 12);
  // Same entries in another order: same id.
  auto again = MakeManifest({{"a-z", kA, 0}, {"b/x", kB, 2}, {"a", kA, 10}});
  EXPECT_EQ(ManifestId(*again), ManifestId(*m));
}

TEST(ManifestTest, RefusesPathsThatCouldEscape) {
  for (const std::string& bad : std::vector<std::string>{"", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", ".", "..", "a\\..\\b",
        std::string("a\0b", 3), "a\nb", "a\x7f", "\xc0\xae\xc0\xae/x", std::string(300, 'x'),
        "x/" + std::string(256, 'y')}) {
    EXPECT_FALSE(ValidateManifestPath(bad).ok()) << bad;
    EXPECT_FALSE(MakeManifest({{bad, kA, 1}}).has_value()) << bad;
  }
  for (const std::string& good : std::vector<std::string>{"a", "a/b.c", "...", "..a", ".hidden", "with space", "100%", "a#1?",
                           "caf\xc3\xa9", "\xe2\x80\xa4\xe2\x80\xa4"}) {
    EXPECT_TRUE(ValidateManifestPath(good).ok()) << good;
  }
}

TEST(ManifestTest, ParseRefusesNonCanonicalText) {
  std::string line_a = kA + " 1 a\n";
  std::string line_b = kB + " 1 b\n";
  EXPECT_TRUE(ParseManifest(line_a + line_b).has_value());
  EXPECT_TRUE(ParseManifest("").has_value());  // the empty dataset
  for (const std::string& bad : std::vector<std::string>{line_b + line_a, line_a + line_a, kA + " 1 a", kA + " 01 a\n",
                          kA + " +1 a\n", kA + " -1 a\n", kA + " x a\n", kA.substr(1) + "A 1 a\n",
                          kA + "  1 a\n", kA + " 1 ../a\n", kA + " 1 /a\n",
                          kA + " 1 a\n" + kB + " 1 a/b\n"}) {
    EXPECT_FALSE(ParseManifest(bad).has_value()) << bad;
  }
}

TEST(ManifestTest, RefusesDuplicatesAndFileDirectoryClashes) {
  EXPECT_FALSE(MakeManifest({{"a", kA, 1}, {"a", kB, 1}}).has_value());
  EXPECT_FALSE(MakeManifest({{"a", kA, 1}, {"a-x", kA, 1}, {"a/b", kB, 1}}).has_value());
  EXPECT_FALSE(MakeManifest({{"a", std::string(64, 'A'), 1}}).has_value());
  EXPECT_FALSE(MakeManifest({{"a", kA, -1}}).has_value());
}

TEST(ManifestTest, DiffFindsAddedRemovedModified) {
  auto from = MakeManifest({{"keep", kA, 1}, {"gone", kA, 1}, {"edit", kA, 1}});
  auto to = MakeManifest({{"keep", kA, 1}, {"new", kB, 1}, {"edit", kB, 1}});
  ManifestDiff d = DiffManifests(*from, *to);
  ASSERT_EQ(d.added.size(), 1u);
  EXPECT_EQ(d.added[0].path, "new");
  ASSERT_EQ(d.removed.size(), 1u);
  EXPECT_EQ(d.removed[0].path, "gone");
  ASSERT_EQ(d.modified.size(), 1u);
  EXPECT_EQ(d.modified[0].second.path, "edit");
  EXPECT_TRUE(DiffManifests(*from, *from).empty());
}

TEST(ManifestTest, DigestsNamingVersionAreEightOrMoreChars) {
  auto digests = DigestsNamingVersion(kA);
  EXPECT_EQ(digests.size(), 57u);
  EXPECT_EQ(digests.front(), kA.substr(0, 8));
  EXPECT_EQ(digests.back(), kA);
}

TEST(PointerTest, RoundTripsAndRefusesHostileFields) {
  testing::TempDir dir;
  Pointer p{.path = "images", .is_directory = true, .version_id = kA, .size = 5, .file_count = 2,
            .dataset = "imgs"};
  auto file = dir.path() / "images.mlfd";
  EXPECT_EQ(PointerFileFor(dir.path() / "images"), file);
  EXPECT_EQ(PointerFileFor(file), file);
  ASSERT_TRUE(WritePointer(file, p).ok());
  auto read = ReadPointer(file);
  ASSERT_TRUE(read.has_value()) << read.error().ToString();
  EXPECT_EQ(read->path, "images");
  EXPECT_TRUE(read->is_directory);
  EXPECT_EQ(read->version_id, kA);
  EXPECT_EQ(read->file_count, 2);
  EXPECT_EQ(read->dataset, "imgs");
  for (const std::string& body : std::vector<std::string>{"path: ../x\nsha256: " + kA + "\n", "path: /etc\nsha256: " + kA + "\n",
                           "path: a/b\nsha256: " + kA + "\n", "path: a\nsha256: xyz\n",
                           "[not, a, map]\n", "path: [\n"}) {
    std::ofstream(file) << body;
    EXPECT_FALSE(ReadPointer(file).has_value()) << body;
  }
}

}  // namespace
}  // namespace mlforge::data

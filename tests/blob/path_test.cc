// NormalizeRelativePath: the attack spellings from MLflow's path traversal
// advisories (and their relatives) must all be refused; ordinary names,
// including odd-but-harmless ones, must pass unchanged.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "blob/attack_paths.h"
#include "blob/blob.h"

namespace mlforge::blob {
namespace {

using namespace std::string_literals;  // "x\0y"s keeps the embedded NUL

TEST(NormalizeRelativePath, RejectsEveryAttackSpelling) {
  ASSERT_GE(AttackPaths().size(), 40u);
  for (const std::string& attack : AttackPaths()) {
    auto result = NormalizeRelativePath(attack);
    ASSERT_FALSE(result.has_value()) << "accepted: '" << attack << "' -> '" << *result << "'";
    EXPECT_EQ(result.error().code(), ErrorCode::kInvalidParameterValue) << attack;
    EXPECT_NE(result.error().message().find("Invalid artifact path"), std::string::npos);
    // Allowing the empty root must not open anything else up.
    if (!attack.empty()) {
      EXPECT_FALSE(NormalizeRelativePath(attack, true).has_value()) << attack;
    }
  }
}

TEST(NormalizeRelativePath, MessagesSayWhy) {
  auto reason = [](std::string_view p) { return NormalizeRelativePath(p).error().message(); };
  EXPECT_EQ(reason("a/../../x"),
            "Invalid artifact path 'a/../../x': path traversal is not allowed");
  EXPECT_NE(reason("%2e%2e/x").find("percent-encoded"), std::string::npos);
  EXPECT_NE(reason("/etc/passwd").find("absolute"), std::string::npos);
  EXPECT_NE(reason("a\\b").find("backslash"), std::string::npos);
  EXPECT_NE(reason("C:/x").find("drive letter"), std::string::npos);
  EXPECT_NE(reason("a//b").find("empty path segment"), std::string::npos);
  EXPECT_NE(reason("\xc0\xae").find("UTF-8"), std::string::npos);
  // Control bytes are escaped, never echoed raw.
  std::string nul_message = reason("x\0y"s);
  EXPECT_NE(nul_message.find("control"), std::string::npos);
  EXPECT_NE(nul_message.find("x\\x00y"), std::string::npos);
  EXPECT_EQ(nul_message.find('\0'), std::string::npos);
}

TEST(NormalizeRelativePath, LimitsLengthAndEcho) {
  std::string long_path = "a/" + std::string(kMaxArtifactPathBytes, 'b');
  auto result = NormalizeRelativePath(long_path);
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().message().find("longer than 4096"), std::string::npos);
  EXPECT_LT(result.error().message().size(), 320u);  // at most ~200 bytes of input echoed

  std::string long_segment(kMaxArtifactSegmentBytes + 1, 's');
  EXPECT_FALSE(NormalizeRelativePath(long_segment).has_value());
  EXPECT_FALSE(NormalizeRelativePath("a/" + long_segment + "/b").has_value());
  EXPECT_TRUE(NormalizeRelativePath(std::string(kMaxArtifactSegmentBytes, 's')).has_value());

  // Exactly at the limit passes: 16 segments of 255 bytes + 15 slashes + tail.
  std::string at_limit;
  while (at_limit.size() + 256 <= kMaxArtifactPathBytes) at_limit += std::string(255, 'x') + "/";
  at_limit += std::string(kMaxArtifactPathBytes - at_limit.size(), 'y');
  ASSERT_EQ(at_limit.size(), kMaxArtifactPathBytes);
  EXPECT_TRUE(NormalizeRelativePath(at_limit).has_value());
  EXPECT_FALSE(NormalizeRelativePath(at_limit + "y").has_value());
}

TEST(NormalizeRelativePath, AcceptsOrdinaryNames) {
  struct Case {
    std::string in;
    std::string out;
  };
  const std::vector<Case> cases = {
      {"a", "a"},
      {"a/b/c.txt", "a/b/c.txt"},
      {"model/MLmodel", "model/MLmodel"},
      {"model/data/model.xgb", "model/data/model.xgb"},
      {"my file.txt", "my file.txt"},
      {"dir with space/x y.csv", "dir with space/x y.csv"},
      {"日本語/ファイル.txt", "日本語/ファイル.txt"},
      {"...", "..."},
      {"..a", "..a"},
      {"a..", "a.."},
      {"a/..b/c..", "a/..b/c.."},
      {".hidden", ".hidden"},
      {"a/", "a"},  // one trailing '/' is dropped, nothing else is rewritten
      {"a/b/", "a/b"},
      {"~", "~"},  // tilde is an ordinary name: no shell ever sees it
      {"~/", "~"},
      {"~user/x", "~user/x"},
      {"a;b", "a;b"},
      {"100%", "100%"},
      {"a%zz", "a%zz"},
      {"a%2", "a%2"},
      {"b/C:", "b/C:"},  // drive letters only matter first
      {"ab:c", "ab:c"},
      {"\u2024\u2024", "\u2024\u2024"},      // ONE DOT LEADER: not a dot
      {"\uff0e\uff0e/x", "\uff0e\uff0e/x"},  // FULLWIDTH FULL STOP: not a dot either
      {"\u2215etc", "\u2215etc"},            // DIVISION SLASH: not a separator
  };
  for (const Case& c : cases) {
    auto result = NormalizeRelativePath(c.in);
    ASSERT_TRUE(result.has_value()) << "rejected: '" << c.in << "': " << result.error().message();
    EXPECT_EQ(*result, c.out);
  }
}

TEST(NormalizeRelativePath, EmptyIsTheRootOnlyWhenAllowed) {
  EXPECT_FALSE(NormalizeRelativePath("").has_value());
  auto root = NormalizeRelativePath("", /*allow_empty=*/true);
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ(*root, "");
  EXPECT_FALSE(NormalizeRelativePath("/", true).has_value());
}

}  // namespace
}  // namespace mlforge::blob

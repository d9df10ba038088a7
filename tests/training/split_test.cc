#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "training/training.h"

namespace mlforge::training {
namespace {

TEST(SplitTest, SameSeedSameSplit) {
  auto a = SplitRows(1000, 0.2, 7);
  auto b = SplitRows(1000, 0.2, 7);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(a->train, b->train);
  EXPECT_EQ(a->validation, b->validation);
  auto c = SplitRows(1000, 0.2, 8);
  ASSERT_TRUE(c.has_value());
  EXPECT_NE(a->validation, c->validation);
}

TEST(SplitTest, SizesAndPartition) {
  auto s = SplitRows(1001, 0.25, 1);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->validation.size(), 250u);  // round(250.25)
  EXPECT_EQ(s->train.size(), 751u);
  EXPECT_TRUE(std::is_sorted(s->train.begin(), s->train.end()));
  EXPECT_TRUE(std::is_sorted(s->validation.begin(), s->validation.end()));
  std::set<int64_t> all(s->train.begin(), s->train.end());
  all.insert(s->validation.begin(), s->validation.end());
  EXPECT_EQ(all.size(), 1001u);
  EXPECT_EQ(*all.begin(), 0);
  EXPECT_EQ(*all.rbegin(), 1000);
}

TEST(SplitTest, NotJustAPrefix) {
  // A shuffle: the validation rows are spread over the file, not its head.
  auto s = SplitRows(1000, 0.1, 42);
  ASSERT_TRUE(s.has_value());
  EXPECT_GT(s->validation.back(), 500);
  EXPECT_LT(s->validation.front(), 500);
}

TEST(SplitTest, EdgeCases) {
  auto none = SplitRows(10, 0.0, 1);
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->validation.empty());
  EXPECT_EQ(none->train.size(), 10u);
  auto tiny = SplitRows(3, 0.01, 1);  // at least one row on each side
  ASSERT_TRUE(tiny.has_value());
  EXPECT_EQ(tiny->validation.size(), 1u);
  auto big = SplitRows(3, 0.99, 1);
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(big->train.size(), 1u);
  auto one = SplitRows(1, 0.5, 1);
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->train.size(), 1u);
  EXPECT_EQ(SplitRows(0, 0.2, 1).error().message(), "The data has no rows");
  EXPECT_FALSE(SplitRows(10, 1.0, 1).has_value());
  EXPECT_FALSE(SplitRows(10, -0.1, 1).has_value());
}

}  // namespace
}  // namespace mlforge::training

#include <gtest/gtest.h>

#include <cmath>

#include "training/training.h"

namespace mlforge::training {
namespace {

TEST(CsvTest, ParsesHeaderAndNumbers) {
  auto t = ParseCsv("a,b,y\n1,2.5,0\n-3,1e3,1\n");
  ASSERT_TRUE(t.has_value()) << t.error().message();
  EXPECT_EQ(t->columns, (std::vector<std::string>{"a", "b", "y"}));
  ASSERT_EQ(t->rows, 2);
  EXPECT_EQ(t->at(0, 1), 2.5);
  EXPECT_EQ(t->at(1, 0), -3);
  EXPECT_EQ(t->at(1, 1), 1000);
}

TEST(CsvTest, CrlfBomQuotesBlankLinesAndNoFinalNewline) {
  auto t = ParseCsv("\xEF\xBB\xBF\"x, first\",y\r\n\"1\", +2 \r\n\r\n3,4");
  ASSERT_TRUE(t.has_value()) << t.error().message();
  EXPECT_EQ(t->columns, (std::vector<std::string>{"x, first", "y"}));
  ASSERT_EQ(t->rows, 2);
  EXPECT_EQ(t->at(0, 0), 1);
  EXPECT_EQ(t->at(0, 1), 2);
  EXPECT_EQ(t->at(1, 1), 4);
}

TEST(CsvTest, EmptyCellsAreMissing) {
  auto t = ParseCsv("a,b\n,1\nnan,\n");
  ASSERT_TRUE(t.has_value()) << t.error().message();
  EXPECT_TRUE(std::isnan(t->at(0, 0)));
  EXPECT_EQ(t->at(0, 1), 1);
  EXPECT_TRUE(std::isnan(t->at(1, 0)));
  EXPECT_TRUE(std::isnan(t->at(1, 1)));
}

TEST(CsvTest, NonNumericValueNamesLineAndColumn) {
  auto t = ParseCsv("a,b\n1,2\n3,abc\n");
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(t.error().message(), "line 3, column 'b' (2): 'abc' is not a number");
  auto inf = ParseCsv("a\n1\ninf\n");
  ASSERT_FALSE(inf.has_value());
  EXPECT_NE(inf.error().message().find("line 3"), std::string::npos) << inf.error().message();
  EXPECT_NE(inf.error().message().find("not a finite number"), std::string::npos);
}

TEST(CsvTest, RaggedRowNamesLine) {
  auto t = ParseCsv("a,b,c\n1,2,3\n4,5\n");
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().message(), "line 3 has 2 fields; the header has 3");
  // A quoted field spanning lines counts its lines.
  std::vector<std::string> keep = {"b"};
  auto q = ParseCsv("a,b\n\"x\ny\",2\n3\n", keep);
  ASSERT_FALSE(q.has_value());
  EXPECT_EQ(q.error().message(), "line 4 has 1 fields; the header has 2");
}

TEST(CsvTest, OnlyKeptColumnsAreParsed) {
  std::vector<std::string> keep = {"y", "a"};
  auto t = ParseCsv("id,a,y\nabc,1,0\ndef,2,1\n", keep);
  ASSERT_TRUE(t.has_value()) << t.error().message();
  EXPECT_EQ(t->columns, (std::vector<std::string>{"a", "y"}));  // header order
  EXPECT_EQ(t->at(1, 0), 2);
  EXPECT_EQ(t->at(1, 1), 1);
  std::vector<std::string> unknown = {"nope"};
  EXPECT_FALSE(ParseCsv("a\n1\n", unknown).has_value());
}

TEST(CsvTest, BadHeaders) {
  EXPECT_EQ(ReadCsvHeader("").error().message(), "The CSV data is empty: no header row");
  EXPECT_EQ(ReadCsvHeader("a,,b\n").error().message(),
            "line 1: column 2 has no name in the header");
  EXPECT_EQ(ReadCsvHeader("a,b,a\n").error().message(),
            "line 1: column 'a' appears twice in the header");
  EXPECT_FALSE(ParseCsv("a,b\n\"1,2\n").has_value());  // unclosed quote
  auto header = ReadCsvHeader("x , y\n1,2\n");
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(*header, (std::vector<std::string>{"x", "y"}));
}

TEST(CsvTest, HeaderOnlyIsZeroRows) {
  auto t = ParseCsv("a,b\n");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->rows, 0);
}

}  // namespace
}  // namespace mlforge::training

// CSV into columns: RFC 4180 quoting, kinds inferred or forced, missing
// tokens, parallel chunks that agree with one thread, and errors that name
// the file, line and column.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "monitor/monitor.h"
#include "support/temp_dir.h"

namespace mlforge::monitor {
namespace {

Result<Table> Parse(std::string_view text, CsvOptions o = {}) { return ParseCsv(text, "t.csv", o); }

std::string Category(const Column& c, size_t row) {
  return c.codes[row] == Column::kMissingCode ? "<missing>" : c.dictionary[c.codes[row]];
}

TEST(Csv, QuotesCrlfBomAndMissingTokens) {
  auto t = Parse("\xEF\xBB\xBF" "a,b,c\r\n1.5,\"x, y\",\r\n-2e3,\"say \"\"hi\"\"\",NA\r\n+7,plain,3\r\n");
  ASSERT_TRUE(t.has_value()) << t.error().message();
  EXPECT_EQ(t->rows, 3);
  ASSERT_EQ(t->columns.size(), 3u);
  EXPECT_EQ(t->columns[0].name, "a");
  EXPECT_EQ(t->columns[0].kind, ColumnKind::kNumeric);
  EXPECT_EQ(t->columns[0].numbers, (std::vector<double>{1.5, -2000, 7}));
  EXPECT_EQ(t->columns[1].kind, ColumnKind::kCategorical);
  EXPECT_EQ(Category(t->columns[1], 0), "x, y");
  EXPECT_EQ(Category(t->columns[1], 1), "say \"hi\"");
  EXPECT_EQ(t->columns[2].kind, ColumnKind::kNumeric);
  EXPECT_TRUE(std::isnan(t->columns[2].numbers[0]));
  EXPECT_TRUE(std::isnan(t->columns[2].numbers[1]));
  EXPECT_EQ(t->columns[2].numbers[2], 3);
}

TEST(Csv, QuotedNewlinesAndBlankLines) {
  auto t = Parse("id,note\n1,\"two\nlines\"\n\n2,\"\"\n");
  ASSERT_TRUE(t.has_value()) << t.error().message();
  EXPECT_EQ(t->rows, 2);
  EXPECT_EQ(Category(t->columns[1], 0), "two\nlines");
  EXPECT_EQ(Category(t->columns[1], 1), "<missing>");
}

TEST(Csv, ForcedKindsCountInvalidNumbersWithWhereTheFirstWas) {
  CsvOptions o;
  o.kinds = {{"x", ColumnKind::kNumeric}, {"code", ColumnKind::kCategorical}};
  auto t = Parse("x,code\n1,10\noops,20\n3,30\nbad,\n", o);
  ASSERT_TRUE(t.has_value());
  const Column& x = t->columns[0];
  EXPECT_EQ(x.kind, ColumnKind::kNumeric);
  EXPECT_EQ(x.invalid, 2u);
  EXPECT_EQ(x.first_invalid, "t.csv:3: 'oops'");
  EXPECT_TRUE(std::isnan(x.numbers[1]));
  EXPECT_EQ(t->columns[1].kind, ColumnKind::kCategorical);
  EXPECT_EQ(Category(t->columns[1], 2), "30");
}

TEST(Csv, SelectedColumnsInTheirOrder) {
  CsvOptions o;
  o.columns = {"c", "a"};
  auto t = Parse("a,b,c\n1,2,3\n", o);
  ASSERT_TRUE(t.has_value());
  ASSERT_EQ(t->columns.size(), 2u);
  EXPECT_EQ(t->columns[0].name, "c");
  EXPECT_EQ(t->columns[1].numbers[0], 1);
  o.columns = {"zzz"};
  auto bad = Parse("a,b\n1,2\n", o);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message(), "t.csv: no column 'zzz' (columns: a, b)");
}

TEST(Csv, ErrorsNameFileLineAndColumn) {
  auto ragged = Parse("a,b\n1,2\n3\n");
  ASSERT_FALSE(ragged.has_value());
  EXPECT_EQ(ragged.error().message(), "t.csv:3: expected 2 fields (as in the header), found 1");
  auto quote = Parse("a,b\n1,2\n3,\"open\n");
  ASSERT_FALSE(quote.has_value());
  EXPECT_EQ(quote.error().message(), "t.csv:3: column 'b': unterminated quoted field");
  auto after = Parse("a,b\n\"x\"y,2\n");
  ASSERT_FALSE(after.has_value());
  EXPECT_EQ(after.error().message(), "t.csv:2: column 'a': unexpected text after a closing quote");
  EXPECT_EQ(Parse("").error().message(), "t.csv: empty file (no header row)");
  EXPECT_EQ(Parse("a,a\n1,2\n").error().message(), "t.csv:1: header: column 'a' appears twice");
  EXPECT_EQ(Parse("a,,c\n").error().message(), "t.csv:1: header: column 2 has no name");
  auto missing = ReadCsv("/nonexistent/dir/f.csv");
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message().find("/nonexistent/dir/f.csv"), std::string::npos);
}

TEST(Csv, HeaderOnlyIsAnEmptyTable) {
  auto t = Parse("a,b\n");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->rows, 0);
  EXPECT_EQ(t->columns.size(), 2u);
}

TEST(Csv, ParallelChunksMatchOneThread) {
  // ~6 MB so the file is cut into several chunks, with quoted newlines and
  // a text column discovered late.
  std::string text = "n,word,late\n";
  for (int i = 0; i < 200000; ++i) {
    text += std::to_string(i * 0.25) + ",";
    text += (i % 7 == 0) ? "\"multi\nline, " + std::to_string(i % 13) + "\"" : "w" + std::to_string(i % 50);
    text += ",";
    text += i == 150000 ? "text" : std::to_string(i % 3);
    text += "\n";
  }
  CsvOptions one, two;
  one.threads = 1;
  two.threads = 2;
  int calls = 0;
  two.progress = [&](uint64_t done, uint64_t total) {
    ++calls;
    EXPECT_LE(done, total);
  };
  auto a = Parse(text, one);
  auto b = Parse(text, two);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_GT(calls, 1);
  ASSERT_EQ(a->rows, 200000);
  ASSERT_EQ(b->rows, 200000);
  EXPECT_EQ(a->columns[0].numbers, b->columns[0].numbers);
  EXPECT_EQ(b->columns[2].kind, ColumnKind::kCategorical);
  for (size_t c = 1; c < 3; ++c) {
    for (size_t r = 0; r < 200000; r += 997) EXPECT_EQ(Category(a->columns[c], r), Category(b->columns[c], r));
  }
  EXPECT_EQ(Category(b->columns[1], 7), "multi\nline, 7");
  EXPECT_EQ(Category(b->columns[2], 150000), "text");
}

TEST(Csv, ReadsFiles) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "f.csv") << "x,y\n1,a\n2,b\n";
  auto t = ReadCsv(dir.path() / "f.csv");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->rows, 2);
  std::ofstream(dir.path() / "empty.csv");
  EXPECT_FALSE(ReadCsv(dir.path() / "empty.csv").has_value());
  EXPECT_FALSE(ReadCsv(dir.path()).has_value());  // a directory
}

}  // namespace
}  // namespace mlforge::monitor

namespace mlforge::monitor {
namespace {

TEST(Csv, NumbersAreExactlyWhatStrtodReads) {
  // Plain decimals take a fast path; it must give strtod's double, bit for bit.
  std::string text = "x\n";
  std::vector<std::string> fields;
  uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 11;
  };
  for (int i = 0; i < 20000; ++i) {
    int digits = 1 + static_cast<int>(next() % 17);
    std::string d;
    for (int k = 0; k < digits; ++k) d += static_cast<char>('0' + next() % 10);
    int point = static_cast<int>(next() % (digits + 1));
    std::string f = (next() % 2 ? "-" : "") + d.substr(0, static_cast<size_t>(point)) + "." +
                    d.substr(static_cast<size_t>(point));
    if (next() % 5 == 0) f += "e" + std::to_string(static_cast<int>(next() % 40) - 20);
    fields.push_back(f);
    text += f + "\n";
  }
  fields.insert(fields.end(), {"-0", "0.5", "1.", "+3.25", "123456789012345", "0.1", "9007199254740993"});
  for (size_t i = fields.size() - 7; i < fields.size(); ++i) text += fields[i] + "\n";
  auto t = ParseCsv(text, "n.csv");
  ASSERT_TRUE(t.has_value()) << t.error().message();
  ASSERT_EQ(t->columns[0].kind, ColumnKind::kNumeric);
  for (size_t i = 0; i < fields.size(); ++i) {
    double want = std::strtod(fields[i].c_str(), nullptr);
    double got = t->columns[0].numbers[i];
    ASSERT_EQ(std::memcmp(&want, &got, sizeof(double)), 0) << fields[i] << ": " << got << " vs " << want;
  }
}

}  // namespace
}  // namespace mlforge::monitor

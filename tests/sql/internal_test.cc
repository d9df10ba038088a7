// URI handling, redaction, placeholder rewriting and number text formats.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "sql/internal.h"
#include "sql/sql.h"

namespace mlforge::sql {
namespace {

TEST(RedactUri, HidesPasswords) {
  EXPECT_EQ(RedactUri("postgresql://user:secret@host:5432/db"),
            "postgresql://user:***@host:5432/db");
  EXPECT_EQ(RedactUri("postgresql+psycopg2://u:p%40ss@h/db?sslmode=require"),
            "postgresql+psycopg2://u:***@h/db?sslmode=require");
  // An unescaped '@' or '/' in the password is still covered.
  EXPECT_EQ(RedactUri("postgres://u:a@b/c@host/db"), "postgres://u:***@host/db");
  EXPECT_EQ(RedactUri("postgresql://host/db?user=u&password=secret&x=1"),
            "postgresql://host/db?user=u&password=***&x=1");
  EXPECT_EQ(RedactUri("host=h user=u password=secret dbname=d"),
            "host=h user=u password=*** dbname=d");
  // Nothing to hide.
  EXPECT_EQ(RedactUri("postgresql://user@host/db"), "postgresql://user@host/db");
  EXPECT_EQ(RedactUri("postgresql://host:5432/db"), "postgresql://host:5432/db");
  EXPECT_EQ(RedactUri("sqlite:////var/lib/mlforge/db.sqlite"),
            "sqlite:////var/lib/mlforge/db.sqlite");
}

TEST(Open, RejectsUnknownSchemesAndBadOptions) {
  auto none = Database::Open("mysql://u:secret@h/db");
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code(), ErrorCode::kInvalidParameterValue);
  auto bare = Database::Open("/tmp/x.db");
  ASSERT_FALSE(bare.has_value());
  EXPECT_EQ(bare.error().code(), ErrorCode::kInvalidParameterValue);
  auto host = Database::Open("sqlite://host/x.db");
  ASSERT_FALSE(host.has_value());
  EXPECT_EQ(host.error().code(), ErrorCode::kInvalidParameterValue);
  DatabaseOptions zero;
  zero.pool_size = 0;
  EXPECT_FALSE(Database::Open("sqlite://", zero).has_value());
}

TEST(Open, UnreachablePostgresFailsFastWithoutThePassword) {
  DatabaseOptions options;
  options.busy_timeout_ms = 1000;
  // Port 1 on loopback: nothing listens there.
  auto db = Database::Open("postgresql://u:hunter2@127.0.0.1:1/db", options);
  ASSERT_FALSE(db.has_value());
  EXPECT_EQ(db.error().code(), ErrorCode::kTemporarilyUnavailable);
  EXPECT_EQ(db.error().message().find("hunter2"), std::string::npos) << db.error().message();
}

TEST(RewritePlaceholders, NumbersQuestionMarksOutsideLiterals) {
  using internal::RewritePlaceholders;
  auto r = RewritePlaceholders("SELECT * FROM t WHERE a = ? AND b = '?' AND c = ?");
  EXPECT_EQ(r.sql, "SELECT * FROM t WHERE a = $1 AND b = '?' AND c = $2");
  EXPECT_EQ(r.placeholders, 2);

  EXPECT_EQ(RewritePlaceholders("SELECT 'it''s ?', ?").sql, "SELECT 'it''s ?', $1");
  EXPECT_EQ(RewritePlaceholders("SELECT E'\\'?', ?").sql, "SELECT E'\\'?', $1");
  EXPECT_EQ(RewritePlaceholders("SELECT \"col?\" FROM t WHERE x = ?").sql,
            "SELECT \"col?\" FROM t WHERE x = $1");
  EXPECT_EQ(RewritePlaceholders("SELECT ? -- why?\n, ?").sql, "SELECT $1 -- why?\n, $2");
  EXPECT_EQ(RewritePlaceholders("SELECT /* a? /* nested? */ b? */ ?").sql,
            "SELECT /* a? /* nested? */ b? */ $1");
  EXPECT_EQ(RewritePlaceholders("SELECT $$what?$$, $tag$x?$tag$, ?").sql,
            "SELECT $$what?$$, $tag$x?$tag$, $1");
  // Unterminated literal: nothing after it is rewritten (the server reports it).
  EXPECT_EQ(RewritePlaceholders("SELECT 'oops ?").placeholders, 0);
  auto many = RewritePlaceholders("VALUES (?,?,?,?,?,?,?,?,?,?,?)");
  EXPECT_EQ(many.placeholders, 11);
  EXPECT_EQ(many.sql, "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)");
}

TEST(NumberText, RoundTripsPostgresSpellings) {
  using internal::FormatDouble;
  using internal::ParseDouble;
  using internal::ParseInt;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(FormatDouble(kInf), "Infinity");
  EXPECT_EQ(FormatDouble(-kInf), "-Infinity");
  EXPECT_EQ(FormatDouble(std::nan("")), "NaN");
  EXPECT_EQ(FormatDouble(0.1), "0.1");
  for (double d : {0.1, 1.0 / 3, 5e-324, 1.7976931348623157e308, -2.2250738585072014e-308, 1e21}) {
    EXPECT_EQ(ParseDouble(FormatDouble(d)), d) << FormatDouble(d);
  }
  EXPECT_EQ(ParseDouble("Infinity"), kInf);
  EXPECT_EQ(ParseDouble("-Infinity"), -kInf);
  EXPECT_TRUE(std::isnan(ParseDouble("NaN")));
  EXPECT_EQ(ParseDouble("1e-400"), 0.0);
  EXPECT_EQ(ParseDouble("1e400"), kInf);
  EXPECT_EQ(ParseInt("-9223372036854775808"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(ParseInt("t"), 1);
  EXPECT_EQ(ParseInt("f"), 0);
  EXPECT_EQ(ParseInt("2.75"), 2);
  EXPECT_EQ(ParseInt("1e30"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(ParseInt(""), 0);
  EXPECT_EQ(ParseInt("abc"), 0);
}

}  // namespace
}  // namespace mlforge::sql

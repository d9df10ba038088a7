// Tests of the MLflow search grammar compiler (tracking/search_filter.h):
// parser cases on the SQL text it produces, then execution of the compiled
// SQL against real SQLite and PostgreSQL databases.
#include "tracking/search_filter.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "sql/sql.h"
#include "support/scratch_database.h"
#include "tracking/schema.h"

namespace mlforge::tracking {
namespace {

using sql::Backend;

constexpr Backend kBackends[] = {Backend::kSqlite, Backend::kPostgres};

size_t CountPlaceholders(std::string_view sql) {
  size_t n = 0;
  for (char c : sql) n += c == '?';
  return n;
}

std::string Describe(const SqlValue& v) {
  if (std::holds_alternative<std::nullptr_t>(v)) return "NULL";
  if (const auto* i = std::get_if<int64_t>(&v)) return "int " + std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return "double " + std::to_string(*d);
  return "'" + std::get<std::string>(v) + "'";
}

std::string Describe(const std::vector<SqlValue>& values) {
  std::string out = "[";
  for (const SqlValue& v : values) out += Describe(v) + ", ";
  return out + "]";
}

// The invariants every compiled fragment keeps: one bound value per '?', and
// no user-supplied string (4+ characters, so no clash with our aliases)
// anywhere in the SQL text.
void ExpectParameterized(const SqlFragment& f) {
  EXPECT_EQ(CountPlaceholders(f.sql), f.params.size()) << f.sql;
  for (const SqlValue& v : f.params) {
    if (const auto* s = std::get_if<std::string>(&v); s && s->size() >= 4) {
      EXPECT_EQ(f.sql.find(*s), std::string::npos) << "user text '" << *s << "' in SQL: " << f.sql;
    }
  }
}

// The joins and one other part of a compiled search, as one fragment.
SqlFragment JoinsAnd(const RunSearchSql& q, const SqlFragment& part) {
  SqlFragment f{q.joins.sql + part.sql, q.joins.params};
  f.params.insert(f.params.end(), part.params.begin(), part.params.end());
  return f;
}

// The filter's joins and WHERE expression.
SqlFragment RunFilterOk(std::string_view filter, Backend backend = Backend::kSqlite) {
  Result<RunSearchSql> r = CompileRunSearch(filter, {}, backend);
  EXPECT_TRUE(r.has_value()) << filter << ": " << r.error().message();
  if (!r) return {};
  SqlFragment f = JoinsAnd(*r, r->where);
  ExpectParameterized(f);
  return f;
}

std::string RunFilterError(std::string_view filter) {
  for (Backend backend : kBackends) {
    Result<RunSearchSql> r = CompileRunSearch(filter, {}, backend);
    EXPECT_FALSE(r.has_value()) << filter << " compiled to " << (r ? r->where.sql : "");
    if (r) return "";
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidParameterValue) << filter;
    if (backend == Backend::kPostgres) return r.error().message();
  }
  return "";
}

// The order_by's joins and ORDER BY body.
SqlFragment RunOrderOk(std::vector<std::string> order_by, Backend backend = Backend::kSqlite) {
  Result<RunSearchSql> r = CompileRunSearch("", order_by, backend);
  EXPECT_TRUE(r.has_value()) << (order_by.empty() ? "" : order_by[0]) << ": "
                             << r.error().message();
  if (!r) return {};
  SqlFragment f = JoinsAnd(*r, r->order_by);
  ExpectParameterized(f);
  return f;
}

std::string RunOrderError(std::vector<std::string> order_by) {
  Result<RunSearchSql> r = CompileRunSearch("", order_by, Backend::kSqlite);
  EXPECT_FALSE(r.has_value()) << r->order_by.sql;
  if (r) return "";
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidParameterValue);
  return r.error().message();
}

// ---------------------------------------------------------------------------
// Runs filter: valid forms.

struct ValidCase {
  const char* filter;
  std::vector<SqlValue> params;  // bound values, in order
  std::vector<const char*> sql_contains = {};
};

void PrintTo(const ValidCase& c, std::ostream* os) { *os << c.filter; }

class ValidRunFilterTest : public ::testing::TestWithParam<ValidCase> {};

TEST_P(ValidRunFilterTest, CompilesOnBothBackends) {
  const ValidCase& c = GetParam();
  for (Backend backend : kBackends) {
    SqlFragment f = RunFilterOk(c.filter, backend);
    EXPECT_EQ(Describe(f.params), Describe(c.params)) << c.filter;
    if (backend == Backend::kSqlite) {
      for (const char* needle : c.sql_contains) {
        EXPECT_NE(f.sql.find(needle), std::string::npos) << needle << " not in " << f.sql;
      }
    }
  }
}

using V = std::vector<SqlValue>;
using S = std::string;

INSTANTIATE_TEST_SUITE_P(
    Forms, ValidRunFilterTest,
    ::testing::Values(
        ValidCase{"metrics.acc > 0.5",
                  V{S("acc"), 0.5},
                  {" LEFT JOIN latest_metrics k0 ON k0.run_uuid = r.run_uuid AND k0.key = ?",
                   "(k0.is_nan = 0 AND k0.value > ?)"}},
        ValidCase{"metric.acc >= 0.94", V{S("acc"), 0.94}, {"k0.value >= ?"}},
        ValidCase{"metrics.acc>=100", V{S("acc"), 100.0}},
        ValidCase{"metrics.loss != 3", V{S("loss"), 3.0}, {"(k0.is_nan <> 0 OR k0.value <> ?)"}},
        ValidCase{"metrics.a = -1.5e-3", V{S("a"), -0.0015}},
        ValidCase{"metrics.a < .5 AND metrics.b <= -.5 AND metrics.c > 1.",
                  V{S("a"), S("b"), S("c"), 0.5, -0.5, 1.0},
                  {"k1.value <= ?", "k2.value > ?"}},
        ValidCase{"metrics.a > 2E3", V{S("a"), 2000.0}},
        ValidCase{"params.m!='tf'", V{S("m"), S("tf")}, {"LEFT JOIN params k0", "k0.value <> ?"}},
        ValidCase{"params.\"m\"!=\"tf\"", V{S("m"), S("tf")}},
        ValidCase{"param.model = 'LinearRegression'", V{S("model"), S("LinearRegression")}},
        ValidCase{"parameter.x = 'y' AND parameters.z = 'w'", V{S("x"), S("z"), S("y"), S("w")}},
        ValidCase{"metric.\"legit name\" >= 0.243", V{S("legit name"), 0.243}},
        ValidCase{"metrics.`spacey name` > 5", V{S("spacey name"), 5.0}},
        ValidCase{"metrics.\"X//Y#$$@&Z\" = 3", V{S("X//Y#$$@&Z"), 3.0}},
        ValidCase{"metrics.\"accuracy.2.0\" > 5", V{S("accuracy.2.0"), 5.0}},
        ValidCase{"metrics.`val-loss` < 1", V{S("val-loss"), 1.0}},
        ValidCase{"tags.mlflow.source.type = 'NOTEBOOK'",
                  V{S("mlflow.source.type"), S("NOTEBOOK")},
                  {"LEFT JOIN tags k0"}},
        ValidCase{"tags.`mlflow.runName` = 'run one'", V{S("mlflow.runName"), S("run one")}},
        ValidCase{"tag.\"t.a.g\" = \"a\"", V{S("t.a.g"), S("a")}},
        ValidCase{"`metric`.a >= 0.1", V{S("a"), 0.1}},
        ValidCase{"`tags`.source_name = 'a notebook'", V{S("source_name"), S("a notebook")}},
        ValidCase{"metrics.rmse < 1 and params.model_class = 'LR'",
                  V{S("rmse"), S("model_class"), 1.0, S("LR")}},
        ValidCase{"metrics.a > 1 AnD params.b = 'c'", V{S("a"), S("b"), 1.0, S("c")}},
        ValidCase{"params.p = 'x'AND params.q = 'y'", V{S("p"), S("q"), S("x"), S("y")}},
        ValidCase{"  \n metrics.a > 1 \t", V{S("a"), 1.0}},
        ValidCase{"params.m = \"L'Hosp\"", V{S("m"), S("L'Hosp")}},
        // MLflow strips the quotes and unescapes nothing.
        ValidCase{"params.m = 'a''b'", V{S("m"), S("a''b")}},
        ValidCase{"params.m = 'it\\'s'", V{S("m"), S("it\\'s")}},
        // A trailing backslash before the closing quote (sqlparse backtracks).
        ValidCase{"params.path = 'C:\\dir\\'", V{S("path"), S("C:\\dir\\")}},
        ValidCase{"tags.t LIKE '%a_b%'", V{S("t"), S("%a_b%")}, {"k0.value LIKE ?"}},
        ValidCase{"tags.t ilike 'X%'", V{S("t"), S("X%")}, {"LOWER(k0.value) LIKE LOWER(?)"}},
        ValidCase{"attribute.artifact_uri = '1/23/4'", V{S("1/23/4")}, {"r.artifact_uri = ?"}},
        ValidCase{"attribute.start_time >= 1234", V{int64_t{1234}}, {"r.start_time >= ?"}},
        ValidCase{
            "attributes.end_time <= 1.5", V{1.5}, {"r.end_time <= CAST(? AS DOUBLE PRECISION)"}},
        ValidCase{"start_time > 99999999999999999999", V{1e20}},
        ValidCase{"attributes.created > 1", V{int64_t{1}}, {"r.start_time > ?"}},
        ValidCase{"Created < -1", V{int64_t{-1}}, {"r.start_time < ?"}},
        ValidCase{"run.status = 'RUNNING'", V{S("RUNNING")}, {"r.status = ?"}},
        ValidCase{"attr.user_id LIKE 'ali%'", V{S("ali%")}, {"r.user_id LIKE ?"}},
        ValidCase{"status = 'FAILED'", V{S("FAILED")}, {"r.status = ?"}},
        ValidCase{"\"status\" != 'FAILED'", V{S("FAILED")}, {"r.status <> ?"}},
        ValidCase{"attributes.run_name = 'n'", V{S("n")}, {"r.name = ?"}},
        ValidCase{"attributes.`Run Name` = 'n'", V{S("n")}, {"r.name = ?"}},
        ValidCase{"attributes.\"run name\" ILIKE 'n'", V{S("n")}, {"LOWER(r.name) LIKE LOWER(?)"}},
        // Lists are padded to a power of two with the last value.
        ValidCase{"attributes.run_id IN ('a1','b2', \"c3\")",
                  V{S("a1"), S("b2"), S("c3"), S("c3")},
                  {"r.run_uuid IN (?, ?, ?, ?)"}},
        ValidCase{"run_id not  in ( 'a1' )", V{S("a1")}, {"r.run_uuid NOT IN (?)"}},
        ValidCase{"run_id = 'abc'", V{S("abc")}, {"r.run_uuid = ?"}},
        ValidCase{"dataset.name = 'my_dataset'",
                  V{S("my_dataset")},
                  {"EXISTS (SELECT 1 FROM run_inputs i0 JOIN datasets d1 ON d1.dataset_uuid = "
                   "i0.dataset_uuid WHERE i0.run_uuid = r.run_uuid AND d1.name = ?)"}},
        ValidCase{
            "datasets.digest IN ('d1', \"d2\")", V{S("d1"), S("d2")}, {"d1.digest IN (?, ?)"}},
        ValidCase{"datasets.context NOT IN ('train')",
                  V{S("mlflow.data.context"), S("train")},
                  {"JOIN run_input_tags c1", "c1.key = ? AND c1.value NOT IN (?)"}},
        ValidCase{"datasets.name ILIKE 'Name%' AND datasets.context LIKE 'tr%'",
                  V{S("Name%"), S("mlflow.data.context"), S("tr%")}},
        ValidCase{"metrics.\xC3\xA9t\xC3\xA9 = 1", V{S("\xC3\xA9t\xC3\xA9"), 1.0}},
        ValidCase{"", V{}}, ValidCase{" \t\n", V{}}));

TEST(RunFilterTest, EmptyFilterIsEmptyFragment) {
  for (Backend backend : kBackends) {
    EXPECT_EQ(RunFilterOk("", backend).sql, "");
    EXPECT_EQ(RunFilterOk("   ", backend).sql, "");
  }
}

TEST(RunFilterTest, WholeExpressionIsParenthesizedAndAnded) {
  SqlFragment f = RunFilterOk("status = 'A' and metrics.x > 1");
  EXPECT_EQ(f.sql,
            " LEFT JOIN latest_metrics k0 ON k0.run_uuid = r.run_uuid AND k0.key = ?"
            "(r.status = ? AND (k0.is_nan = 0 AND k0.value > ?))");
}

TEST(RunFilterTest, LikeAndIlikePerBackend) {
  EXPECT_EQ(RunFilterOk("status LIKE 'R%'", Backend::kSqlite).sql, "(r.status LIKE ?)");
  EXPECT_EQ(RunFilterOk("status LIKE 'R%'", Backend::kPostgres).sql, "(r.status LIKE ? ESCAPE '')");
  EXPECT_EQ(RunFilterOk("status ILIKE 'r%'", Backend::kSqlite).sql,
            "(LOWER(r.status) LIKE LOWER(?))");
  EXPECT_EQ(RunFilterOk("status ILIKE 'r%'", Backend::kPostgres).sql,
            "(r.status ILIKE ? ESCAPE '')");
}

// ---------------------------------------------------------------------------
// Runs filter: errors.

TEST(RunFilterErrorTest, SyntaxErrorNamesPositionAndExpectation) {
  EXPECT_EQ(RunFilterError("metrics.acc >> 1"),
            "Error on parsing filter 'metrics.acc >> 1': unexpected token '>' at position 13; "
            "expected a number or a quoted string");
}

struct ErrorCase {
  const char* filter;
  const char* message_part;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.filter; }

class RunFilterErrorCaseTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(RunFilterErrorCaseTest, Rejected) {
  const ErrorCase& c = GetParam();
  std::string message = RunFilterError(c.filter);
  EXPECT_NE(message.find(c.message_part), std::string::npos)
      << "filter: " << c.filter << "\nmessage: " << message;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RunFilterErrorCaseTest,
    ::testing::Values(
        // Syntax.
        ErrorCase{"metric.acc >= 0.94; metrics.rmse < 1", "unexpected token ';' at position 18"},
        ErrorCase{"metrics.A > 0.1 OR params.B = 'LR'",
                  "unexpected token 'OR' at position 16; expected AND or the end of the filter "
                  "(OR is not supported"},
        ErrorCase{"metrics.A > 0.1 NAND params.B = 'LR'", "unexpected token 'NAND' at position 16"},
        ErrorCase{"metrics.A > 0.1 AND (params.B = 'LR')", "unexpected token '(' at position 20"},
        ErrorCase{"`metrics.A > 0.1", "unterminated name starting at position 0"},
        ErrorCase{"param`.A > 0.1", "at position 5; expected a comparison operator"},
        ErrorCase{"params.'acc = LR", "at position 7; expected a key after 'params.'"},
        ErrorCase{"params.acc = 'LR", "unterminated string starting at position 13"},
        ErrorCase{"params.acc = LR'", "at position 15; expected AND or the end of the filter"},
        ErrorCase{"params.acc = \"LR'", "unterminated string starting at position 13"},
        // Unclosed after a '' pair: the string ends inside the pair, as in sqlparse.
        ErrorCase{"params.m = 'a''", "unexpected token ''' at position 14; expected AND"},
        // \' does not end a string (MLflow's tokenizer), so this one runs to 'x'.
        ErrorCase{"params.p = 'C:\\' AND params.q = 'x'", "unexpected token 'x' at position 33"},
        ErrorCase{"tags.acc = = 'LR'", "unexpected token '=' at position 11"},
        ErrorCase{"attribute.status IS 'RUNNING'", "unexpected token 'IS' at position 17"},
        ErrorCase{"params.acc LR !=", "unexpected token 'LR' at position 11"},
        ErrorCase{"metric.acc !=", "unexpected end of input at position 13"},
        ErrorCase{"foo is null", "unexpected token 'is' at position 4"},
        ErrorCase{"1=1", "unexpected token '1' at position 0; expected an identifier"},
        ErrorCase{"metrics.a == 1", "unexpected token '=' at position 11"},
        ErrorCase{"metrics.a <> 1", "unexpected token '>' at position 11"},
        ErrorCase{"metrics.a > 1 AND", "at position 17; expected a comparison after AND"},
        ErrorCase{"metrics.a > 1 AND AND metrics.b > 2",
                  "unexpected token 'metrics' at position 22"},
        ErrorCase{"metrics.a > 1abc", "invalid number '1abc' at position 12"},
        ErrorCase{"metrics.a > 1.2.3", "invalid number '1.2.3'"},
        ErrorCase{"metrics.a > 1 -- comment", "unexpected token '-' at position 14"},
        ErrorCase{"metrics. > 1", "unexpected whitespace at position 8; expected a key"},
        ErrorCase{"metrics.a > 1\x01", "unexpected character 0x01 at position 13"},
        ErrorCase{"run_id NOT LIKE 'a'", "unexpected token 'LIKE' at position 11; expected IN"},
        ErrorCase{"attributes.run_id IN 'a'", "expected '(' and a list of quoted strings"},
        ErrorCase{"attributes.run_id IN ()", "expected a non-empty list of string values"},
        ErrorCase{"attributes.run_id IN ('a' 'b')", "at position 26; expected ',' or ')'"},
        ErrorCase{"attributes.run_id IN ('a', 1)", "at position 27; expected a quoted string"},
        ErrorCase{"attributes.run_id IN ('a',)", "at position 26; expected a quoted string"},
        ErrorCase{"run_id = ('a')", "unexpected token '(' at position 9"},
        // Identifiers.
        ErrorCase{"m.acc >= 0.94",
                  "Invalid entity type 'm'. Valid values are ['metric', "
                  "'parameter', 'tag', 'attribute', 'dataset'] (at position 0)"},
        ErrorCase{"METRICS.a > 1", "Invalid entity type 'METRICS'"},
        ErrorCase{"attri.x != 1", "Invalid entity type 'attri'"},
        ErrorCase{"acc >= 0.94", "Invalid attribute key 'acc' specified"},
        ErrorCase{"attribute.start != 1", "Invalid attribute key 'start'"},
        ErrorCase{"attribute.experiment_id != 1", "Invalid attribute key 'experiment_id'"},
        ErrorCase{"attribute.lifecycle_stage = 'ACTIVE'", "Invalid attribute key"},
        ErrorCase{"attribute.name = 'x'", "Invalid attribute key 'name'"},
        ErrorCase{"`metrics.A` > 1", "Invalid attribute key 'metrics.A'"},
        ErrorCase{"dataset.status = 'true'", "Invalid dataset key 'status'"},
        ErrorCase{"dataset.profile = 'num_rows: 10'", "Invalid dataset key 'profile'"},
        // Comparators.
        ErrorCase{"metrics.a LIKE 'x'", "Invalid comparator 'LIKE' for metric 'a'"},
        ErrorCase{"metrics.a IN ('x')", "Invalid comparator 'IN' for metric 'a'"},
        ErrorCase{"params.a > 'x'", "Invalid comparator '>' for parameter 'a'"},
        ErrorCase{"tags.a <= 'x'", "Invalid comparator '<=' for tag 'a'"},
        ErrorCase{"params.a IN ('x')", "Invalid comparator 'IN' for parameter"},
        ErrorCase{"tags.a NOT IN ('x')", "Invalid comparator 'NOT IN' for tag"},
        ErrorCase{"attributes.status >= 'x'", "Invalid comparator '>=' for attribute 'status'"},
        ErrorCase{"attributes.start_time LIKE 1234", "Invalid comparator 'LIKE'"},
        ErrorCase{"attributes.end_time IN ('1')", "Invalid comparator 'IN'"},
        ErrorCase{"attributes.status IN ('a')",
                  "Only the 'run_id' attribute supports comparison with a list"},
        ErrorCase{"run_name NOT IN ('a')", "Only the 'run_id' attribute"},
        ErrorCase{"datasets.name > 'x'", "Invalid comparator '>' for dataset 'name'"},
        // Value types.
        ErrorCase{"metric.model = 'LR'", "Expected numeric value type for metric. Found 'LR'"},
        ErrorCase{"metric.model = '5'", "Expected numeric value type for metric"},
        ErrorCase{"metrics.acc != metrics.acc",
                  "Expected numeric value type for metric. Found "
                  "'metrics.acc'"},
        ErrorCase{"metrics.acc = nan", "Expected numeric value type for metric. Found 'nan'"},
        ErrorCase{"params.acc = 5", "Expected a quoted string value for parameter"},
        ErrorCase{"tags.acc = 5", "Expected a quoted string value for tag"},
        ErrorCase{"attribute.status = 1", "Expected a quoted string value for attributes"},
        ErrorCase{"datasets.name = 1", "Expected a quoted string value for dataset attributes"},
        ErrorCase{"params.acc = LR", "value is either not quoted or unidentified quote types"},
        ErrorCase{"tags.acc = LR", "value is either not quoted or unidentified quote types"},
        ErrorCase{"params.acc = `LR`", "value is either not quoted or unidentified quote types"},
        ErrorCase{"attribute.status = true", "value is either not quoted"},
        ErrorCase{"attributes.start_time > 'x'",
                  "Expected numeric value type for numeric attribute: start_time. Found 'x'"},
        ErrorCase{"created = '1'", "numeric attribute: start_time"},
        ErrorCase{"metrics.a > 1e999", "Numeric value '1e999' is out of range"}));

TEST(RunFilterErrorTest, EchoesAtMostAboutTwoHundredCharacters) {
  std::string filter = "metrics.a > 1 AND " + std::string(5000, 'x') + " ! 1";
  std::string message = RunFilterError(filter);
  EXPECT_LT(message.size(), 400u) << message;
  EXPECT_EQ(message.find(std::string(200, 'x')), std::string::npos);

  std::string long_key = "params." + std::string(1000, 'k') + " > 'v'";
  message = RunFilterError(long_key);
  EXPECT_LT(message.size(), 300u) << message;

  std::string long_value = "metrics.a = '" + std::string(1000, 'v') + "'";
  message = RunFilterError(long_value);
  EXPECT_LT(message.size(), 300u) << message;
}

TEST(RunFilterErrorTest, ClipsAtUtf8Boundary) {
  std::string filter = "metrics.a > 1 OR ";
  for (int i = 0; i < 200; ++i) filter += "\xC3\xA9";  // é
  std::string message = RunFilterError(filter);
  size_t dots = message.find("...");
  ASSERT_NE(dots, std::string::npos) << message;
  // The byte before "..." ends a character: ASCII or the last byte of é.
  const auto before = static_cast<unsigned char>(message[dots - 1]);
  EXPECT_TRUE(before < 0x80 || before == 0xA9) << message;
}

TEST(RunFilterErrorTest, LimitsListLength) {
  std::string list = "'x'";
  for (int i = 1; i < 10'000; ++i) list += ", 'x" + std::to_string(i) + "'";
  SqlFragment f = RunFilterOk("run_id IN (" + list + ")");
  EXPECT_EQ(f.params.size(), 16'384u);
  EXPECT_NE(RunFilterError("run_id IN (" + list + ", 'y')").find("more than 10000 values"),
            std::string::npos);
}

TEST(RunFilterErrorTest, LimitsComparisons) {
  std::string filter = "metrics.a > 1";
  for (int i = 0; i < 200; ++i) filter += " AND metrics.a > 1";
  EXPECT_NE(RunFilterError(filter).find("more than 200 comparisons"), std::string::npos);
  filter = "metrics.a > 1";
  for (int i = 0; i < 199; ++i) filter += " AND metrics.a > 1";
  // One join for the key, one bound value per comparison.
  EXPECT_EQ(RunFilterOk(filter).params.size(), 201u);
}

// ---------------------------------------------------------------------------
// Injection attempts: user text only ever travels as parameters.

TEST(RunFilterInjectionTest, QuotesInValuesStayInsideTheParameter) {
  for (Backend backend : kBackends) {
    SqlFragment f = RunFilterOk("params.x = 'a'' OR 1=1 --'", backend);
    EXPECT_EQ(Describe(f.params), Describe(V{S("x"), S("a'' OR 1=1 --")}));
    EXPECT_EQ(f.sql.find("1=1"), std::string::npos) << f.sql;
    EXPECT_EQ(f.sql.find("--"), std::string::npos) << f.sql;
    EXPECT_EQ(f.sql.find('\''), std::string::npos) << f.sql;
  }
}

TEST(RunFilterInjectionTest, KeysAreParametersToo) {
  for (Backend backend : kBackends) {
    SqlFragment f = RunFilterOk("metrics.`a; DROP TABLE runs` > 1", backend);
    EXPECT_EQ(Describe(f.params), Describe(V{S("a; DROP TABLE runs"), 1.0}));
    EXPECT_EQ(f.sql.find("DROP"), std::string::npos) << f.sql;
    EXPECT_EQ(f.sql.find(';'), std::string::npos) << f.sql;

    f = RunFilterOk("tags.\"x\"\" OR \"\"1\"\"=\"\"1\" = 'y'", backend);
    EXPECT_EQ(f.sql.find("OR"), std::string::npos) << f.sql;

    f = RunFilterOk("params.`k`` OR 1=1` = 'v'", backend);
    EXPECT_EQ(Describe(f.params), Describe(V{S("k`` OR 1=1"), S("v")}));
    EXPECT_EQ(f.sql.find("1=1"), std::string::npos) << f.sql;

    f = RunFilterOk("run_id IN ('a'', ''b'') OR 1=1 --', 'c')", backend);
    EXPECT_EQ(f.params.size(), 2u);
    EXPECT_EQ(f.sql.find("1=1"), std::string::npos) << f.sql;

    f = RunFilterOk("datasets.context = '\\'; DELETE FROM runs; --'", backend);
    EXPECT_EQ(f.sql.find("DELETE"), std::string::npos) << f.sql;
  }
}

TEST(RunFilterInjectionTest, TrailingStatementsAreSyntaxErrors) {
  EXPECT_NE(RunFilterError("run_id IN ('a'); DROP TABLE runs; --")
                .find("unexpected token ';' at position 15"),
            std::string::npos);
  EXPECT_NE(RunFilterError("params.x = 'a' UNION SELECT 1").find("unexpected token 'UNION'"),
            std::string::npos);
  EXPECT_NE(RunFilterError("params.x = 'a' /* c */").find("unexpected token '/'"),
            std::string::npos);
}

TEST(RunOrderByInjectionTest, KeysAreParameters) {
  for (Backend backend : kBackends) {
    SqlFragment f = RunOrderOk({"tags.`a; DROP TABLE runs` DESC", "params.\"x') --\""}, backend);
    EXPECT_EQ(f.sql.find("DROP"), std::string::npos) << f.sql;
    EXPECT_EQ(f.sql.find("--"), std::string::npos) << f.sql;
    EXPECT_EQ(Describe(f.params), Describe(V{S("a; DROP TABLE runs"), S("x') --")}));
  }
}

// ---------------------------------------------------------------------------
// Runs order_by.

TEST(RunOrderByTest, DefaultIsStartTimeDescThenRunId) {
  for (Backend backend : kBackends) {
    SqlFragment f = RunOrderOk({}, backend);
    EXPECT_EQ(f.sql, "r.start_time DESC, r.run_uuid ASC");
    EXPECT_TRUE(f.params.empty());
  }
}

TEST(RunOrderByTest, MetricRanksRealThenNanThenMissing) {
  SqlFragment f = RunOrderOk({"metrics.acc DESC"});
  EXPECT_EQ(f.sql,
            " LEFT JOIN latest_metrics k0 ON k0.run_uuid = r.run_uuid AND k0.key = ?"
            "COALESCE(k0.is_nan, 2) ASC, k0.value DESC, r.start_time DESC, r.run_uuid ASC");
  EXPECT_EQ(Describe(f.params), Describe(V{S("acc")}));
}

TEST(RunOrderByTest, ParamsAndTagsSortMissingLast) {
  SqlFragment f = RunOrderOk({"params.p", "tags.t DESC"});
  EXPECT_EQ(f.sql,
            " LEFT JOIN params k0 ON k0.run_uuid = r.run_uuid AND k0.key = ?"
            " LEFT JOIN tags k1 ON k1.run_uuid = r.run_uuid AND k1.key = ?"
            "CASE WHEN k0.run_uuid IS NULL THEN 1 ELSE 0 END ASC, k0.value ASC, "
            "CASE WHEN k1.run_uuid IS NULL THEN 1 ELSE 0 END ASC, k1.value DESC, "
            "r.start_time DESC, r.run_uuid ASC");
  SqlFragment pg = RunOrderOk({"params.p"}, Backend::kPostgres);
  EXPECT_NE(pg.sql.find("k0.value COLLATE \"C\" ASC"), std::string::npos) << pg.sql;
}

// The filter and the order_by share one join per (table, key): a search
// over N runs probes each key once per run, not once per mention.
TEST(RunOrderByTest, FilterAndOrderShareOneJoinPerKey) {
  Result<RunSearchSql> q = CompileRunSearch(
      "metrics.acc > 0.5 AND metrics.acc < 0.9 AND params.acc = 'x'",
      std::vector<std::string>{"metrics.acc DESC", "params.acc"}, Backend::kSqlite);
  ASSERT_TRUE(q.has_value()) << q.error().message();
  EXPECT_EQ(q->joins.sql,
            " LEFT JOIN latest_metrics k0 ON k0.run_uuid = r.run_uuid AND k0.key = ?"
            " LEFT JOIN params k1 ON k1.run_uuid = r.run_uuid AND k1.key = ?");
  EXPECT_EQ(Describe(q->joins.params), Describe(V{S("acc"), S("acc")}));
  EXPECT_EQ(q->order_by.sql,
            "COALESCE(k0.is_nan, 2) ASC, k0.value DESC, "
            "CASE WHEN k1.run_uuid IS NULL THEN 1 ELSE 0 END ASC, k1.value ASC, "
            "r.start_time DESC, r.run_uuid ASC");
  EXPECT_TRUE(q->order_by.params.empty());
}

TEST(RunOrderByTest, Attributes) {
  EXPECT_EQ(RunOrderOk({"start_time ASC"}).sql, "r.start_time ASC, r.run_uuid ASC");
  EXPECT_EQ(RunOrderOk({"attributes.created DESC"}).sql, "r.start_time DESC, r.run_uuid ASC");
  EXPECT_EQ(RunOrderOk({"attributes.Created"}).sql, "r.start_time ASC, r.run_uuid ASC");
  EXPECT_EQ(RunOrderOk({"attribute.end_time"}).sql,
            "CASE WHEN r.end_time IS NULL THEN 1 ELSE 0 END ASC, r.end_time ASC, "
            "r.start_time DESC, r.run_uuid ASC");
  EXPECT_EQ(RunOrderOk({"attributes.run_name desc"}).sql,
            "r.name DESC, r.start_time DESC, r.run_uuid ASC");
  EXPECT_EQ(RunOrderOk({"attributes.run_name desc"}, Backend::kPostgres).sql,
            "r.name COLLATE \"C\" DESC, r.start_time DESC, r.run_uuid ASC");
  EXPECT_EQ(RunOrderOk({"run.status", "attr.user_id DESC", "run_id", "artifact_uri"}).sql,
            "r.status ASC, r.user_id DESC, r.run_uuid ASC, r.artifact_uri ASC, "
            "r.start_time DESC, r.run_uuid ASC");
}

TEST(RunOrderByTest, QuotedKeysAndDirections) {
  SqlFragment f =
      RunOrderOk({"metrics.`Mean Square Error` ASC", "metrics.\"key1\"  desc",
                  "params.my_param aSc", "params.`my param2` DESC ", " tags.mlflow.runName"});
  EXPECT_EQ(Describe(f.params),
            Describe(V{S("Mean Square Error"), S("key1"), S("my_param"), S("my param2"),
                       S("mlflow.runName")}));
}

TEST(RunOrderByTest, Errors) {
  EXPECT_NE(RunOrderError({"m.acc"}).find("Invalid entity type 'm'"), std::string::npos);
  EXPECT_NE(RunOrderError({"acc"}).find("Invalid attribute key 'acc'"), std::string::npos);
  EXPECT_NE(RunOrderError({"attri.x"}).find("Invalid entity type 'attri'"), std::string::npos);
  EXPECT_NE(RunOrderError({"`metrics.A"})
                .find("Error on parsing order_by clause '`metrics.A': "
                      "unterminated name starting at position 0"),
            std::string::npos);
  EXPECT_NE(RunOrderError({"`metrics.A`"}).find("Invalid attribute key 'metrics.A'"),
            std::string::npos);
  EXPECT_NE(RunOrderError({"attribute.start"}).find("Invalid attribute key 'start'"),
            std::string::npos);
  EXPECT_NE(RunOrderError({"attribute.experiment_id"}).find("Invalid attribute key"),
            std::string::npos);
  EXPECT_NE(RunOrderError({"attributes.`run name`"}).find("Invalid attribute key 'run name'"),
            std::string::npos);
  EXPECT_NE(RunOrderError({"metrics.A != 1"})
                .find("unexpected token '!=' at position 10; "
                      "expected ASC, DESC or the end of the clause"),
            std::string::npos);
  EXPECT_NE(RunOrderError({"attribute.run_id ACS"}).find("Invalid ordering key 'ACS'"),
            std::string::npos);
  EXPECT_NE(RunOrderError({"attribute.run_id decs"}).find("Invalid ordering key 'decs'"),
            std::string::npos);
  EXPECT_NE(RunOrderError({"metrics.a DESC extra"}).find("unexpected token 'extra'"),
            std::string::npos);
  EXPECT_NE(RunOrderError({""}).find("unexpected end of input at position 0"), std::string::npos);
  EXPECT_NE(RunOrderError({"datasets.name"}).find("Invalid order_by entity type 'dataset'"),
            std::string::npos);
  EXPECT_NE(RunOrderError({"metrics.a", "metrics.a DESC"}).find("duplicate fields"),
            std::string::npos);
  EXPECT_NE(RunOrderError({"start_time", "created DESC"}).find("duplicate fields"),
            std::string::npos);
  EXPECT_NE(RunOrderError({"params.a", "param.a"}).find("duplicate fields"), std::string::npos);
  // Same key under different entity types is fine.
  RunOrderOk({"params.a", "tags.a", "metrics.a"});
  std::vector<std::string> many(101, "metrics.a");
  EXPECT_NE(RunOrderError(many).find("more than 100"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Experiments.

SqlFragment ExperimentFilterOk(std::string_view filter, Backend backend = Backend::kSqlite) {
  Result<SqlFragment> r = CompileExperimentFilter(filter, backend);
  EXPECT_TRUE(r.has_value()) << filter << ": " << r.error().message();
  if (!r) return {};
  ExpectParameterized(*r);
  return *r;
}

std::string ExperimentFilterError(std::string_view filter) {
  Result<SqlFragment> r = CompileExperimentFilter(filter, Backend::kSqlite);
  EXPECT_FALSE(r.has_value()) << filter << " compiled to " << r->sql;
  if (r) return "";
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidParameterValue);
  return r.error().message();
}

TEST(ExperimentFilterTest, ValidForms) {
  EXPECT_EQ(ExperimentFilterOk("name = 'a'").sql, "(e.name = ?)");
  EXPECT_EQ(ExperimentFilterOk("attribute.name = 'a'").sql, "(e.name = ?)");
  EXPECT_EQ(ExperimentFilterOk("attribute.`name` != 'a'").sql, "(e.name <> ?)");
  EXPECT_EQ(ExperimentFilterOk("name LIKE 'a%'").sql, "(e.name LIKE ?)");
  EXPECT_EQ(ExperimentFilterOk("name like 'a%'", Backend::kPostgres).sql,
            "(e.name LIKE ? ESCAPE '')");
  EXPECT_EQ(ExperimentFilterOk("name ILIKE 'a%' AND name ILIKE '%b'").sql,
            "(LOWER(e.name) LIKE LOWER(?) AND LOWER(e.name) LIKE LOWER(?))");
  EXPECT_EQ(ExperimentFilterOk("creation_time >= 123").sql, "(e.creation_time >= ?)");
  EXPECT_EQ(ExperimentFilterOk("attribute.last_update_time < 5.5").sql,
            "(e.last_update_time < CAST(? AS DOUBLE PRECISION))");
  SqlFragment f = ExperimentFilterOk("tag.key1 = 'val1'");
  EXPECT_EQ(f.sql,
            "(EXISTS (SELECT 1 FROM experiment_tags t0 WHERE t0.experiment_id = e.experiment_id "
            "AND t0.key = ? AND t0.value = ?))");
  EXPECT_EQ(Describe(f.params), Describe(V{S("key1"), S("val1")}));
  f = ExperimentFilterOk("tag.`k e y 1` = 'val1' and tags.\"k.2\" ILIKE '%Lue'");
  EXPECT_EQ(Describe(f.params), Describe(V{S("k e y 1"), S("val1"), S("k.2"), S("%Lue")}));
  EXPECT_EQ(ExperimentFilterOk("  ").sql, "");
}

TEST(ExperimentFilterTest, Errors) {
  EXPECT_NE(ExperimentFilterError("attributes.name = 'a'")
                .find("Invalid entity type 'attributes'. Valid entity types are ('attribute', "
                      "'tag', 'tags')"),
            std::string::npos);
  EXPECT_NE(ExperimentFilterError("params.a = 'b'").find("Invalid entity type 'params'"),
            std::string::npos);
  EXPECT_NE(ExperimentFilterError("experiment_id = '1'").find("Invalid attribute key"),
            std::string::npos);
  EXPECT_NE(ExperimentFilterError("lifecycle_stage = 'active'").find("Invalid attribute key"),
            std::string::npos);
  EXPECT_NE(ExperimentFilterError("name > 'a'").find("Invalid comparator '>'"), std::string::npos);
  EXPECT_NE(ExperimentFilterError("name IN ('a')").find("Invalid comparator 'IN'"),
            std::string::npos);
  EXPECT_NE(ExperimentFilterError("creation_time LIKE 1").find("Invalid comparator 'LIKE'"),
            std::string::npos);
  EXPECT_NE(ExperimentFilterError("creation_time = 'x'").find("Expected numeric value type"),
            std::string::npos);
  EXPECT_NE(ExperimentFilterError("name = 1").find("Expected a quoted string value"),
            std::string::npos);
  EXPECT_NE(ExperimentFilterError("tags.a > 'b'").find("Invalid comparator '>' for tag 'a'"),
            std::string::npos);
  EXPECT_NE(ExperimentFilterError("name = 'a' OR name = 'b'").find("unexpected token 'OR'"),
            std::string::npos);
}

TEST(ExperimentOrderByTest, DefaultAndTieBreaker) {
  std::vector<std::string> none;
  EXPECT_EQ(CompileExperimentOrderBy(none, Backend::kSqlite)->sql,
            "e.creation_time DESC, e.experiment_id ASC");
  std::vector<std::string> by_name = {"name"};
  EXPECT_EQ(CompileExperimentOrderBy(by_name, Backend::kSqlite)->sql,
            "e.name ASC, e.experiment_id DESC");
  std::vector<std::string> by_name_desc = {"attribute.name DESC"};
  EXPECT_EQ(CompileExperimentOrderBy(by_name_desc, Backend::kPostgres)->sql,
            "e.name COLLATE \"C\" DESC, e.experiment_id DESC");
  std::vector<std::string> by_id = {"experiment_id DESC"};
  EXPECT_EQ(CompileExperimentOrderBy(by_id, Backend::kSqlite)->sql, "e.experiment_id DESC");
  std::vector<std::string> two = {"last_update_time", "creation_time desc"};
  EXPECT_EQ(CompileExperimentOrderBy(two, Backend::kSqlite)->sql,
            "e.last_update_time ASC, e.creation_time DESC, e.experiment_id DESC");
}

TEST(ExperimentOrderByTest, Errors) {
  auto error = [](std::vector<std::string> order_by) {
    Result<SqlFragment> r = CompileExperimentOrderBy(order_by, Backend::kSqlite);
    EXPECT_FALSE(r.has_value());
    return r ? std::string() : r.error().message();
  };
  EXPECT_NE(error({"tags.a"}).find("Invalid order_by entity: tag"), std::string::npos);
  EXPECT_NE(error({"foo"}).find("Invalid attribute key 'foo'"), std::string::npos);
  EXPECT_NE(error({"name ASC DESC"}).find("unexpected token 'DESC'"), std::string::npos);
  EXPECT_NE(error({"name sideways"}).find("Invalid ordering key 'sideways'"), std::string::npos);
}

TEST(BindParamsTest, ViewsOwnedValues) {
  std::vector<SqlValue> values = {nullptr, int64_t{7}, 2.5, std::string("text")};
  std::vector<sql::Param> params = BindParams(values);
  ASSERT_EQ(params.size(), 4u);
  EXPECT_TRUE(std::holds_alternative<std::nullptr_t>(params[0]));
  EXPECT_EQ(std::get<int64_t>(params[1]), 7);
  EXPECT_EQ(std::get<double>(params[2]), 2.5);
  EXPECT_EQ(std::get<std::string_view>(params[3]).data(), std::get<std::string>(values[3]).data());
}

// ---------------------------------------------------------------------------
// Execution: the compiled SQL against real databases, on both backends.
//
// One seeded database per backend per process (ctest runs each test in its own
// process): SQLite in a temp dir; PostgreSQL as a fresh database sf_<random>
// on the server named by MLFORGE_TEST_PG_URI, dropped at exit.

struct SharedDatabase {
  std::unique_ptr<sql::testing::ScratchDatabase> scratch;
  std::unique_ptr<sql::Database> db;
};

std::map<Backend, SharedDatabase>& SharedDatabases() {
  static auto* databases = new std::map<Backend, SharedDatabase>();
  return *databases;
}

class DropSharedDatabases : public ::testing::Environment {
 public:
  void TearDown() override { SharedDatabases().clear(); }
};

[[maybe_unused]] ::testing::Environment* const kDropSharedDatabases =
    ::testing::AddGlobalTestEnvironment(new DropSharedDatabases);

Status Exec(sql::Connection& c, std::string_view statement, std::vector<SqlValue> values) {
  std::vector<sql::Param> params = BindParams(values);
  Result<int64_t> r = c.Execute(statement, params);
  return r ? Status::Ok() : r.error();
}

// The fixture data. Default order (start_time DESC, run_uuid ASC):
// r3, r4 (both 3000), r2, r1, r5.
Status Seed(sql::Database& db) {
  return db.Transact(sql::TxMode::kWrite, [](sql::Connection& c) -> Status {
    const char* experiment =
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
        "creation_time, last_update_time) VALUES (?, ?, 'loc', 'active', ?, ?)";
    RETURN_IF_ERROR(Exec(c, experiment, {int64_t{1}, S("exp"), int64_t{100}, int64_t{100}}));
    RETURN_IF_ERROR(Exec(c, experiment, {int64_t{2}, S("Alpha"), int64_t{200}, int64_t{900}}));
    RETURN_IF_ERROR(Exec(c, experiment, {int64_t{3}, S("alpha-2"), int64_t{200}, int64_t{300}}));
    RETURN_IF_ERROR(Exec(c, experiment, {int64_t{4}, S("beta"), int64_t{50}, int64_t{50}}));
    const char* experiment_tag =
        "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)";
    RETURN_IF_ERROR(Exec(c, experiment_tag, {int64_t{2}, S("k e y"), S("Value1")}));
    RETURN_IF_ERROR(Exec(c, experiment_tag, {int64_t{3}, S("k e y"), S("value2")}));
    RETURN_IF_ERROR(Exec(c, experiment_tag, {int64_t{4}, S("team"), S("ml")}));

    const char* run =
        "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, end_time, "
        "artifact_uri) VALUES (?, 1, ?, ?, ?, ?, ?, ?)";
    struct RunRow {
      const char* id;
      const char* name;
      const char* user;
      const char* status;
      int64_t start;
      SqlValue end;
    };
    const RunRow runs[] = {
        {"r1", "alpha", "alice", "FINISHED", 1000, int64_t{2000}},
        {"r2", "Beta", "bob", "FAILED", 2000, nullptr},
        {"r3", "gamma", "alice", "RUNNING", 3000, int64_t{3500}},
        {"r4", "ALPHA-2", "carol", "FINISHED", 3000, nullptr},
        {"r5", "delta_x", "bob", "KILLED", 500, int64_t{600}},
    };
    for (const RunRow& r : runs) {
      RETURN_IF_ERROR(Exec(c, run,
                           {S(r.id), S(r.name), S(r.user), S(r.status), r.start, r.end,
                            "s3://b/1/" + S(r.id) + "/artifacts"}));
    }

    // NaN is stored as 0 with is_nan = 1 (SQLite cannot hold NaN).
    const char* metric =
        "INSERT INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan, series_id) "
        "VALUES (?, ?, ?, 0, 0, ?, ?)";
    struct MetricRow {
      const char* run;
      const char* key;
      double value;
      int64_t is_nan;
    };
    const MetricRow metrics[] = {
        {"r1", "acc", 0.9, 0},  {"r2", "acc", 0, 1},    {"r3", "acc", 0.5, 0},
        {"r5", "acc", -1, 0},   {"r1", "loss", 0.1, 0}, {"r2", "loss", 0.2, 0},
        {"r3", "loss", 0.2, 0}, {"r4", "loss", 0.3, 0}, {"r3", "my metric", 5, 0},
    };
    int64_t series_id = 0;
    for (const MetricRow& m : metrics) {
      RETURN_IF_ERROR(Exec(c, metric, {S(m.run), S(m.key), m.value, m.is_nan, ++series_id}));
    }

    const char* param = "INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)";
    RETURN_IF_ERROR(Exec(c, param, {S("r1"), S("model"), S("LinearRegression")}));
    RETURN_IF_ERROR(Exec(c, param, {S("r2"), S("model"), S("lr")}));
    RETURN_IF_ERROR(Exec(c, param, {S("r3"), S("model"), S("Tree")}));
    RETURN_IF_ERROR(Exec(c, param, {S("r4"), S("model"), S("LR'x")}));
    RETURN_IF_ERROR(Exec(c, param, {S("r1"), S("a b"), S("1")}));

    const char* tag = "INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?)";
    RETURN_IF_ERROR(Exec(c, tag, {S("r1"), S("mlflow.source.type"), S("NOTEBOOK")}));
    RETURN_IF_ERROR(Exec(c, tag, {S("r2"), S("mlflow.source.type"), S("JOB")}));
    RETURN_IF_ERROR(Exec(c, tag, {S("r3"), S("mlflow.source.type"), S("notebook")}));
    RETURN_IF_ERROR(Exec(c, tag, {S("r2"), S("team"), S("ml")}));
    RETURN_IF_ERROR(Exec(c, tag, {S("r4"), S("team"), S("ML")}));
    RETURN_IF_ERROR(Exec(c, tag, {S("r5"), S("team"), S("data")}));

    const char* dataset =
        "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source) "
        "VALUES (?, 1, ?, ?, 'local', 'src')";
    RETURN_IF_ERROR(Exec(c, dataset, {S("ds1"), S("train_set"), S("d111")}));
    RETURN_IF_ERROR(Exec(c, dataset, {S("ds2"), S("Eval_Set"), S("d222")}));
    const char* input = "INSERT INTO run_inputs (run_uuid, dataset_uuid) VALUES (?, ?)";
    RETURN_IF_ERROR(Exec(c, input, {S("r1"), S("ds1")}));
    RETURN_IF_ERROR(Exec(c, input, {S("r1"), S("ds2")}));
    RETURN_IF_ERROR(Exec(c, input, {S("r2"), S("ds1")}));
    RETURN_IF_ERROR(Exec(c, input, {S("r3"), S("ds2")}));
    const char* input_tag =
        "INSERT INTO run_input_tags (run_uuid, dataset_uuid, key, value) VALUES (?, ?, ?, ?)";
    RETURN_IF_ERROR(
        Exec(c, input_tag, {S("r1"), S("ds1"), S("mlflow.data.context"), S("training")}));
    RETURN_IF_ERROR(Exec(c, input_tag, {S("r1"), S("ds2"), S("mlflow.data.context"), S("eval")}));
    RETURN_IF_ERROR(
        Exec(c, input_tag, {S("r2"), S("ds1"), S("mlflow.data.context"), S("Training")}));
    RETURN_IF_ERROR(Exec(c, input_tag, {S("r3"), S("ds2"), S("other"), S("training")}));
    return Status::Ok();
  });
}

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

class SearchExecutionTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto& databases = SharedDatabases();
    if (auto it = databases.find(GetParam()); it != databases.end()) {
      db_ = it->second.db.get();
      return;
    }
    if (GetParam() == Backend::kPostgres && sql::testing::PgOptedOut()) {
      GTEST_SKIP() << "PostgreSQL tests disabled by MLFORGE_TEST_PG=off";
    }
    SharedDatabase shared;
    auto scratch = sql::testing::ScratchDatabase::Create(GetParam());
    ASSERT_TRUE(scratch.has_value()) << scratch.error().ToString();
    shared.scratch = std::move(*scratch);
    sql::DatabaseOptions options;
    options.pool_size = 2;  // ctest runs many of these processes at once
    Result<std::unique_ptr<sql::Database>> db = shared.scratch->Open(options);
    if (!db) {
      std::string uri = sql::RedactUri(shared.scratch->uri());
      databases.emplace(GetParam(), std::move(shared));  // so the environment cleans up
      FAIL() << "cannot open " << uri << ": " << db.error().ToString();
    }
    shared.db = std::move(*db);
    db_ = shared.db.get();
    databases.emplace(GetParam(), std::move(shared));
    Status migrated = db_->Migrate("tracking", TrackingMigrations());
    ASSERT_TRUE(migrated.ok()) << migrated.ToString();
    Status seeded = Seed(*db_);
    ASSERT_TRUE(seeded.ok()) << seeded.ToString();
  }

  Backend backend() const { return GetParam(); }

  // Runs `SELECT r.run_uuid FROM runs r WHERE <filter> ORDER BY <order_by>`.
  std::vector<std::string> Runs(std::string_view filter, std::vector<std::string> order_by = {}) {
    Result<RunSearchSql> q = CompileRunSearch(filter, order_by, backend());
    EXPECT_TRUE(q.has_value()) << filter << ": " << q.error().message();
    if (!q) return {"<compile error>"};
    std::string statement = "SELECT r.run_uuid FROM runs r" + q->joins.sql;
    if (!q->where.sql.empty()) statement += " WHERE " + q->where.sql;
    statement += " ORDER BY " + q->order_by.sql;
    std::vector<SqlValue> params = q->joins.params;
    params.insert(params.end(), q->where.params.begin(), q->where.params.end());
    return Select(statement, params, q->order_by.params);
  }

  std::vector<std::string> Experiments(std::string_view filter,
                                       std::vector<std::string> order_by = {}) {
    Result<SqlFragment> where = CompileExperimentFilter(filter, backend());
    EXPECT_TRUE(where.has_value()) << filter << ": " << where.error().message();
    Result<SqlFragment> order = CompileExperimentOrderBy(order_by, backend());
    EXPECT_TRUE(order.has_value()) << order.error().message();
    if (!where || !order) return {"<compile error>"};
    std::string statement = "SELECT CAST(e.experiment_id AS TEXT) FROM experiments e";
    if (!where->sql.empty()) statement += " WHERE " + where->sql;
    statement += " ORDER BY " + order->sql;
    return Select(statement, where->params, order->params);
  }

  std::vector<std::string> Select(const std::string& statement, std::vector<SqlValue> values,
                                  const std::vector<SqlValue>& more) {
    values.insert(values.end(), more.begin(), more.end());
    std::vector<sql::Param> params = BindParams(values);
    std::vector<std::string> ids;
    Status s = db_->Transact(sql::TxMode::kRead, [&](sql::Connection& c) {
      ids.clear();
      return c.Query(statement, params,
                     [&](const sql::Row& row) { ids.emplace_back(row.GetText(0)); });
    });
    EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << statement;
    return ids;
  }

  sql::Database* db_ = nullptr;
};

using Ids = std::vector<std::string>;

TEST_P(SearchExecutionTest, MetricComparisonsSkipNanExceptNotEqual) {
  EXPECT_EQ(Runs(""), (Ids{"r3", "r4", "r2", "r1", "r5"}));
  EXPECT_EQ(Runs("metrics.acc > 0"), (Ids{"r3", "r1"}));
  EXPECT_EQ(Runs("metrics.acc <= 0"), (Ids{"r5"}));  // r2's NaN is stored as 0
  EXPECT_EQ(Runs("metrics.acc = 0"), (Ids{}));
  EXPECT_EQ(Runs("metrics.acc != 0.9"), (Ids{"r3", "r2", "r5"}));
  EXPECT_EQ(Runs("metrics.acc = 0.9"), (Ids{"r1"}));
  EXPECT_EQ(Runs("metrics.acc >= -1 AND metrics.loss < 0.25"), (Ids{"r3", "r1"}));
  EXPECT_EQ(Runs("metrics.`my metric` >= 5"), (Ids{"r3"}));
  EXPECT_EQ(Runs("metrics.nosuch != 1"), (Ids{}));
}

TEST_P(SearchExecutionTest, ParamsAndTags) {
  EXPECT_EQ(Runs("params.model = 'lr'"), (Ids{"r2"}));
  EXPECT_EQ(Runs("params.model != 'lr'"), (Ids{"r3", "r4", "r1"}));  // r5 has no param
  EXPECT_EQ(Runs("params.model = \"LR'x\""), (Ids{"r4"}));
  EXPECT_EQ(Runs("params.`a b` = '1'"), (Ids{"r1"}));
  EXPECT_EQ(Runs("params.\"a b\" = '1' AND params.model LIKE 'Lin%'"), (Ids{"r1"}));
  EXPECT_EQ(Runs("tags.mlflow.source.type = 'NOTEBOOK'"), (Ids{"r1"}));
  EXPECT_EQ(Runs("tags.`mlflow.source.type` != 'NOTEBOOK'"), (Ids{"r3", "r2"}));
  EXPECT_EQ(Runs("tags.team = 'ml' AND params.model = 'lr'"), (Ids{"r2"}));
}

TEST_P(SearchExecutionTest, LikeIsCaseSensitiveIlikeIsNot) {
  EXPECT_EQ(Runs("params.model LIKE 'L%'"), (Ids{"r4", "r1"}));
  EXPECT_EQ(Runs("params.model ILIKE 'l%'"), (Ids{"r4", "r2", "r1"}));
  EXPECT_EQ(Runs("tags.mlflow.source.type LIKE 'note%'"), (Ids{"r3"}));
  EXPECT_EQ(Runs("tags.mlflow.source.type ILIKE 'NOTE%'"), (Ids{"r3", "r1"}));
  EXPECT_EQ(Runs("tags.team LIKE 'm%'"), (Ids{"r2"}));
  EXPECT_EQ(Runs("tags.team ILIKE 'M_'"), (Ids{"r4", "r2"}));
  EXPECT_EQ(Runs("run_name LIKE 'alpha%'"), (Ids{"r1"}));
  EXPECT_EQ(Runs("run_name LIKE 'ALPHA%'"), (Ids{"r4"}));
  EXPECT_EQ(Runs("attributes.run_name ILIKE 'alpha%'"), (Ids{"r4", "r1"}));
  EXPECT_EQ(Runs("status LIKE 'f%'"), (Ids{}));
  EXPECT_EQ(Runs("status ILIKE 'f%'"), (Ids{"r4", "r2", "r1"}));
  // '_' is a wildcard; '\' is an ordinary character on both backends.
  EXPECT_EQ(Runs("run_name LIKE 'delta_x'"), (Ids{"r5"}));
  EXPECT_EQ(Runs("run_name LIKE 'delta-x'"), (Ids{}));
  EXPECT_EQ(Runs("run_name LIKE 'delta\\_x'"), (Ids{}));
  EXPECT_EQ(Runs("run_name ILIKE 'DELTA\\_X'"), (Ids{}));
}

TEST_P(SearchExecutionTest, StringAttributes) {
  EXPECT_EQ(Runs("attributes.status = 'FINISHED'"), (Ids{"r4", "r1"}));
  EXPECT_EQ(Runs("status != 'FINISHED'"), (Ids{"r3", "r2", "r5"}));
  EXPECT_EQ(Runs("attributes.`Run Name` = 'Beta'"), (Ids{"r2"}));
  EXPECT_EQ(Runs("run.user_id = 'alice'"), (Ids{"r3", "r1"}));
  EXPECT_EQ(Runs("artifact_uri LIKE '%/r5/%'"), (Ids{"r5"}));
}

TEST_P(SearchExecutionTest, RunIdInAndNotIn) {
  EXPECT_EQ(Runs("run_id IN ('r1', 'r3', 'nope')"), (Ids{"r3", "r1"}));
  EXPECT_EQ(Runs("attributes.run_id NOT IN ('r1','r3')"), (Ids{"r4", "r2", "r5"}));
  EXPECT_EQ(Runs("attributes.run_id = 'r2'"), (Ids{"r2"}));
  EXPECT_EQ(Runs("run_id in ('R2')"), (Ids{}));
  EXPECT_EQ(Runs("run_id IN ('r1', 'r2', 'r4')"), (Ids{"r4", "r2", "r1"}));  // padded to 4
  EXPECT_EQ(Runs("run_id NOT IN ('r1', 'r2', 'r4')"), (Ids{"r3", "r5"}));
  EXPECT_EQ(Runs("run_id IN ('r2') AND run_name = 'Beta'"), (Ids{"r2"}));
}

TEST_P(SearchExecutionTest, NumericAttributes) {
  EXPECT_EQ(Runs("start_time >= 2000"), (Ids{"r3", "r4", "r2"}));
  EXPECT_EQ(Runs("attributes.created < 1000"), (Ids{"r5"}));
  EXPECT_EQ(Runs("attributes.Created = 3000"), (Ids{"r3", "r4"}));
  EXPECT_EQ(Runs("start_time > 2999.5"), (Ids{"r3", "r4"}));
  EXPECT_EQ(Runs("start_time = 3000.0"), (Ids{"r3", "r4"}));
  EXPECT_EQ(Runs("start_time > -1e3 AND start_time < 1e3"), (Ids{"r5"}));
  EXPECT_EQ(Runs("end_time > 1000"), (Ids{"r3", "r1"}));
  EXPECT_EQ(Runs("end_time != 2000"), (Ids{"r3", "r5"}));  // NULL end_time never matches
  EXPECT_EQ(Runs("end_time <= 600"), (Ids{"r5"}));
}

TEST_P(SearchExecutionTest, Datasets) {
  EXPECT_EQ(Runs("datasets.name = 'train_set'"), (Ids{"r2", "r1"}));
  EXPECT_EQ(Runs("dataset.name != 'train_set'"), (Ids{"r3", "r1"}));
  EXPECT_EQ(Runs("datasets.name LIKE 'eval%'"), (Ids{}));
  EXPECT_EQ(Runs("datasets.name ILIKE 'eval%'"), (Ids{"r3", "r1"}));
  EXPECT_EQ(Runs("datasets.digest IN ('d222')"), (Ids{"r3", "r1"}));
  EXPECT_EQ(Runs("datasets.digest NOT IN ('d111')"), (Ids{"r3", "r1"}));
  EXPECT_EQ(Runs("datasets.context = 'training'"), (Ids{"r1"}));  // r3's tag is not context
  EXPECT_EQ(Runs("datasets.context ILIKE 'training'"), (Ids{"r2", "r1"}));
  EXPECT_EQ(Runs("datasets.context IN ('eval', 'Training')"), (Ids{"r2", "r1"}));
  // Each comparison may match a different input of the run, as in MLflow.
  EXPECT_EQ(Runs("datasets.name = 'train_set' AND datasets.context = 'eval'"), (Ids{"r1"}));
}

TEST_P(SearchExecutionTest, InjectionAttemptsMatchNothingAndChangeNothing) {
  EXPECT_EQ(Runs("params.model = 'x'' OR 1=1 --'"), (Ids{}));
  EXPECT_EQ(Runs("metrics.`a; DROP TABLE runs` > 1"), (Ids{}));
  EXPECT_EQ(Runs("run_id IN ('r1'') OR 1=1 --')"), (Ids{}));
  EXPECT_EQ(Runs("tags.team = 'ml'' OR ''1''=''1'"), (Ids{}));
  EXPECT_EQ(Runs("", {"tags.`x; DELETE FROM runs` DESC"}), (Ids{"r3", "r4", "r2", "r1", "r5"}));
  EXPECT_EQ(Runs("").size(), 5u);
}

TEST_P(SearchExecutionTest, MetricOrderPutsNanThenMissingLastBothWays) {
  // acc: r1 0.9, r2 NaN, r3 0.5, r4 missing, r5 -1.
  EXPECT_EQ(Runs("", {"metrics.acc ASC"}), (Ids{"r5", "r3", "r1", "r2", "r4"}));
  EXPECT_EQ(Runs("", {"metrics.acc"}), (Ids{"r5", "r3", "r1", "r2", "r4"}));
  EXPECT_EQ(Runs("", {"metrics.acc DESC"}), (Ids{"r1", "r3", "r5", "r2", "r4"}));
  // loss: r1 0.1, r2 0.2, r3 0.2, r4 0.3, r5 missing; ties by start_time DESC.
  EXPECT_EQ(Runs("", {"metrics.loss asc"}), (Ids{"r1", "r3", "r2", "r4", "r5"}));
  EXPECT_EQ(Runs("", {"metrics.loss desc"}), (Ids{"r4", "r3", "r2", "r1", "r5"}));
  EXPECT_EQ(Runs("", {"metrics.`my metric` DESC"}), (Ids{"r3", "r4", "r2", "r1", "r5"}));
  EXPECT_EQ(Runs("metrics.acc != 0.5", {"metrics.acc DESC"}), (Ids{"r1", "r5", "r2"}));
}

TEST_P(SearchExecutionTest, ParamTagAndAttributeOrderPutsMissingLastBothWays) {
  // Bytewise: "LR'x" < "LinearRegression" < "Tree" < "lr"; r5 has none.
  EXPECT_EQ(Runs("", {"params.model ASC"}), (Ids{"r4", "r1", "r3", "r2", "r5"}));
  EXPECT_EQ(Runs("", {"params.model DESC"}), (Ids{"r2", "r3", "r1", "r4", "r5"}));
  // team: r2 ml, r4 ML, r5 data; r1 and r3 missing (then start_time DESC).
  EXPECT_EQ(Runs("", {"tags.team"}), (Ids{"r4", "r5", "r2", "r3", "r1"}));
  EXPECT_EQ(Runs("", {"tags.team DESC"}), (Ids{"r2", "r5", "r4", "r3", "r1"}));
  // end_time: r5 600, r1 2000, r3 3500; r4 and r2 NULL.
  EXPECT_EQ(Runs("", {"attributes.end_time ASC"}), (Ids{"r5", "r1", "r3", "r4", "r2"}));
  EXPECT_EQ(Runs("", {"end_time DESC"}), (Ids{"r3", "r1", "r5", "r4", "r2"}));
}

TEST_P(SearchExecutionTest, AttributeOrderAndTieBreakers) {
  // start_time given: no start_time DESC tie-breaker, run_uuid breaks the r3/r4 tie.
  EXPECT_EQ(Runs("", {"start_time ASC"}), (Ids{"r5", "r1", "r2", "r3", "r4"}));
  EXPECT_EQ(Runs("", {"attributes.created DESC"}), (Ids{"r3", "r4", "r2", "r1", "r5"}));
  EXPECT_EQ(Runs("", {"run_name"}), (Ids{"r4", "r2", "r1", "r5", "r3"}));
  EXPECT_EQ(Runs("", {"attributes.run_id DESC"}), (Ids{"r5", "r4", "r3", "r2", "r1"}));
  EXPECT_EQ(Runs("", {"status ASC", "metrics.acc DESC"}), (Ids{"r2", "r1", "r4", "r5", "r3"}));
  EXPECT_EQ(Runs("", {"user_id DESC"}), (Ids{"r4", "r2", "r5", "r3", "r1"}));
  EXPECT_EQ(Runs("status = 'FINISHED'", {"metrics.loss DESC"}), (Ids{"r4", "r1"}));
}

TEST_P(SearchExecutionTest, ExperimentFilters) {
  // Default order: creation_time DESC, experiment_id ASC.
  EXPECT_EQ(Experiments(""), (Ids{"2", "3", "1", "4"}));
  EXPECT_EQ(Experiments("name = 'Alpha'"), (Ids{"2"}));
  EXPECT_EQ(Experiments("attribute.name != 'exp'"), (Ids{"2", "3", "4"}));
  EXPECT_EQ(Experiments("name LIKE 'alpha%'"), (Ids{"3"}));
  EXPECT_EQ(Experiments("name ILIKE 'alpha%'"), (Ids{"2", "3"}));
  EXPECT_EQ(Experiments("creation_time >= 100"), (Ids{"2", "3", "1"}));
  EXPECT_EQ(Experiments("last_update_time < 300.5"), (Ids{"3", "1", "4"}));
  EXPECT_EQ(Experiments("tags.`k e y` ILIKE 'value%'"), (Ids{"2", "3"}));
  EXPECT_EQ(Experiments("tag.`k e y` LIKE 'value%'"), (Ids{"3"}));
  EXPECT_EQ(Experiments("tags.team = 'ml' AND name = 'beta'"), (Ids{"4"}));
  EXPECT_EQ(Experiments("tags.team = 'ml'' OR 1=1 --'"), (Ids{}));
}

TEST_P(SearchExecutionTest, ExperimentOrder) {
  EXPECT_EQ(Experiments("", {"name"}), (Ids{"2", "3", "4", "1"}));
  EXPECT_EQ(Experiments("", {"name DESC"}), (Ids{"1", "4", "3", "2"}));
  // Tie at creation_time 200: MLflow's experiment_id DESC tie-breaker.
  EXPECT_EQ(Experiments("", {"creation_time"}), (Ids{"4", "1", "3", "2"}));
  EXPECT_EQ(Experiments("", {"creation_time DESC", "experiment_id ASC"}),
            (Ids{"2", "3", "1", "4"}));
  EXPECT_EQ(Experiments("", {"attribute.last_update_time DESC"}), (Ids{"2", "3", "1", "4"}));
  EXPECT_EQ(Experiments("", {"experiment_id"}), (Ids{"1", "2", "3", "4"}));
}

INSTANTIATE_TEST_SUITE_P(Backends, SearchExecutionTest, ::testing::ValuesIn(kBackends),
                         BackendName);

}  // namespace
}  // namespace mlforge::tracking

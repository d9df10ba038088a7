// `mlforge drift` end to end: the real binary on the fixture CSVs, its exit
// codes, summary, JSON and HTML files, and its messages on bad input.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "base/json.h"
#include "integration/server_process.h"
#include "support/temp_dir.h"

namespace mlforge::testing {
namespace {

namespace fs = std::filesystem;

CommandResult Drift(const fs::path& dir, const std::string& args) {
  return RunMlforge(dir, "drift " + args);
}

std::string Fixture(const std::string& name) {
  return std::string(MLFORGE_SOURCE_DIR) + "/tests/monitor/fixtures/" + name;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(DriftCli, ReportsDriftWithSummaryJsonAndHtml) {
  TempDir dir;
  CommandResult r = Drift(dir.path(), "--reference '" + Fixture("ref.csv") + "' --current '" + Fixture("cur.csv") +
                                          "' --json out.json --html out.html");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("DATASET DRIFT: 3 of 6 features drifted"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("unseen_categories"), std::string::npos) << r.output;
  auto report = json::Parse(ReadFile(dir.path() / "out.json"));
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->Find("summary")->Find("features_drifted")->as_int64(), 3);
  EXPECT_EQ(report->Find("columns")->items().size(), 6u);
  std::string html = ReadFile(dir.path() / "out.html");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);

  // For CI: the same run fails when asked to.
  CommandResult ci = Drift(dir.path(), "--reference '" + Fixture("ref.csv") + "' --current '" + Fixture("cur.csv") +
                                           "' --fail-on-drift -q");
  EXPECT_EQ(ci.exit_code, 3) << ci.output;
  EXPECT_EQ(ci.output, "");
}

TEST(DriftCli, ColumnsTargetAndMethodOptions) {
  TempDir dir;
  CommandResult r = Drift(dir.path(), "--reference '" + Fixture("ref.csv") + "' --current '" + Fixture("cur.csv") +
                                          "' --columns income,city --target age --method psi --threshold 0.2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("age (target)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("psi"), std::string::npos);
  EXPECT_EQ(r.output.find("member"), std::string::npos);
  EXPECT_NE(r.output.find("of 2 features"), std::string::npos) << r.output;
}

TEST(DriftCli, BadInputNamesFileLineAndColumn) {
  TempDir dir;
  std::ofstream(dir.path() / "ref.csv") << "a,b\n1,x\n2,y\n3,z\n";
  std::ofstream(dir.path() / "ragged.csv") << "a,b\n1,x\n2\n";
  std::ofstream(dir.path() / "quote.csv") << "a,b\n1,x\n2,\"open\n";
  std::ofstream(dir.path() / "empty.csv") << "";

  CommandResult ragged = Drift(dir.path(), "--reference ref.csv --current ragged.csv");
  EXPECT_EQ(ragged.exit_code, 2);
  EXPECT_NE(ragged.output.find("ragged.csv:3: expected 2 fields"), std::string::npos) << ragged.output;

  CommandResult quote = Drift(dir.path(), "--reference ref.csv --current quote.csv");
  EXPECT_EQ(quote.exit_code, 2);
  EXPECT_NE(quote.output.find("quote.csv:3: column 'b': unterminated quoted field"), std::string::npos)
      << quote.output;

  CommandResult empty = Drift(dir.path(), "--reference ref.csv --current empty.csv");
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_NE(empty.output.find("empty.csv: empty file"), std::string::npos) << empty.output;

  CommandResult missing = Drift(dir.path(), "--reference ref.csv --current nope.csv");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("nope.csv"), std::string::npos) << missing.output;

  CommandResult column = Drift(dir.path(), "--reference ref.csv --current ref.csv --columns zz");
  EXPECT_EQ(column.exit_code, 2);
  EXPECT_NE(column.output.find("no column 'zz'"), std::string::npos) << column.output;

  CommandResult method = Drift(dir.path(), "--reference ref.csv --current ref.csv --method magic");
  EXPECT_EQ(method.exit_code, 2);
  EXPECT_NE(method.output.find("unknown drift method 'magic'"), std::string::npos) << method.output;

  CommandResult unwritable = Drift(dir.path(), "--reference ref.csv --current ref.csv --json /nonexistent/x.json");
  EXPECT_EQ(unwritable.exit_code, 1);
  EXPECT_NE(unwritable.output.find("cannot write /nonexistent/x.json"), std::string::npos) << unwritable.output;

  // Same data: no drift, exit 0 even with --fail-on-drift.
  CommandResult same = Drift(dir.path(), "--reference ref.csv --current ref.csv --fail-on-drift");
  EXPECT_EQ(same.exit_code, 0) << same.output;
  EXPECT_NE(same.output.find("no dataset drift"), std::string::npos) << same.output;
}

}  // namespace
}  // namespace mlforge::testing

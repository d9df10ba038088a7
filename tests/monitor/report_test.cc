// The report renderers: JSON that parses and carries every column, and one
// self-contained HTML page that fetches nothing and escapes what it shows.
#include <gtest/gtest.h>

#include "monitor/monitor.h"
#include "monitor/test_data.h"

namespace mlforge::monitor {
namespace {

DriftReport SampleReport() {
  testing::SplitMix rng(9);
  Table ref, cur;
  ref.rows = cur.rows = 800;
  Column x{.name = "<script>alert(1)</script>", .kind = ColumnKind::kNumeric};
  Column y = x;
  for (int i = 0; i < 800; ++i) {
    x.numbers.push_back(rng.Normal());
    y.numbers.push_back(rng.Normal() + 1);
  }
  Column c{.name = "city", .kind = ColumnKind::kCategorical, .dictionary = {"paris", "a&b"}};
  Column d = c;
  for (int i = 0; i < 800; ++i) {
    c.codes.push_back(i % 2);
    d.codes.push_back(i % 3 == 0 ? 1 : 0);
  }
  ref.columns = {x, c};
  cur.columns = {y, d};
  auto r = CompareTables(ref, cur);
  EXPECT_TRUE(r.has_value());
  return r ? *r : DriftReport{};
}

TEST(Report, JsonCarriesSummaryColumnsAndCharts) {
  DriftReport r = SampleReport();
  auto v = json::Parse(DriftReportToJson(r, {"ref.csv", "cur.csv"}));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->Find("format")->as_string(), "mlforge.drift_report");
  EXPECT_EQ(v->Find("reference")->Find("name")->as_string(), "ref.csv");
  EXPECT_EQ(v->Find("summary")->Find("features_drifted")->as_int64(), 2);
  const auto& cols = v->Find("columns")->items();
  ASSERT_EQ(cols.size(), 2u);
  EXPECT_EQ(cols[0].Find("method")->as_string(), "ks");
  EXPECT_EQ(cols[0].Find("effect_size")->Find("name")->as_string(), "ks_statistic");
  EXPECT_TRUE(cols[0].Find("p_value")->is_number());
  EXPECT_EQ(cols[0].Find("chart")->Find("edges")->items().size(), 31u);
  EXPECT_EQ(cols[1].Find("method")->as_string(), "z");
  EXPECT_EQ(cols[1].Find("chart")->Find("labels")->items().size(), 2u);
}

TEST(Report, HtmlIsSelfContainedAndEscaped) {
  std::string html = DriftReportToHtml(SampleReport(), {"ref.csv", "cur.csv"});
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("<style>"), std::string::npos);
  EXPECT_NE(html.find("Dataset drift"), std::string::npos);
  // Nothing from the network: no external scripts, styles, images or fonts.
  for (const char* bad : {"http://", "https://", "src=", "@import", "url(", "<link"}) {
    EXPECT_EQ(html.find(bad), std::string::npos) << bad;
  }
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("a&amp;b"), std::string::npos);
}

}  // namespace
}  // namespace mlforge::monitor

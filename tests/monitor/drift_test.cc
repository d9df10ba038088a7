// The drift report: the same numbers as scipy on a whole table, false alarms
// near the nominal level on no-drift data, detection of injected shifts, data
// quality findings, and profiles that agree with the raw path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "monitor/monitor.h"
#include "monitor/test_data.h"

namespace mlforge::monitor {
namespace {

using testing::Near;
using testing::SplitMix;

Column NumericColumn(std::string name, std::vector<double> v) {
  Column c;
  c.name = std::move(name);
  c.kind = ColumnKind::kNumeric;
  c.numbers = std::move(v);
  return c;
}

Column CategoricalColumn(std::string name, const std::vector<std::string>& values) {
  Column c;
  c.name = std::move(name);
  c.kind = ColumnKind::kCategorical;
  for (const std::string& v : values) {
    auto it = std::find(c.dictionary.begin(), c.dictionary.end(), v);
    if (it == c.dictionary.end()) {
      c.dictionary.push_back(v);
      it = c.dictionary.end() - 1;
    }
    c.codes.push_back(static_cast<uint32_t>(it - c.dictionary.begin()));
  }
  return c;
}

Table MakeTable(std::vector<Column> cols) {
  Table t;
  t.rows = static_cast<int64_t>(cols.front().size());
  t.columns = std::move(cols);
  return t;
}

std::vector<double> Normals(SplitMix& rng, size_t n, double mean = 0, double sd = 1) {
  std::vector<double> v(n);
  for (double& x : v) x = mean + sd * rng.Normal();
  return v;
}

std::vector<std::string> Categories(SplitMix& rng, size_t n, const std::vector<double>& shares,
                                    const std::vector<std::string>& names) {
  std::vector<std::string> out(n);
  for (std::string& s : out) {
    double u = rng.Uniform(), cum = 0;
    size_t k = 0;
    for (; k + 1 < shares.size(); ++k) {
      cum += shares[k];
      if (u < cum) break;
    }
    s = names[k];
  }
  return out;
}

const FeatureDrift& ColumnOf(const DriftReport& r, std::string_view name) {
  for (const FeatureDrift& f : r.columns) {
    if (f.column == name) return f;
  }
  ADD_FAILURE() << "no column " << name;
  static FeatureDrift none;
  return none;
}

TEST(CompareTables, WholeTableMatchesScipy) {
  json::Value fixture = testing::LoadFixture("table.json");
  ASSERT_TRUE(fixture.is_object());
  auto ref = ReadCsv(testing::FixturePath("ref.csv"));
  ASSERT_TRUE(ref.has_value()) << ref.error().message();
  CsvOptions cur_options;
  for (const Column& c : ref->columns) cur_options.kinds.emplace_back(c.name, c.kind);
  auto cur = ReadCsv(testing::FixturePath("cur.csv"), cur_options);
  ASSERT_TRUE(cur.has_value()) << cur.error().message();
  auto report = CompareTables(*ref, *cur);
  ASSERT_TRUE(report.has_value()) << report.error().message();
  const json::Value& expected = *fixture.Find("expected");
  ASSERT_EQ(report->columns.size(), expected.members().size());
  for (const auto& [name, e] : expected.members()) {
    SCOPED_TRACE(name);
    const FeatureDrift& f = ColumnOf(*report, name);
    EXPECT_EQ(f.reference.count, static_cast<uint64_t>(e.Find("ref_count")->as_int64()));
    EXPECT_EQ(f.current.count, static_cast<uint64_t>(e.Find("cur_count")->as_int64()));
    EXPECT_EQ(ColumnKindName(f.kind), e.Find("kind")->as_string());
    EXPECT_EQ(DriftMethodName(f.method), e.Find("method")->as_string());
    EXPECT_TRUE(Near(f.p_value, e.Find("p_value")->as_double(), 1e-9, 1e-300)) << f.p_value;
    EXPECT_TRUE(Near(f.adjusted_p_value, e.Find("adjusted_p_value")->as_double(), 1e-9, 1e-300));
    EXPECT_EQ(f.drifted, e.Find("drifted")->as_bool());
    const DriftStats& s = f.stats;
    EXPECT_TRUE(Near(s.psi, e.Find("psi")->as_double(), 1e-9));
    EXPECT_TRUE(Near(s.jensen_shannon, e.Find("jensen_shannon")->as_double(), 1e-9));
    EXPECT_TRUE(Near(s.hellinger, e.Find("hellinger")->as_double(), 1e-9, 1e-7));
    if (f.kind == ColumnKind::kNumeric) {
      EXPECT_TRUE(Near(s.ks_statistic, e.Find("ks_statistic")->as_double(), 1e-12));
      EXPECT_TRUE(Near(s.wasserstein, e.Find("wasserstein")->as_double(), 1e-9));
      EXPECT_TRUE(Near(s.wasserstein_normed, e.Find("wasserstein_normed")->as_double(), 1e-9));
      EXPECT_TRUE(Near(f.reference.mean, e.Find("mean")->as_double(), 1e-12));
      EXPECT_TRUE(Near(f.reference.std, e.Find("std")->as_double(), 1e-12));
      EXPECT_TRUE(Near(f.reference.median, e.Find("median")->as_double(), 1e-12));
      EXPECT_EQ(f.out_of_range, static_cast<uint64_t>(e.Find("out_of_range")->as_int64()));
      EXPECT_EQ(f.effect_size, s.ks_statistic);  // effect size beside the p-value
    } else {
      EXPECT_TRUE(Near(s.chi2_statistic, e.Find("chi2_statistic")->as_double(), 1e-10));
      EXPECT_TRUE(Near(s.chi2_p_value, e.Find("chi2_p_value")->as_double(), 1e-9, 1e-300));
      EXPECT_EQ(s.chi2_dof, e.Find("chi2_dof")->as_int64());
      EXPECT_EQ(f.unseen, static_cast<uint64_t>(e.Find("unseen")->as_int64()));
      EXPECT_FALSE(f.effect_size_name.empty());
      EXPECT_FALSE(std::isnan(f.effect_size));
    }
  }
  // The injected drifts (age mean, score range, a new city) and nothing else.
  EXPECT_EQ(report->features_drifted, 3);
  EXPECT_EQ(report->features_tested, 6);
  EXPECT_TRUE(report->dataset_drift);  // 3 of 6 is the default share of 0.5
  auto has_issue = [&](std::string_view col, std::string_view kind) {
    return std::any_of(report->quality.begin(), report->quality.end(),
                       [&](const QualityIssue& q) { return q.column == col && q.kind == kind; });
  };
  EXPECT_TRUE(has_issue("income", "missing_rate"));  // 2% -> 13%
  EXPECT_TRUE(has_issue("score", "out_of_range"));
  EXPECT_TRUE(has_issue("city", "unseen_categories"));
  EXPECT_FALSE(has_issue("age", "missing_rate"));
}

// --- false alarms on no-drift data -------------------------------------------

// 1000 seeded trials at alpha = 0.05: the rate must sit within 4 standard
// errors of alpha (binomial: sd = sqrt(0.05 * 0.95 / 1000) = 0.0069).
constexpr int kTrials = 1000;
constexpr double kAlpha = 0.05;
const double kTolerance = 4 * std::sqrt(kAlpha * (1 - kAlpha) / kTrials);

TEST(FalseAlarms, KsOnNoDriftDataNearAlpha) {
  SplitMix rng(42);
  int alarms = 0;
  for (int t = 0; t < kTrials; ++t) {
    std::vector<double> a = Normals(rng, 200), b = Normals(rng, 150);
    SortDoubles(a);
    SortDoubles(b);
    alarms += KsTwoSampleSorted(a, b).p_value < kAlpha;
  }
  double rate = static_cast<double>(alarms) / kTrials;
  EXPECT_NEAR(rate, kAlpha, kTolerance) << alarms << " alarms";
}

TEST(FalseAlarms, AsymptoticKsOnNoDriftDataNearAlpha) {
  SplitMix rng(43);
  int alarms = 0;
  for (int t = 0; t < kTrials; ++t) {
    std::vector<double> a = Normals(rng, 12000), b = Normals(rng, 3000);
    SortDoubles(a);
    SortDoubles(b);
    KsResult r = KsTwoSampleSorted(a, b);
    ASSERT_FALSE(r.exact);
    alarms += r.p_value < kAlpha;
  }
  EXPECT_NEAR(static_cast<double>(alarms) / kTrials, kAlpha, kTolerance) << alarms << " alarms";
}

TEST(FalseAlarms, ChiSquareOnNoDriftCategoriesNearAlpha) {
  SplitMix rng(44);
  std::vector<double> shares = {0.4, 0.3, 0.15, 0.1, 0.05};
  int alarms = 0;
  for (int t = 0; t < kTrials; ++t) {
    std::vector<double> a(5, 0), b(5, 0);
    for (int i = 0; i < 400; ++i) {
      double u = rng.Uniform(), cum = 0;
      size_t k = 0;
      for (; k < 4 && u >= (cum += shares[k]); ++k) {}
      ++a[k];
    }
    for (int i = 0; i < 300; ++i) {
      double u = rng.Uniform(), cum = 0;
      size_t k = 0;
      for (; k < 4 && u >= (cum += shares[k]); ++k) {}
      ++b[k];
    }
    alarms += ChiSquareHomogeneity(a, b).p_value < kAlpha;
  }
  EXPECT_NEAR(static_cast<double>(alarms) / kTrials, kAlpha, kTolerance) << alarms << " alarms";
}

TEST(FalseAlarms, CorrectionKeepsTheFamilyWiseRateAtAlpha) {
  // Ten no-drift features per trial: uncorrected, some feature alarms in
  // ~40% of trials; Benjamini-Hochberg (= family-wise under the global null)
  // and Bonferroni bring it back to at most alpha.
  SplitMix rng(45);
  int any_raw = 0, any_bh = 0, any_bonferroni = 0;
  for (int t = 0; t < kTrials; ++t) {
    std::vector<double> p;
    for (int f = 0; f < 10; ++f) {
      std::vector<double> a = Normals(rng, 100), b = Normals(rng, 100);
      SortDoubles(a);
      SortDoubles(b);
      p.push_back(KsTwoSampleSorted(a, b).p_value);
    }
    auto bh = AdjustPValues(p, Correction::kBenjaminiHochberg);
    auto bonf = AdjustPValues(p, Correction::kBonferroni);
    any_raw += std::any_of(p.begin(), p.end(), [](double x) { return x < kAlpha; });
    any_bh += std::any_of(bh.begin(), bh.end(), [](double x) { return x < kAlpha; });
    any_bonferroni += std::any_of(bonf.begin(), bonf.end(), [](double x) { return x < kAlpha; });
  }
  EXPECT_GT(any_raw, kTrials / 4);
  EXPECT_LE(static_cast<double>(any_bh) / kTrials, kAlpha + kTolerance) << any_bh;
  EXPECT_LE(static_cast<double>(any_bonferroni) / kTrials, kAlpha + kTolerance) << any_bonferroni;
}

TEST(FalseAlarms, DefaultReportOnNoDriftTablesRarelyAlarms) {
  // Large samples take Evidently's distance defaults (Wasserstein, JS at
  // 0.1): on no-drift data they should essentially never fire.
  SplitMix rng(46);
  int drifted = 0;
  for (int t = 0; t < 50; ++t) {
    Table ref = MakeTable({NumericColumn("x", Normals(rng, 5000)),
                           CategoricalColumn("c", Categories(rng, 5000, {0.5, 0.3, 0.2}, {"a", "b", "c"}))});
    Table cur = MakeTable({NumericColumn("x", Normals(rng, 5000)),
                           CategoricalColumn("c", Categories(rng, 5000, {0.5, 0.3, 0.2}, {"a", "b", "c"}))});
    auto r = CompareTables(ref, cur);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(ColumnOf(*r, "x").method, DriftMethod::kWasserstein);
    EXPECT_EQ(ColumnOf(*r, "c").method, DriftMethod::kJensenShannon);
    drifted += r->features_drifted;
  }
  EXPECT_EQ(drifted, 0);
}

// --- detection of injected shifts --------------------------------------------

TEST(Detection, MeanShiftAtSmallSamplesByKs) {
  SplitMix rng(50);
  int detected = 0;
  for (int t = 0; t < 100; ++t) {
    Table ref = MakeTable({NumericColumn("x", Normals(rng, 1000))});
    Table cur = MakeTable({NumericColumn("x", Normals(rng, 1000, 0.3))});  // 0.3 sd
    auto r = CompareTables(ref, cur);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->columns[0].method, DriftMethod::kKs);
    detected += r->columns[0].drifted;
  }
  EXPECT_GE(detected, 95);
}

TEST(Detection, VarianceShiftAtLargeSamplesByWasserstein) {
  SplitMix rng(51);
  for (int t = 0; t < 20; ++t) {
    Table ref = MakeTable({NumericColumn("x", Normals(rng, 5000))});
    Table cur = MakeTable({NumericColumn("x", Normals(rng, 5000, 0, 1.5))});
    auto r = CompareTables(ref, cur);
    ASSERT_TRUE(r.has_value());
    const FeatureDrift& f = r->columns[0];
    EXPECT_EQ(f.method, DriftMethod::kWasserstein);
    EXPECT_TRUE(f.drifted) << f.score;
    EXPECT_LT(f.stats.ks_p_value, 1e-6);  // the KS test beside it agrees
  }
}

TEST(Detection, NewCategoryAtBothSampleSizes) {
  SplitMix rng(52);
  std::vector<std::string> names = {"a", "b", "c", "new"};
  for (size_t n : {300, 5000}) {
    for (int t = 0; t < 20; ++t) {
      Table ref = MakeTable({CategoricalColumn("c", Categories(rng, n, {0.5, 0.3, 0.2, 0.0}, names))});
      Table cur = MakeTable({CategoricalColumn("c", Categories(rng, n, {0.45, 0.27, 0.18, 0.1}, names))});
      auto r = CompareTables(ref, cur);
      ASSERT_TRUE(r.has_value());
      const FeatureDrift& f = r->columns[0];
      EXPECT_EQ(f.method, n <= 1000 ? DriftMethod::kChiSquare : DriftMethod::kJensenShannon);
      EXPECT_TRUE(f.drifted) << n << ": " << f.score;
      EXPECT_GT(f.unseen, 0u);
      EXPECT_EQ(f.unseen_examples, std::vector<std::string>{"new"});
      ASSERT_FALSE(r->quality.empty());
      EXPECT_EQ(r->quality[0].kind, "unseen_categories");
    }
  }
}

TEST(Detection, SmallCardinalityNumbersAreCategories) {
  SplitMix rng(53);
  std::vector<double> a(500), b(500);
  for (double& x : a) x = std::floor(rng.Uniform() * 3);
  for (double& x : b) x = std::floor(rng.Uniform() * 3);
  auto r = CompareTables(MakeTable({NumericColumn("x", a)}), MakeTable({NumericColumn("x", b)}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->columns[0].kind, ColumnKind::kCategorical);
  EXPECT_EQ(r->columns[0].method, DriftMethod::kChiSquare);
}

// --- options, schema, quality ------------------------------------------------

TEST(CompareTables, SchemaAndQualityFindings) {
  SplitMix rng(60);
  std::vector<double> cur_x = Normals(rng, 500);
  for (int i = 0; i < 100; ++i) cur_x[static_cast<size_t>(i)] = kNaN;  // missing rate 0% -> 20%
  Column typo = NumericColumn("y", Normals(rng, 500));
  typo.invalid = 3;
  typo.first_invalid = "cur.csv:7: 'abc'";
  Table ref = MakeTable({NumericColumn("x", Normals(rng, 500)), NumericColumn("y", Normals(rng, 500)),
                         NumericColumn("gone", Normals(rng, 500))});
  Table cur = MakeTable({NumericColumn("x", cur_x), typo, NumericColumn("extra", Normals(rng, 500))});
  auto r = CompareTables(ref, cur);
  ASSERT_TRUE(r.has_value());
  auto kinds = [&](std::string_view col) {
    std::vector<std::string> out;
    for (const QualityIssue& q : r->quality) {
      if (q.column == col) out.push_back(q.kind);
    }
    return out;
  };
  EXPECT_EQ(kinds("gone"), std::vector<std::string>{"missing_column"});
  EXPECT_EQ(kinds("extra"), std::vector<std::string>{"new_column"});
  EXPECT_EQ(kinds("x"), std::vector<std::string>{"missing_rate"});
  EXPECT_EQ(kinds("y"), std::vector<std::string>{"type_mismatch"});
  EXPECT_EQ(r->features_tested, 2);
}

TEST(CompareTables, TargetAndPredictionStandApart) {
  SplitMix rng(61);
  Table ref = MakeTable({NumericColumn("x", Normals(rng, 300)), NumericColumn("y", Normals(rng, 300)),
                         NumericColumn("p", Normals(rng, 300))});
  Table cur = MakeTable({NumericColumn("x", Normals(rng, 300)), NumericColumn("y", Normals(rng, 300, 2)),
                         NumericColumn("p", Normals(rng, 300, 2))});
  DriftOptions o;
  o.target = "y";
  o.prediction = "p";
  auto r = CompareTables(ref, cur, o);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->columns.size(), 3u);
  EXPECT_EQ(r->columns[1].role, "target");
  EXPECT_EQ(r->columns[2].role, "prediction");
  EXPECT_TRUE(r->columns[1].drifted);
  EXPECT_TRUE(r->columns[2].drifted);
  EXPECT_EQ(r->features_tested, 1);  // the share counts features only
  EXPECT_FALSE(r->dataset_drift);

  o.target = "nope";
  EXPECT_FALSE(CompareTables(ref, cur, o).has_value());
  DriftOptions bad;
  bad.alpha = 1.5;
  EXPECT_FALSE(CompareTables(ref, cur, bad).has_value());
  Table empty;
  EXPECT_FALSE(CompareTables(empty, cur).has_value());
}

TEST(CompareTables, ChosenMethodAndThresholdApply) {
  SplitMix rng(62);
  Table ref = MakeTable({NumericColumn("x", Normals(rng, 3000))});
  Table cur = MakeTable({NumericColumn("x", Normals(rng, 3000, 0.2))});
  for (DriftMethod m : {DriftMethod::kKs, DriftMethod::kPsi, DriftMethod::kJensenShannon, DriftMethod::kHellinger,
                        DriftMethod::kWasserstein}) {
    DriftOptions o;
    o.method = m;
    auto r = CompareTables(ref, cur, o);
    ASSERT_TRUE(r.has_value());
    const FeatureDrift& f = r->columns[0];
    EXPECT_EQ(f.method, m);
    EXPECT_EQ(f.threshold, MethodGivesPValue(m) ? 0.05 : 0.1);
    EXPECT_EQ(f.drifted, MethodGivesPValue(m) ? f.adjusted_p_value < 0.05 : f.score >= 0.1);
  }
  DriftOptions o;
  o.method = DriftMethod::kChiSquare;  // categorical-only: numeric columns keep their default
  auto r = CompareTables(ref, cur, o);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->columns[0].method, DriftMethod::kWasserstein);
}

// --- profiles ------------------------------------------------------------------

TEST(Profiles, CompareProfilesAgreesWithTheRawPath) {
  SplitMix rng(70);
  Table ref = MakeTable({NumericColumn("x", Normals(rng, 50000)),
                         CategoricalColumn("c", Categories(rng, 50000, {0.6, 0.4}, {"a", "b"}))});
  Table cur = MakeTable({NumericColumn("x", Normals(rng, 40000, 0.05, 1.1)),
                         CategoricalColumn("c", Categories(rng, 40000, {0.5, 0.5}, {"a", "b"}))});
  DatasetProfile rp = ProfileTable(ref);
  DatasetProfile cp = ProfileTable(cur, {}, &rp);
  auto raw = CompareTables(ref, cur);
  auto approx = CompareProfiles(rp, cp);
  ASSERT_TRUE(raw.has_value() && approx.has_value());
  const FeatureDrift& a = ColumnOf(*raw, "x");
  const FeatureDrift& b = ColumnOf(*approx, "x");
  EXPECT_TRUE(b.approximate);
  double eps = rp.columns[0].sketch.RankErrorBound(1e-4) + cp.columns[0].sketch.RankErrorBound(1e-4);
  EXPECT_NEAR(b.stats.ks_statistic, a.stats.ks_statistic, eps);
  EXPECT_NEAR(b.stats.wasserstein_normed, a.stats.wasserstein_normed, 0.02);
  // Same edges, exact counts: the binned distances are identical.
  EXPECT_DOUBLE_EQ(b.stats.psi, a.stats.psi);
  EXPECT_DOUBLE_EQ(b.stats.jensen_shannon, a.stats.jensen_shannon);
  EXPECT_NEAR(b.reference.mean, a.reference.mean, 1e-12);
  EXPECT_NEAR(b.reference.std, a.reference.std, 1e-12);
  EXPECT_EQ(b.drifted, a.drifted);
  // Categorical counts are exact in a profile.
  const FeatureDrift& ca = ColumnOf(*raw, "c");
  const FeatureDrift& cb = ColumnOf(*approx, "c");
  EXPECT_FALSE(cb.approximate);
  EXPECT_DOUBLE_EQ(cb.stats.chi2_statistic, ca.stats.chi2_statistic);
  EXPECT_DOUBLE_EQ(cb.stats.jensen_shannon, ca.stats.jensen_shannon);
}

TEST(Profiles, WindowsMergeIntoTheProfileOfTheirUnion) {
  SplitMix rng(71);
  std::vector<double> all = Normals(rng, 30000, 5, 2);
  Table ref = MakeTable({NumericColumn("x", Normals(rng, 10000, 5, 2))});
  DatasetProfile rp = ProfileTable(ref);
  DatasetProfile merged;
  for (int w = 0; w < 3; ++w) {
    std::vector<double> part(all.begin() + w * 10000, all.begin() + (w + 1) * 10000);
    DatasetProfile window = ProfileTable(MakeTable({NumericColumn("x", part)}), {}, &rp);
    if (w == 0) {
      merged = window;
    } else {
      ASSERT_TRUE(merged.Merge(window).ok());
    }
  }
  DatasetProfile whole = ProfileTable(MakeTable({NumericColumn("x", all)}), {}, &rp);
  const ColumnProfile& m = merged.columns[0];
  const ColumnProfile& w = whole.columns[0];
  EXPECT_EQ(merged.rows, 30000u);
  EXPECT_EQ(m.count, w.count);
  EXPECT_EQ(m.min, w.min);
  EXPECT_EQ(m.max, w.max);
  EXPECT_NEAR(m.mean, w.mean, 1e-12);
  EXPECT_NEAR(m.std(), w.std(), 1e-12);
  EXPECT_EQ(m.histogram.counts, w.histogram.counts);
  EXPECT_NEAR(m.sketch.Quantile(0.5), w.sketch.Quantile(0.5), 0.05);

  // Windows with other edges do not merge silently.
  DatasetProfile own_edges = ProfileTable(MakeTable({NumericColumn("x", all)}));
  EXPECT_FALSE(merged.Merge(own_edges).ok());
}

TEST(Profiles, JsonRoundTrip) {
  SplitMix rng(72);
  std::vector<double> x = Normals(rng, 5000);
  x[3] = kNaN;
  Table t = MakeTable({NumericColumn("x", x), CategoricalColumn("c", Categories(rng, 5000, {0.7, 0.3}, {"u", "v"})),
                       NumericColumn("small", std::vector<double>(5000, 1.0))});
  DatasetProfile p = ProfileTable(t);
  std::string text = ProfileToJson(p);
  auto back = ProfileFromJson(text);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(ProfileToJson(*back), text);
  EXPECT_EQ(back->columns[0].missing, 1u);
  EXPECT_EQ(back->columns[1].items.Count("u") + back->columns[1].items.Count("v"), 5000u);
  EXPECT_EQ(back->columns[2].distinct.size(), 1u);

  EXPECT_FALSE(ProfileFromJson("{}").has_value());
  EXPECT_FALSE(ProfileFromJson("not json").has_value());
  std::string tampered = text;
  tampered.replace(tampered.find("\"version\":1"), 11, "\"version\":9");
  EXPECT_FALSE(ProfileFromJson(tampered).has_value());
}

TEST(Profiles, StreamingBuilderWithoutEdgesEstimatesBins) {
  ColumnProfileBuilder b("x", ColumnKind::kNumeric);
  SplitMix rng(73);
  for (int i = 0; i < 100000; ++i) b.AddNumber(rng.Normal());
  b.AddNumber(INFINITY);
  ColumnProfile p = b.Finish();
  EXPECT_EQ(p.count, 100000u);
  EXPECT_EQ(p.missing, 1u);
  ASSERT_EQ(p.histogram.counts.size(), 10u);
  for (double c : p.histogram.counts) EXPECT_NEAR(c, 10000, 100000 * p.sketch.RankErrorBound(1e-4) * 2 + 1);
}

}  // namespace
}  // namespace mlforge::monitor

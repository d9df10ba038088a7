// Drift and data quality, column by column, on raw tables or on profiles.
// Both paths reduce a column to the same inputs (two step CDFs plus bin counts
// for numeric columns, count vectors for categorical ones) and share the code
// that tests them, picks the method, and flags quality issues.
#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <type_traits>
#include <unordered_map>

#include <fmt/core.h>

#include "base/parallel.h"
#include "monitor/internal.h"
#include "monitor/monitor.h"

namespace mlforge::monitor {
namespace {

constexpr double kDistanceThreshold = 0.1;  // Evidently's default for distances
constexpr double kMinNormStd = 0.001;       // Evidently: wasserstein / max(std, 0.001)

std::string FormatNumber(double v) {
  std::string s;
  json::AppendDouble(s, v);
  if (!s.empty() && s.front() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

std::string Percent(double share) { return fmt::format("{:.2f}%", 100 * share); }

// How one column is compared, whatever the path.
struct CategoricalInput {
  std::vector<std::string> labels;
  std::vector<double> ref, cur;
  std::vector<bool> in_ref;  // the reference holds this label
  bool unseen_known = true;  // false when the reference summary is not exact
};

// CDF access for charts and range checks: fraction of values < x, <= x.
struct CdfView {
  std::function<double(double)> below;     // count < x
  std::function<double(double)> at_most;   // count <= x
};

double DefaultThreshold(DriftMethod m, const DriftOptions& o) {
  if (o.threshold) return *o.threshold;
  return MethodGivesPValue(m) ? o.alpha : kDistanceThreshold;
}

void SetMethodResult(FeatureDrift& f, DriftMethod m, const DriftOptions& o) {
  f.method = m;
  f.threshold = DefaultThreshold(m, o);
  const DriftStats& s = f.stats;
  switch (m) {
    case DriftMethod::kKs:
      f.score = f.p_value = s.ks_p_value;
      f.effect_size_name = "ks_statistic";
      f.effect_size = s.ks_statistic;
      break;
    case DriftMethod::kChiSquare:
      f.score = f.p_value = s.chi2_p_value;
      f.effect_size_name = "cramers_v";
      f.effect_size = s.cramers_v;
      break;
    case DriftMethod::kZ:
      f.score = f.p_value = s.z_p_value;
      f.effect_size_name = "cohens_h";
      f.effect_size = s.cohens_h;
      break;
    case DriftMethod::kWasserstein:
      f.score = s.wasserstein_normed;
      f.effect_size_name = "wasserstein_normed";
      break;
    case DriftMethod::kJensenShannon:
      f.score = s.jensen_shannon;
      f.effect_size_name = "jensen_shannon";
      break;
    case DriftMethod::kPsi:
      f.score = s.psi;
      f.effect_size_name = "psi";
      break;
    case DriftMethod::kHellinger:
      f.score = s.hellinger;
      f.effect_size_name = "hellinger";
      break;
    case DriftMethod::kAuto:
      break;
  }
  if (!MethodGivesPValue(m)) {
    f.effect_size = f.score;
    f.drifted = f.score >= f.threshold;
  } else {
    f.adjusted_p_value = f.p_value;  // corrected later, across features
    f.drifted = f.p_value < f.threshold;
  }
}

// Numeric columns: the requested method, or Evidently's choice by size.
DriftMethod NumericMethod(const DriftOptions& o, uint64_t ref_count) {
  switch (o.method) {
    case DriftMethod::kKs:
    case DriftMethod::kWasserstein:
    case DriftMethod::kPsi:
    case DriftMethod::kJensenShannon:
    case DriftMethod::kHellinger:
      return o.method;
    default:  // auto, or a categorical-only test
      return static_cast<int64_t>(ref_count) <= o.small_sample_max ? DriftMethod::kKs
                                                                    : DriftMethod::kWasserstein;
  }
}

DriftMethod CategoricalMethod(const DriftOptions& o, uint64_t ref_count, size_t categories) {
  switch (o.method) {
    case DriftMethod::kChiSquare:
    case DriftMethod::kZ:
    case DriftMethod::kPsi:
    case DriftMethod::kJensenShannon:
    case DriftMethod::kHellinger:
      return o.method == DriftMethod::kZ && categories > 2 ? DriftMethod::kChiSquare : o.method;
    default:
      if (static_cast<int64_t>(ref_count) <= o.small_sample_max) {
        return categories <= 2 ? DriftMethod::kZ : DriftMethod::kChiSquare;
      }
      return DriftMethod::kJensenShannon;
  }
}

void CompareCategorical(FeatureDrift& f, const CategoricalInput& in, const DriftOptions& o) {
  f.kind = ColumnKind::kCategorical;
  double n_ref = std::accumulate(in.ref.begin(), in.ref.end(), 0.0);
  double n_cur = std::accumulate(in.cur.begin(), in.cur.end(), 0.0);
  DriftStats& s = f.stats;
  ChiSquareResult chi = ChiSquareHomogeneity(in.ref, in.cur);
  s.chi2_statistic = chi.statistic;
  s.chi2_dof = chi.dof;
  s.chi2_p_value = chi.p_value;
  s.cramers_v = chi.cramers_v;
  if (in.labels.size() <= 2) {
    // Evidently's z-test: share of all but the first (sorted) category.
    size_t first = 0;
    for (size_t i = 1; i < in.labels.size(); ++i) {
      if (in.labels[i] < in.labels[first]) first = i;
    }
    double hits_ref = in.labels.empty() ? 0 : n_ref - in.ref[first];
    double hits_cur = in.labels.empty() ? 0 : n_cur - in.cur[first];
    s.z_p_value = ZTestProportions(hits_ref, n_ref, hits_cur, n_cur, &s.cohens_h);
  }
  s.psi = Psi(in.ref, in.cur);
  s.jensen_shannon = JensenShannonDistance(in.ref, in.cur, 2);
  s.hellinger = HellingerDistance(in.ref, in.cur);
  SetMethodResult(f, CategoricalMethod(o, static_cast<uint64_t>(n_ref), in.labels.size()), o);
  f.reference.unique = static_cast<uint64_t>(std::count_if(in.ref.begin(), in.ref.end(), [](double c) { return c > 0; }));
  f.current.unique = static_cast<uint64_t>(std::count_if(in.cur.begin(), in.cur.end(), [](double c) { return c > 0; }));
  if (in.unseen_known) {
    std::vector<size_t> unseen;
    for (size_t i = 0; i < in.labels.size(); ++i) {
      if (!in.in_ref[i] && in.cur[i] > 0) unseen.push_back(i);
    }
    std::sort(unseen.begin(), unseen.end(), [&](size_t a, size_t b) { return in.cur[a] > in.cur[b]; });
    for (size_t i : unseen) {
      f.unseen += static_cast<uint64_t>(in.cur[i]);
      if (f.unseen_examples.size() < 5) f.unseen_examples.push_back(in.labels[i]);
    }
  }
  // Chart: the most common categories over both sides; the rest as "other".
  std::vector<size_t> order(in.labels.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    double ca = in.ref[a] / std::max(n_ref, 1.0) + in.cur[a] / std::max(n_cur, 1.0);
    double cb = in.ref[b] / std::max(n_ref, 1.0) + in.cur[b] / std::max(n_cur, 1.0);
    return ca != cb ? ca > cb : in.labels[a] < in.labels[b];
  });
  Chart& c = f.chart;
  c.categorical = true;
  size_t shown = std::min(order.size(), static_cast<size_t>(std::max(o.chart_categories, 1)));
  double rest_ref = n_ref, rest_cur = n_cur;
  for (size_t i = 0; i < shown; ++i) {
    size_t k = order[i];
    c.labels.push_back(in.labels[k]);
    c.reference.push_back(n_ref > 0 ? in.ref[k] / n_ref : 0);
    c.current.push_back(n_cur > 0 ? in.cur[k] / n_cur : 0);
    rest_ref -= in.ref[k];
    rest_cur -= in.cur[k];
  }
  if (shown < order.size()) {
    c.labels.push_back("(other " + std::to_string(order.size() - shown) + ")");
    c.reference.push_back(n_ref > 0 ? rest_ref / n_ref : 0);
    c.current.push_back(n_cur > 0 ? rest_cur / n_cur : 0);
  }
}

template <typename A, typename B>
void CompareNumeric(FeatureDrift& f, const A& ref, const B& cur, const std::vector<double>& ref_bins,
                    const std::vector<double>& cur_bins, const CdfView& ref_cdf, const CdfView& cur_cdf,
                    const DriftOptions& o) {
  f.kind = ColumnKind::kNumeric;
  DriftStats& s = f.stats;
  uint64_t n_ref = f.reference.count, n_cur = f.current.count;
  KsResult ks = internal::KsAndWasserstein(ref, cur, &s.wasserstein);
  bool exact = false;
  s.ks_p_value = KsTwoSamplePValue(ks.statistic, n_ref, n_cur, &exact);
  s.ks_statistic = ks.statistic;
  if (exact) {
    uint64_t lcm = n_ref / std::gcd(n_ref, n_cur) * n_cur;
    s.ks_statistic = std::nearbyint(ks.statistic * static_cast<double>(lcm)) / static_cast<double>(lcm);
  }
  s.wasserstein_normed = s.wasserstein / std::max(f.reference.std, kMinNormStd);
  s.psi = Psi(ref_bins, cur_bins);
  s.jensen_shannon = JensenShannonDistance(ref_bins, cur_bins, 2);
  s.hellinger = HellingerDistance(ref_bins, cur_bins);
  SetMethodResult(f, NumericMethod(o, n_ref), o);

  double lo = std::min(f.reference.min, f.current.min);
  double hi = std::max(f.reference.max, f.current.max);
  if (f.current.min < f.reference.min || f.current.max > f.reference.max) {
    double out = cur_cdf.below(f.reference.min) + (static_cast<double>(n_cur) - cur_cdf.at_most(f.reference.max));
    f.out_of_range = static_cast<uint64_t>(std::llround(std::max(out, 0.0)));
  }
  Chart& c = f.chart;
  int bins = std::max(o.chart_bins, 1);
  if (!(hi > lo)) {
    c.edges = {lo, lo};
    c.reference = {1.0};
    c.current = {1.0};
    return;
  }
  for (int i = 0; i <= bins; ++i) c.edges.push_back(lo + (hi - lo) * i / bins);
  c.edges.back() = hi;
  double prev_r = 0, prev_c = 0;
  for (int i = 1; i <= bins; ++i) {
    // Bins are [a, b) except the last, which holds the maximum.
    double r = i == bins ? static_cast<double>(n_ref) : ref_cdf.below(c.edges[static_cast<size_t>(i)]);
    double k = i == bins ? static_cast<double>(n_cur) : cur_cdf.below(c.edges[static_cast<size_t>(i)]);
    c.reference.push_back((r - prev_r) / static_cast<double>(n_ref));
    c.current.push_back((k - prev_c) / static_cast<double>(n_cur));
    prev_r = r;
    prev_c = k;
  }
}

void SummarizeSorted(const std::vector<double>& sorted, uint64_t missing, ColumnSummary* s) {
  s->count = sorted.size();
  s->missing = missing;
  if (sorted.empty()) return;
  s->min = sorted.front();
  s->max = sorted.back();
  // Two passes in double with four running sums (like numpy's pairwise sum,
  // the error stays far below the 1e-12 the tests ask for).
  auto sum4 = [&](auto term) {
    double acc[4] = {0, 0, 0, 0};
    size_t n = sorted.size(), i = 0;
    for (; i + 4 <= n; i += 4) {
      for (int k = 0; k < 4; ++k) acc[k] += term(sorted[i + static_cast<size_t>(k)]);
    }
    for (; i < n; ++i) acc[0] += term(sorted[i]);
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
  };
  double n = static_cast<double>(sorted.size());
  double mean = sum4([](double v) { return v; }) / n;
  double ss = sum4([mean](double v) { return (v - mean) * (v - mean); });
  s->mean = mean;
  s->std = std::sqrt(ss / n);
  s->p25 = QuantileSorted(sorted, 0.25);
  s->median = QuantileSorted(sorted, 0.5);
  s->p75 = QuantileSorted(sorted, 0.75);
}

std::vector<double> BinCounts(const std::vector<double>& sorted, const std::vector<double>& edges) {
  std::vector<double> counts(edges.size() + 1);
  size_t prev = 0;
  for (size_t i = 0; i <= edges.size(); ++i) {
    size_t below = i < edges.size() ? static_cast<size_t>(std::lower_bound(sorted.begin(), sorted.end(), edges[i]) - sorted.begin())
                                    : sorted.size();
    counts[i] = static_cast<double>(below - prev);
    prev = below;
  }
  return counts;
}

CdfView SortedCdf(const std::vector<double>& sorted) {
  return CdfView{
      [&sorted](double x) {
        return static_cast<double>(std::lower_bound(sorted.begin(), sorted.end(), x) - sorted.begin());
      },
      [&sorted](double x) {
        return static_cast<double>(std::upper_bound(sorted.begin(), sorted.end(), x) - sorted.begin());
      }};
}

// Distinct values of both sorted columns with their counts, if there are at
// most max_unique of them.
bool SmallCardinality(const std::vector<double>& a, const std::vector<double>& b, int max_unique,
                      CategoricalInput* in) {
  // Most numeric columns have many values: find out from the first few.
  auto few = [max_unique](const std::vector<double>& v) {
    int distinct = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      if ((i == 0 || v[i] != v[i - 1]) && ++distinct > max_unique) return false;
      // Sorted: jump over a run of equal values.
      i = static_cast<size_t>(std::upper_bound(v.begin() + static_cast<ptrdiff_t>(i), v.end(), v[i]) - v.begin()) - 1;
    }
    return true;
  };
  if (!few(a) || !few(b)) return false;
  int distinct = 0;
  internal::WalkSteps(internal::Unweighted{a}, internal::Unweighted{b},
                      [&](double, double, double, bool, bool) { ++distinct; });
  if (distinct > max_unique) return false;
  double prev_a = 0, prev_b = 0;
  internal::WalkSteps(internal::Unweighted{a}, internal::Unweighted{b},
                      [&](double v, double ca, double cb, bool in_a, bool) {
                        in->labels.push_back(FormatNumber(v));
                        in->ref.push_back(ca - prev_a);
                        in->cur.push_back(cb - prev_b);
                        in->in_ref.push_back(in_a);
                        prev_a = ca;
                        prev_b = cb;
                      });
  return true;
}

void CompareRawColumn(const Column& rc, const Column& cc, const DriftOptions& o, FeatureDrift& f) {
  if (rc.kind == ColumnKind::kNumeric && cc.kind == ColumnKind::kNumeric) {
    // Per-thread buffers: a column's sorted copies are only needed while it is compared.
    thread_local std::vector<double> ref, cur;
    uint64_t ref_missing = 0, cur_missing = 0;
    internal::SortFinite(rc.numbers, &ref, &ref_missing);
    internal::SortFinite(cc.numbers, &cur, &cur_missing);
    SummarizeSorted(ref, ref_missing, &f.reference);
    SummarizeSorted(cur, cur_missing, &f.current);
    if (ref.empty() || cur.empty()) return;
    f.tested = true;
    CategoricalInput in;
    if (SmallCardinality(ref, cur, o.categorical_max_unique, &in)) {
      CompareCategorical(f, in, o);
      return;
    }
    std::vector<double> edges;
    for (int i = 1; i < o.bins; ++i) {
      double e = QuantileSorted(ref, static_cast<double>(i) / o.bins);
      if (edges.empty() || e > edges.back()) edges.push_back(e);
    }
    CompareNumeric(f, internal::Unweighted{ref}, internal::Unweighted{cur}, BinCounts(ref, edges),
                   BinCounts(cur, edges), SortedCdf(ref), SortedCdf(cur), o);
    return;
  }
  if (rc.kind != ColumnKind::kCategorical || cc.kind != ColumnKind::kCategorical) return;
  CategoricalInput in;
  std::vector<double> ref_counts(rc.dictionary.size(), 0), cur_counts(cc.dictionary.size(), 0);
  uint64_t ref_missing = 0, cur_missing = 0;
  for (uint32_t c : rc.codes) c == Column::kMissingCode ? ++ref_missing : ++ref_counts[c];
  for (uint32_t c : cc.codes) c == Column::kMissingCode ? ++cur_missing : ++cur_counts[c];
  std::unordered_map<std::string_view, size_t> index;
  for (size_t i = 0; i < rc.dictionary.size(); ++i) {
    if (ref_counts[i] == 0) continue;
    index.emplace(rc.dictionary[i], in.labels.size());
    in.labels.push_back(rc.dictionary[i]);
    in.ref.push_back(ref_counts[i]);
    in.cur.push_back(0);
    in.in_ref.push_back(true);
  }
  for (size_t i = 0; i < cc.dictionary.size(); ++i) {
    if (cur_counts[i] == 0) continue;
    auto it = index.find(cc.dictionary[i]);
    if (it != index.end()) {
      in.cur[it->second] += cur_counts[i];
      continue;
    }
    in.labels.push_back(cc.dictionary[i]);
    in.ref.push_back(0);
    in.cur.push_back(cur_counts[i]);
    in.in_ref.push_back(false);
  }
  f.reference.count = rc.codes.size() - ref_missing;
  f.reference.missing = ref_missing;
  f.current.count = cc.codes.size() - cur_missing;
  f.current.missing = cur_missing;
  if (f.reference.count == 0 || f.current.count == 0) return;
  f.tested = true;
  CompareCategorical(f, in, o);
}

// --- profiles -----------------------------------------------------------------

void SummarizeProfile(const ColumnProfile& p, ColumnSummary* s) {
  s->count = p.count;
  s->missing = p.missing;
  if (p.kind != ColumnKind::kNumeric || p.count == 0) return;
  s->min = p.min;
  s->max = p.max;
  s->mean = p.mean;
  s->std = p.std();
  s->p25 = p.sketch.Quantile(0.25);
  s->median = p.sketch.Quantile(0.5);
  s->p75 = p.sketch.Quantile(0.75);
}

CdfView SketchCdf(const ColumnProfile& p) {
  double n = static_cast<double>(p.count);
  return CdfView{[&p, n](double x) { return p.sketch.RankLess(x) * n; },
                 [&p, n](double x) { return p.sketch.Rank(x) * n; }};
}

CategoricalInput ItemsInput(const FrequentItems& ref, uint64_t ref_count, const FrequentItems& cur,
                            uint64_t cur_count) {
  CategoricalInput in;
  std::unordered_map<std::string, size_t> index;
  double tracked_ref = 0, tracked_cur = 0;
  for (const auto& [item, n] : ref.Items()) {
    index.emplace(item, in.labels.size());
    in.labels.push_back(item);
    in.ref.push_back(static_cast<double>(n));
    in.cur.push_back(0);
    in.in_ref.push_back(true);
    tracked_ref += static_cast<double>(n);
  }
  for (const auto& [item, n] : cur.Items()) {
    tracked_cur += static_cast<double>(n);
    auto it = index.find(item);
    if (it != index.end()) {
      in.cur[it->second] += static_cast<double>(n);
      continue;
    }
    in.labels.push_back(item);
    in.ref.push_back(0);
    in.cur.push_back(static_cast<double>(n));
    in.in_ref.push_back(!ref.exact());
  }
  if (!ref.exact() || !cur.exact()) {
    // What the summaries no longer track, as one bucket.
    in.labels.push_back("(untracked)");
    in.ref.push_back(std::max(static_cast<double>(ref_count) - tracked_ref, 0.0));
    in.cur.push_back(std::max(static_cast<double>(cur_count) - tracked_cur, 0.0));
    in.in_ref.push_back(true);
  }
  in.unseen_known = ref.exact();
  return in;
}

void CompareProfileColumn(const ColumnProfile& rp, const ColumnProfile& cp, const DriftOptions& o,
                          FeatureDrift& f) {
  SummarizeProfile(rp, &f.reference);
  SummarizeProfile(cp, &f.current);
  if (rp.kind != cp.kind || rp.count == 0 || cp.count == 0) return;
  f.tested = true;
  if (rp.kind == ColumnKind::kCategorical) {
    CategoricalInput in = ItemsInput(rp.items, rp.count, cp.items, cp.count);
    CompareCategorical(f, in, o);
    f.approximate = !rp.items.exact() || !cp.items.exact();
    return;
  }
  if (!rp.distinct_overflow && !cp.distinct_overflow) {
    std::vector<std::pair<double, uint64_t>> merged = rp.distinct;
    for (const auto& d : cp.distinct) merged.push_back(d);
    std::sort(merged.begin(), merged.end());
    CategoricalInput in;
    for (const auto& [v, n] : merged) {
      if (in.labels.empty() || in.labels.back() != FormatNumber(v)) {
        in.labels.push_back(FormatNumber(v));
        in.ref.push_back(0);
        in.cur.push_back(0);
        in.in_ref.push_back(false);
      }
    }
    if (static_cast<int>(in.labels.size()) <= o.categorical_max_unique) {
      auto add = [&](const std::vector<std::pair<double, uint64_t>>& d, bool is_ref) {
        for (const auto& [v, n] : d) {
          size_t k = static_cast<size_t>(std::find(in.labels.begin(), in.labels.end(), FormatNumber(v)) - in.labels.begin());
          (is_ref ? in.ref : in.cur)[k] += static_cast<double>(n);
          if (is_ref) in.in_ref[k] = true;
        }
      };
      add(rp.distinct, true);
      add(cp.distinct, false);
      CompareCategorical(f, in, o);
      return;
    }
  }
  auto ref_items = rp.sketch.WeightedValues();
  auto cur_items = cp.sketch.WeightedValues();
  std::vector<double> cur_bins = cp.histogram.counts;
  if (cp.histogram.edges != rp.histogram.edges) {
    // Windows built without the reference's edges: estimate from the sketch.
    cur_bins.assign(rp.histogram.edges.size() + 1, 0.0);
    double prev = 0, n = static_cast<double>(cp.count);
    for (size_t i = 0; i <= rp.histogram.edges.size(); ++i) {
      double below = i < rp.histogram.edges.size() ? cp.sketch.RankLess(rp.histogram.edges[i]) * n : n;
      cur_bins[i] = below - prev;
      prev = below;
    }
  }
  CompareNumeric(f, internal::Weighted(ref_items), internal::Weighted(cur_items), rp.histogram.counts,
                 cur_bins, SketchCdf(rp), SketchCdf(cp), o);
  f.approximate = true;
}

// --- the report -------------------------------------------------------------

Status CheckOptions(const DriftOptions& o) {
  if (!(o.alpha > 0 && o.alpha < 1)) return InvalidArgument("alpha must be in (0, 1)");
  if (o.threshold && !(*o.threshold > 0)) return InvalidArgument("threshold must be > 0");
  if (!(o.drift_share > 0 && o.drift_share <= 1)) return InvalidArgument("drift share must be in (0, 1]");
  if (o.bins < 2 || o.bins > 1000) return InvalidArgument("bins must be in [2, 1000]");
  return Status::Ok();
}

struct Selected {
  std::string name;
  std::string role;
};

// Columns to compare, in reference order, then target and prediction.
Result<std::vector<Selected>> SelectColumns(const std::vector<std::string>& reference_names,
                                            const DriftOptions& o) {
  auto has = [&](const std::string& n) {
    return std::find(reference_names.begin(), reference_names.end(), n) != reference_names.end();
  };
  std::vector<Selected> out;
  for (const std::string& n : o.columns) {
    if (!has(n)) return Err(InvalidArgument("reference has no column '" + n + "'"));
  }
  for (const std::string* special : {&o.target, &o.prediction}) {
    if (!special->empty() && !has(*special)) {
      return Err(InvalidArgument("reference has no column '" + *special + "' (" +
                                 (special == &o.target ? "target" : "prediction") + ")"));
    }
  }
  for (const std::string& n : reference_names) {
    if (n == o.target || n == o.prediction) continue;
    if (!o.columns.empty() && std::find(o.columns.begin(), o.columns.end(), n) == o.columns.end()) continue;
    out.push_back({n, "feature"});
  }
  if (!o.target.empty()) out.push_back({o.target, "target"});
  if (!o.prediction.empty()) out.push_back({o.prediction, "prediction"});
  return out;
}

void AddColumnIssues(const FeatureDrift& f, const DriftOptions& o, std::vector<QualityIssue>* q) {
  double ref_rate = f.reference.missing_rate(), cur_rate = f.current.missing_rate();
  if (cur_rate - ref_rate > o.missing_rate_tolerance) {
    q->push_back({f.column, "missing_rate",
                  "missing values rose from " + Percent(ref_rate) + " to " + Percent(cur_rate)});
  }
  double n = static_cast<double>(f.current.count);
  if (f.kind == ColumnKind::kNumeric && n > 0 && f.out_of_range / n > o.out_of_range_tolerance) {
    q->push_back({f.column, "out_of_range",
                  fmt::format("{} values ({}) outside the reference range [{}, {}]", f.out_of_range,
                              Percent(f.out_of_range / n), FormatNumber(f.reference.min),
                              FormatNumber(f.reference.max))});
  }
  if (n > 0 && f.unseen > 0 && f.unseen / n > o.unseen_tolerance) {
    std::string ex;
    for (const std::string& e : f.unseen_examples) ex += (ex.empty() ? "'" : ", '") + e + "'";
    q->push_back({f.column, "unseen_categories",
                  fmt::format("{} values ({}) of categories the reference lacks: {}", f.unseen,
                              Percent(f.unseen / n), ex)});
  }
}

void Finish(DriftReport& r) {
  const DriftOptions& o = r.options;
  std::vector<double> p;
  std::vector<size_t> idx;
  for (size_t i = 0; i < r.columns.size(); ++i) {
    FeatureDrift& f = r.columns[i];
    if (f.role == "feature" && f.tested && MethodGivesPValue(f.method)) {
      p.push_back(f.p_value);
      idx.push_back(i);
    }
  }
  std::vector<double> adj = AdjustPValues(p, o.correction);
  for (size_t k = 0; k < idx.size(); ++k) {
    FeatureDrift& f = r.columns[idx[k]];
    f.adjusted_p_value = adj[k];
    f.drifted = adj[k] < f.threshold;
  }
  for (const FeatureDrift& f : r.columns) {
    if (f.role != "feature" || !f.tested) continue;
    ++r.features_tested;
    if (f.drifted) ++r.features_drifted;
  }
  r.drift_share = r.features_tested ? static_cast<double>(r.features_drifted) / r.features_tested : 0;
  r.dataset_drift = r.features_tested > 0 && r.drift_share >= o.drift_share;
  for (const FeatureDrift& f : r.columns) {
    if (!f.tested && f.reference.count > 0 && f.current.count == 0) {
      r.quality.push_back({f.column, "empty_column", "no values in the current data"});
    }
    if (f.tested) AddColumnIssues(f, o, &r.quality);
  }
}

// What CompareTables and CompareProfiles share: schema findings, the columns
// compared in parallel, the correction and the verdict. Source is a Table or
// a DatasetProfile; compare fills one FeatureDrift from a pair of columns.
template <typename Source, typename CompareFn>
Result<DriftReport> CompareAll(const Source& reference, const Source& current, int64_t ref_rows, int64_t cur_rows,
                               const DriftOptions& o, CompareFn compare) {
  RETURN_IF_ERROR(CheckOptions(o));
  std::vector<std::string> names;
  for (const auto& c : reference.columns) names.push_back(c.name);
  ASSIGN_OR_RETURN(std::vector<Selected> selected, SelectColumns(names, o));
  DriftReport r;
  r.options = o;
  r.reference_rows = ref_rows;
  r.current_rows = cur_rows;
  for (const auto& c : current.columns) {
    if (o.columns.empty() && reference.Find(c.name) == nullptr) {
      r.quality.push_back({c.name, "new_column", "column is not in the reference"});
    }
  }
  using Item = std::remove_cvref_t<decltype(reference.columns.front())>;
  std::vector<std::pair<const Item*, const Item*>> pairs;
  for (const Selected& s : selected) {
    const Item* rc = reference.Find(s.name);
    const Item* cc = current.Find(s.name);
    if (cc == nullptr) {
      r.quality.push_back({s.name, "missing_column", "column is missing from the current data"});
      continue;
    }
    if constexpr (std::is_same_v<Item, Column>) {
      if (cc->invalid > 0) {
        r.quality.push_back({s.name, "type_mismatch",
                             fmt::format("{} values are not numbers (first: {})", cc->invalid, cc->first_invalid)});
      }
    }
    if (rc->kind != cc->kind) {
      r.quality.push_back({s.name, "type_mismatch",
                           "reference is " + std::string(ColumnKindName(rc->kind)) + ", current is " +
                               std::string(ColumnKindName(cc->kind))});
    }
    FeatureDrift f;
    f.column = s.name;
    f.role = s.role;
    f.kind = rc->kind;
    r.columns.push_back(std::move(f));
    pairs.emplace_back(rc, cc);
  }
  ParallelFor(pairs.size(), o.threads,
                        [&](size_t i) { compare(*pairs[i].first, *pairs[i].second, o, r.columns[i]); });
  Finish(r);
  return r;
}

}  // namespace

std::string_view DriftMethodName(DriftMethod m) {
  switch (m) {
    case DriftMethod::kAuto:
      return "auto";
    case DriftMethod::kKs:
      return "ks";
    case DriftMethod::kChiSquare:
      return "chisquare";
    case DriftMethod::kZ:
      return "z";
    case DriftMethod::kWasserstein:
      return "wasserstein";
    case DriftMethod::kJensenShannon:
      return "jensenshannon";
    case DriftMethod::kPsi:
      return "psi";
    case DriftMethod::kHellinger:
      return "hellinger";
  }
  return "auto";
}

Result<DriftMethod> ParseDriftMethod(std::string_view name) {
  for (DriftMethod m : {DriftMethod::kAuto, DriftMethod::kKs, DriftMethod::kChiSquare, DriftMethod::kZ,
                        DriftMethod::kWasserstein, DriftMethod::kJensenShannon, DriftMethod::kPsi,
                        DriftMethod::kHellinger}) {
    if (DriftMethodName(m) == name) return m;
  }
  return Err(InvalidArgument("unknown drift method '" + std::string(name) +
                             "' (use auto, ks, chisquare, z, wasserstein, jensenshannon, psi or hellinger)"));
}

bool MethodGivesPValue(DriftMethod m) {
  return m == DriftMethod::kKs || m == DriftMethod::kChiSquare || m == DriftMethod::kZ;
}

Result<DriftReport> CompareTables(const Table& reference, const Table& current, const DriftOptions& o) {
  if (reference.rows == 0) return Err(InvalidArgument("the reference data has no rows"));
  if (current.rows == 0) return Err(InvalidArgument("the current data has no rows"));
  return CompareAll(reference, current, reference.rows, current.rows, o, CompareRawColumn);
}

Result<DriftReport> CompareProfiles(const DatasetProfile& reference, const DatasetProfile& current,
                                    const DriftOptions& o) {
  if (reference.rows == 0) return Err(InvalidArgument("the reference profile has no rows"));
  if (current.rows == 0) return Err(InvalidArgument("the current profile has no rows"));
  return CompareAll(reference, current, static_cast<int64_t>(reference.rows), static_cast<int64_t>(current.rows),
                    o, CompareProfileColumn);
}

}  // namespace mlforge::monitor

// Monitoring's statistical core (docs/monitoring.md): column profiles with a
// mergeable quantile sketch, two-sample drift tests that match scipy, data
// quality checks, and the drift report behind `mlforge drift`.
//
// Two ways in, one set of tests:
//  - raw columns (a Table, e.g. from ReadCsv): exact statistics, the same
//    numbers scipy computes on the same data;
//  - profiles (DatasetProfile): compact, mergeable summaries of a reference
//    set or of a window of live traffic; tests on them are approximate where a
//    sketch stands in for the data (KS, Wasserstein) and say so.
//
// Value types here are thread-compatible; the functions are thread-safe.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/status.h"

namespace mlforge {
class Clock;
class IdGenerator;
namespace sql {
class Database;
}  // namespace sql
}  // namespace mlforge

namespace mlforge::monitor {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------
// Quantile sketch

// A KLL sketch (Karnin, Lang, Liberty 2016) of a stream of doubles: levels of
// sorted buffers; a full level is compacted by keeping every other value
// (offset chosen by a coin), so each kept value weighs twice as much.
//
// Error bound, stated by the sketch itself: a compaction at weight w moves the
// rank of any fixed x by -w, 0 or +w, with mean 0 given the past, and which
// levels compact when depends only on counts, never on the coins. The sketch
// sums w and w^2 over its compactions (merges included), so by Azuma-Hoeffding
// |estimated rank - true rank| / n <= RankErrorBound(delta) with probability at
// least 1 - delta for any x chosen in advance, and never more than
// RankErrorHardBound(). With k = 200 the 99% bound is about 2% (the errors
// measured in tests/monitor are 0.5% to 1.5%).
// Thread-compatible.
class QuantileSketch {
 public:
  static constexpr int kDefaultK = 200;
  static constexpr int kMinK = 8;
  static constexpr int kMaxK = 65535;

  // REQUIRES: kMinK <= k <= kMaxK. seed makes compaction coins reproducible.
  explicit QuantileSketch(int k = kDefaultK, uint64_t seed = 1);

  // REQUIRES: value is not NaN (missing values are counted by the caller).
  void Add(double value) {
    if (count_ == 0 || value < min_) min_ = value;
    if (count_ == 0 || value > max_) max_ = value;
    ++count_;
    levels_[0].push_back(value);
    if (levels_[0].size() >= level0_capacity_) Compress();
  }
  // Folds other into this sketch. Errors: kInvalidParameterValue if k differs.
  Status Merge(const QuantileSketch& other);

  int k() const { return k_; }
  uint64_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  double min() const { return count_ ? min_ : kNaN; }
  double max() const { return count_ ? max_ : kNaN; }
  size_t retained() const;

  // Estimated fraction of values <= x (RankLess: < x).
  double Rank(double x) const;
  double RankLess(double x) const;
  // Estimated q-quantile: the smallest retained value whose estimated rank is
  // >= q (min for q = 0, max for q = 1). NaN when empty.
  double Quantile(double q) const;
  // See the class comment. Both are normalized (fractions of count()).
  double RankErrorBound(double delta = 0.01) const;
  double RankErrorHardBound() const;
  // The retained values with their weights, sorted by value: the sketch's step CDF.
  std::vector<std::pair<double, uint64_t>> WeightedValues() const;

  void ToJson(json::Writer& w) const;
  static Result<QuantileSketch> FromJson(const json::Value& v);

 private:
  void Compress();
  void CompactLevel(size_t level);
  size_t Capacity(size_t level) const;
  void UpdateCapacities();
  bool Coin();

  int k_;
  uint64_t count_ = 0;
  double min_ = 0;
  double max_ = 0;
  // levels_[h] holds values of weight 2^h; level 0 is unsorted, the others sorted.
  std::vector<std::vector<double>> levels_;
  std::vector<size_t> capacities_;  // per level, recomputed when levels are added
  size_t level0_capacity_ = 0;
  std::vector<double> scratch_;  // reused by compactions
  // Sums over compactions of w and w^2: the error budget (class comment).
  double sum_w_ = 0;
  double sum_w2_ = 0;
  uint64_t rng_;
};

// Counts of string items: exact until more than `capacity` distinct items,
// then a Misra-Gries summary (mergeable, Agarwal et al. 2012): every count is
// at most max_error() below the true count, and any item more frequent than
// total() / (capacity + 1) is kept.
// Thread-compatible.
class FrequentItems {
 public:
  static constexpr size_t kDefaultCapacity = 1000;
  explicit FrequentItems(size_t capacity = kDefaultCapacity);

  void Add(std::string_view item, uint64_t count = 1);
  void Merge(const FrequentItems& other);

  size_t capacity() const { return capacity_; }
  uint64_t total() const { return total_; }
  uint64_t max_error() const { return max_error_; }
  bool exact() const { return max_error_ == 0; }
  // Kept items, most frequent first (ties by item).
  std::vector<std::pair<std::string, uint64_t>> Items() const;
  // A lower bound on the item's count (exact when exact()).
  uint64_t Count(std::string_view item) const;

  void ToJson(json::Writer& w) const;
  static Result<FrequentItems> FromJson(const json::Value& v);

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  void Reduce();
  size_t capacity_;
  uint64_t total_ = 0;
  uint64_t max_error_ = 0;
  std::unordered_map<std::string, uint64_t, Hash, std::equal_to<>> counts_;
};

// ---------------------------------------------------------------------------
// Raw columns

enum class ColumnKind : uint8_t { kNumeric, kCategorical };
std::string_view ColumnKindName(ColumnKind kind);  // "numeric", "categorical"

// One column of a table. Numeric: one double per row, NaN = missing.
// Categorical: one code per row into dictionary, kMissingCode = missing.
struct Column {
  static constexpr uint32_t kMissingCode = UINT32_MAX;
  std::string name;
  ColumnKind kind = ColumnKind::kNumeric;
  std::vector<double> numbers;
  std::vector<uint32_t> codes;
  std::vector<std::string> dictionary;
  // Numeric columns read with a forced schema: values that were not numbers
  // (kept as missing), and where the first one was.
  uint64_t invalid = 0;
  std::string first_invalid;  // "file:line: 'text'"

  size_t size() const { return kind == ColumnKind::kNumeric ? numbers.size() : codes.size(); }
};

struct Table {
  int64_t rows = 0;
  std::vector<Column> columns;
  const Column* Find(std::string_view name) const;
};

struct CsvOptions {
  // Read only these columns (empty: all). Unknown names are an error.
  std::vector<std::string> columns;
  // Kinds forced by name (e.g. the reference's kinds when reading the current
  // set). Other columns are numeric when every non-missing value is a number.
  std::vector<std::pair<std::string, ColumnKind>> kinds;
  int threads = 0;  // 0: one per core
  // Called now and then with (bytes parsed, file size); calls are serialized.
  std::function<void(uint64_t, uint64_t)> progress;
};

// Reads a CSV file (RFC 4180: header row, comma separator, "quoted" fields
// with "" escapes, LF or CRLF). Empty fields and NA, N/A, NaN, nan, null, None
// are missing; numbers are parsed exactly like strtod. Errors
// (kInvalidParameterValue) name the file, line and column.
Result<Table> ReadCsv(const std::filesystem::path& path, const CsvOptions& options = {});
// The same on text in memory; label names it in errors.
Result<Table> ParseCsv(std::string_view text, std::string_view label, const CsvOptions& options = {});

// ---------------------------------------------------------------------------
// Two-sample statistics. Each says which scipy/numpy call it matches.

struct KsResult {
  double statistic = kNaN;  // D = sup |F_a - F_b|
  double p_value = kNaN;
  double location = kNaN;  // where D is reached
  int sign = 0;            // +1 if F_a > F_b there
  bool exact = false;      // p-value from the exact distribution
};
// scipy.stats.ks_2samp(a, b) (two-sided, method='auto': exact when both
// samples have at most 10,000 values, else Smirnov's asymptotic form).
// REQUIRES: a and b sorted ascending, non-empty, no NaN.
KsResult KsTwoSampleSorted(std::span<const double> a, std::span<const double> b);
// The p-value part alone, for a statistic d of samples of sizes n1 and n2.
double KsTwoSamplePValue(double d, uint64_t n1, uint64_t n2, bool* exact = nullptr);
// scipy.stats.kstwo.sf(d, n): the two-sided one-sample KS distribution.
double KolmogorovSf(int64_t n, double d);
// scipy.special.smirnov(n, d): Pr(D+_n >= d).
double SmirnovSf(int64_t n, double d);
// scipy.stats.chi2.sf(x, dof).
double ChiSquareSf(double x, double dof);

// scipy.stats.wasserstein_distance(a, b). REQUIRES: sorted, non-empty, no NaN.
double WassersteinSorted(std::span<const double> a, std::span<const double> b);

struct ChiSquareResult {
  double statistic = kNaN;
  int64_t dof = 0;
  double p_value = kNaN;
  double cramers_v = kNaN;  // effect size: sqrt(statistic / total)
};
// scipy.stats.chi2_contingency([a, b], correction=False): are the two count
// vectors draws from one distribution? Categories empty in both are dropped.
ChiSquareResult ChiSquareHomogeneity(std::span<const double> a, std::span<const double> b);
// scipy.stats.chisquare(observed, expected) (expected rescaled to the observed total).
ChiSquareResult ChiSquareGoodnessOfFit(std::span<const double> observed,
                                       std::span<const double> expected);
// Two-proportion z-test (Evidently's "z" for binary columns): share of hits
// in a vs in b. Returns the two-sided p-value; *cohens_h gets |h|.
double ZTestProportions(double hits_a, double n_a, double hits_b, double n_b,
                        double* cohens_h = nullptr);
// Distances between two count (or share) vectors over the same bins.
// PSI = sum (p - q) ln(p / q), zero shares replaced by kPsiEpsilon.
inline constexpr double kPsiEpsilon = 1e-4;
double Psi(std::span<const double> a, std::span<const double> b);
// scipy.spatial.distance.jensenshannon(a, b, base) (base 2: in [0, 1]).
double JensenShannonDistance(std::span<const double> a, std::span<const double> b,
                             double base = 2);
// sqrt(1 - sum sqrt(p q)), in [0, 1].
double HellingerDistance(std::span<const double> a, std::span<const double> b);

enum class Correction : uint8_t { kBenjaminiHochberg, kBonferroni, kNone };
std::string_view CorrectionName(Correction c);  // "bh", "bonferroni", "none"
Result<Correction> ParseCorrection(std::string_view name);
// Adjusted p-values in input order (NaN stays NaN and does not count as a
// test). BH is statsmodels' fdr_bh; Bonferroni is min(1, m p).
std::vector<double> AdjustPValues(std::span<const double> p, Correction c);

// numpy.quantile(sorted, q) (method 'linear'). REQUIRES: sorted, non-empty.
double QuantileSorted(std::span<const double> sorted, double q);
// Sorts doubles ascending (LSD radix sort; far faster than std::sort at a
// million values). REQUIRES: no NaN.
void SortDoubles(std::vector<double>& values);

// ---------------------------------------------------------------------------
// Profiles

// Counts over bins: bin i is [edges[i-1], edges[i]), edges[-1] = -inf and
// edges[size] = +inf, so counts.size() == edges.size() + 1.
struct Histogram {
  std::vector<double> edges;
  std::vector<double> counts;
};

struct ProfileOptions {
  int sketch_k = QuantileSketch::kDefaultK;
  int bins = 10;                 // reference-quantile bins (PSI, Jensen-Shannon, Hellinger)
  size_t max_items = FrequentItems::kDefaultCapacity;
  size_t max_distinct = 32;      // exact value counts kept for numeric columns
  uint64_t seed = 1;
};

// The profile of one column: what drift and quality checks need, in a few KiB.
struct ColumnProfile {
  std::string name;
  ColumnKind kind = ColumnKind::kNumeric;
  uint64_t count = 0;    // values present
  uint64_t missing = 0;  // NaN / empty / +-inf
  // Numeric:
  double min = kNaN;
  double max = kNaN;
  double mean = kNaN;
  double m2 = 0;  // sum of squared deviations from the mean (Chan et al. merge)
  QuantileSketch sketch;
  Histogram histogram;
  // Exact value counts while the column has at most max_distinct values.
  std::vector<std::pair<double, uint64_t>> distinct;
  bool distinct_overflow = false;
  // Categorical:
  FrequentItems items;

  double std() const { return count ? std::sqrt(m2 / static_cast<double>(count)) : kNaN; }
  // Folds in another window of the same column. Errors: kInvalidParameterValue
  // for a different kind, different histogram edges, or sketch k.
  Status Merge(const ColumnProfile& other, size_t max_distinct = 32);
};

struct DatasetProfile {
  uint64_t rows = 0;
  std::vector<ColumnProfile> columns;
  const ColumnProfile* Find(std::string_view name) const;
  // Column by column, by name. Errors: kInvalidParameterValue when the
  // column sets differ or a column does not merge.
  Status Merge(const DatasetProfile& other);
};

// Streams one column's values into a profile (a window of live traffic).
// Numeric histograms use `edges` (give the reference's, so windows merge and
// compare exactly); without edges, Finish() takes them from the sketch's
// quantiles and estimates the counts from it.
// Thread-compatible.
class ColumnProfileBuilder {
 public:
  ColumnProfileBuilder(std::string name, ColumnKind kind, const ProfileOptions& options = {},
                       std::vector<double> edges = {});
  void AddNumber(double v);  // NaN and +-inf count as missing
  void AddString(std::string_view s);
  void AddMissing() { ++profile_.missing; }
  ColumnProfile Finish();

 private:
  ProfileOptions options_;
  ColumnProfile profile_;
  bool fixed_edges_;
};

// Profiles every column of a table, exactly where it can be: histogram edges
// are the exact reference quantiles, counts are exact. With `reference`, its
// columns' edges are used (a current window to compare or merge).
DatasetProfile ProfileTable(const Table& table, const ProfileOptions& options = {},
                            const DatasetProfile* reference = nullptr);

std::string ProfileToJson(const DatasetProfile& profile);
Result<DatasetProfile> ProfileFromJson(std::string_view text);

// ---------------------------------------------------------------------------
// Drift

enum class DriftMethod : uint8_t {
  kAuto,  // Evidently's defaults, by kind and reference size
  kKs,
  kChiSquare,
  kZ,
  kWasserstein,  // normalized by the reference's standard deviation
  kJensenShannon,
  kPsi,
  kHellinger,
};
std::string_view DriftMethodName(DriftMethod m);  // "ks", "chisquare", "z", ...
Result<DriftMethod> ParseDriftMethod(std::string_view name);
bool MethodGivesPValue(DriftMethod m);

struct DriftOptions {
  DriftMethod method = DriftMethod::kAuto;
  // p-value methods: drift when the (corrected) p-value < threshold;
  // distances: drift when the distance >= threshold. Default: alpha for
  // p-values, 0.1 for distances (Evidently's defaults).
  std::optional<double> threshold;
  double alpha = 0.05;
  Correction correction = Correction::kBenjaminiHochberg;
  double drift_share = 0.5;          // dataset drift when this share of features drift
  int64_t small_sample_max = 1000;   // reference values at or below: KS / chi-square / z
  int categorical_max_unique = 5;    // numeric columns with this few values: categorical
  int bins = 10;                     // reference-quantile bins for PSI / JS / Hellinger
  double missing_rate_tolerance = 0.05;  // flag a missing-share rise above this
  double out_of_range_tolerance = 0.01;  // flag when this share is outside reference min/max
  double unseen_tolerance = 0.0;         // flag when this share is new categories
  std::vector<std::string> columns;      // compare only these (empty: all shared)
  std::string target;
  std::string prediction;
  int threads = 0;  // columns in parallel; 0: one per core
  int chart_bins = 30;
  int chart_categories = 20;
};

struct ColumnSummary {
  uint64_t count = 0;
  uint64_t missing = 0;
  double min = kNaN, max = kNaN, mean = kNaN, std = kNaN;
  double p25 = kNaN, median = kNaN, p75 = kNaN;
  uint64_t unique = 0;  // categorical (or small-cardinality numeric)
  double missing_rate() const {
    uint64_t n = count + missing;
    return n ? static_cast<double>(missing) / static_cast<double>(n) : 0.0;
  }
};

// Every statistic computed for one column (NaN where it does not apply).
struct DriftStats {
  double ks_statistic = kNaN, ks_p_value = kNaN;
  double wasserstein = kNaN, wasserstein_normed = kNaN;
  double chi2_statistic = kNaN, chi2_p_value = kNaN, cramers_v = kNaN;
  int64_t chi2_dof = 0;
  double z_p_value = kNaN, cohens_h = kNaN;
  double psi = kNaN, jensen_shannon = kNaN, hellinger = kNaN;
};

// What the HTML report draws: shares per bin (numeric, equal-width edges) or
// per category (labels).
struct Chart {
  bool categorical = false;
  std::vector<double> edges;  // numeric: bins + 1 edges
  std::vector<std::string> labels;
  std::vector<double> reference;
  std::vector<double> current;
};

struct QualityIssue {
  std::string column;  // empty for the dataset
  std::string kind;    // missing_column, new_column, type_mismatch, missing_rate,
                       // out_of_range, unseen_categories, empty_column
  std::string message;
};

struct FeatureDrift {
  std::string column;
  std::string role = "feature";  // feature, target, prediction
  ColumnKind kind = ColumnKind::kNumeric;  // as tested
  bool tested = false;                     // false: no values on one side
  DriftMethod method = DriftMethod::kAuto;
  double score = kNaN;        // the method's statistic: p-value or distance
  double p_value = kNaN;      // raw p-value (p-value methods)
  double adjusted_p_value = kNaN;
  double threshold = kNaN;
  std::string effect_size_name;  // beside every p-value
  double effect_size = kNaN;
  bool drifted = false;
  bool approximate = false;  // from sketches (profiles)
  DriftStats stats;
  ColumnSummary reference, current;
  uint64_t out_of_range = 0;     // current values outside reference [min, max]
  uint64_t unseen = 0;           // current values of categories the reference lacks
  std::vector<std::string> unseen_examples;
  Chart chart;
};

struct DriftReport {
  int64_t reference_rows = 0;
  int64_t current_rows = 0;
  std::vector<FeatureDrift> columns;  // features in reference order, then target, prediction
  int features_tested = 0;
  int features_drifted = 0;
  double drift_share = 0;
  bool dataset_drift = false;
  std::vector<QualityIssue> quality;
  DriftOptions options;
};

// Compares current against reference column by column (by name).
// Errors: kInvalidParameterValue for an empty table, or a --columns / target /
// prediction name missing from the reference.
Result<DriftReport> CompareTables(const Table& reference, const Table& current,
                                  const DriftOptions& options = {});
// The same on profiles (approximate KS and Wasserstein: from the sketches).
Result<DriftReport> CompareProfiles(const DatasetProfile& reference,
                                    const DatasetProfile& current,
                                    const DriftOptions& options = {});

struct ReportLabels {
  std::string reference = "reference";
  std::string current = "current";
};
std::string DriftReportToJson(const DriftReport& report, const ReportLabels& labels = {});
// One self-contained HTML page (inline CSS, JS and SVG; nothing fetched).
std::string DriftReportToHtml(const DriftReport& report, const ReportLabels& labels = {});

// ------------------------------------------------------------ window results
// What a live monitor measured on one closed window of a deployment; alert
// rules match on `metric` (docs/monitoring.md lists the names):
//   drift_share, dataset_drift (1/0), feature_drift.<col> (1/0),
//   drift_score.<col> (the method's statistic), p_value.<col>,
//   missing_rate.<col>, out_of_range_rate.<col>, unseen_rate.<col>,
//   rows, requests_per_s, error_rate, latency_p50_ms, latency_p99_ms,
//   memory_bytes, accuracy, precision, recall, f1, roc_auc, log_loss, mae,
//   rmse, change.<detector> (1 when ADWIN / DDM / Page-Hinkley signalled).
struct MetricPoint {
  std::string deployment;
  int64_t window_start_ms = 0;  // [start, end), Unix milliseconds
  int64_t window_end_ms = 0;
  std::string metric;
  double value = 0;
};

// Receives every closed window's results (the alert manager is one).
// Called from the monitor's worker thread; must not block for long.
class MetricObserver {
 public:
  virtual ~MetricObserver() = default;
  virtual void Observe(std::span<const MetricPoint> points) = 0;
};

// ======== performance metrics and change detectors (declarations below)

// Names of the window metrics below (MetricPoint::metric).
inline constexpr std::string_view kMetricAccuracy = "accuracy";
inline constexpr std::string_view kMetricPrecision = "precision";
inline constexpr std::string_view kMetricRecall = "recall";
inline constexpr std::string_view kMetricF1 = "f1";
inline constexpr std::string_view kMetricRocAuc = "roc_auc";
inline constexpr std::string_view kMetricLogLoss = "log_loss";
inline constexpr std::string_view kMetricMae = "mae";
inline constexpr std::string_view kMetricRmse = "rmse";

// A metric's name and value (what a window contributes to MetricPoints).
struct NamedValue {
  std::string name;
  double value = kNaN;
};

// How precision, recall and F1 are averaged over classes (sklearn's
// `average`): kBinary scores the positive class only; kMacro is the
// unweighted mean over every class seen in labels or predictions; kAuto is
// kBinary when at most two classes were seen, else kMacro.
enum class Averaging : uint8_t { kAuto, kBinary, kMacro };

// sklearn.metrics.log_loss clips probabilities to [eps, 1 - eps].
inline constexpr double kLogLossEpsilon = 1e-15;

// Classification quality of one window, from (label, predicted class[,
// score]) rows. Classes are strings (a number's text is its class). Counts
// merge exactly (a confusion matrix); ROC AUC keeps every (score, label)
// pair, so its memory grows with the window. Zero divisions give 0 as
// sklearn's default does. Thread-compatible.
class ClassificationMetrics {
 public:
  explicit ClassificationMetrics(std::string positive_label = "1",
                                 Averaging averaging = Averaging::kAuto);

  void Add(std::string_view label, std::string_view predicted);
  // score: the predicted probability of the positive class (binary tasks);
  // it feeds ROC AUC and log loss. A NaN score counts as Add().
  void Add(std::string_view label, std::string_view predicted, double score);
  // Errors: kInvalidParameterValue when the positive label or averaging differ.
  Status Merge(const ClassificationMetrics& other);

  uint64_t count() const { return count_; }
  uint64_t scored() const { return scores_.size(); }
  const std::string& positive_label() const { return positive_; }
  bool binary() const;  // the averaging in effect is kBinary

  double Accuracy() const;  // NaN when empty
  double Precision() const;
  double Recall() const;
  double F1() const;
  // Binary, from scores: the Mann-Whitney U statistic / (n_pos n_neg), ties
  // counted half (sklearn's roc_auc_score). NaN unless both classes have scores.
  double RocAuc() const;
  // Binary, from scores (sklearn's log_loss with eps = kLogLossEpsilon).
  double LogLoss() const;
  // Every metric that is defined, named as in MetricPoint.
  std::vector<NamedValue> Values() const;

 private:
  size_t ClassIndex(std::string_view name);
  // Precision and recall of class c (zero division -> 0).
  double ClassPrecision(size_t c) const;
  double ClassRecall(size_t c) const;
  std::optional<size_t> PositiveIndex() const;

  std::string positive_;
  Averaging averaging_;
  std::vector<std::string> classes_;
  // confusion_[label][predicted], grown as classes appear.
  std::vector<std::vector<uint64_t>> confusion_;
  uint64_t count_ = 0;
  uint64_t correct_ = 0;
  std::vector<std::pair<double, bool>> scores_;  // (score, label is positive)
  double log_loss_sum_ = 0;
};

// Regression quality of one window. Mergeable (sums). Thread-compatible.
class RegressionMetrics {
 public:
  // Non-finite labels or predictions are skipped (counted in skipped()).
  void Add(double label, double prediction);
  void Merge(const RegressionMetrics& other);
  uint64_t count() const { return count_; }
  uint64_t skipped() const { return skipped_; }
  double Mae() const;   // NaN when empty
  double Rmse() const;  // NaN when empty
  std::vector<NamedValue> Values() const;

 private:
  uint64_t count_ = 0;
  uint64_t skipped_ = 0;
  double abs_sum_ = 0;
  double sq_sum_ = 0;
};

// A streaming change detector on a stream of numbers (e.g. 1 = wrong
// prediction, 0 = right; or absolute errors). Update returns true when it
// detects a change; afterwards the detector has already forgotten what the
// paper says to forget. Thread-compatible.
class ChangeDetector {
 public:
  virtual ~ChangeDetector() = default;
  virtual bool Update(double x) = 0;
  // DDM's warning zone (others: false).
  virtual bool warning() const { return false; }
  // "adwin", "ddm", "page_hinkley": the <detector> of change.<detector>.
  virtual std::string_view name() const = 0;
  virtual void Reset() = 0;
};

// ADWIN2 (Bifet & Gavalda 2007): an adaptive window kept as an exponential
// histogram (at most max_buckets buckets per size 2^i); every `clock`
// updates, each split of the window into old | new at a bucket boundary is
// tested, and while |mean_old - mean_new| exceeds the variance-based bound
// eps_cut(delta) the oldest bucket is dropped. A change = the window shrank.
struct AdwinOptions {
  double delta = 0.002;
  int max_buckets = 5;
  int clock = 32;             // test for cuts every `clock` updates
  int min_window_length = 5;  // each side of a cut has at least this many
  int grace_period = 10;      // no test while the window is shorter
};
class Adwin final : public ChangeDetector {
 public:
  explicit Adwin(const AdwinOptions& options = {});
  bool Update(double x) override;
  std::string_view name() const override { return "adwin"; }
  void Reset() override;
  uint64_t width() const { return width_; }
  double mean() const { return width_ ? total_ / static_cast<double>(width_) : kNaN; }
  double variance() const { return width_ ? variance_ / static_cast<double>(width_) : kNaN; }
  size_t buckets() const;

 private:
  struct Bucket {
    double total;
    double variance;  // sum of squared deviations from the bucket mean
  };
  void Insert(double x);
  void Compress();
  void DropOldest();
  bool CutExists(uint64_t n0, uint64_t n1, double u0, double u1) const;

  AdwinOptions options_;
  // rows_[i]: buckets of 2^i items, newest first.
  std::vector<std::vector<Bucket>> rows_;
  uint64_t width_ = 0;
  double total_ = 0;
  double variance_ = 0;
  uint64_t ticks_ = 0;
};

// DDM (Gama et al. 2004) on a 0/1 error stream: p_i = error rate so far,
// s_i = sqrt(p_i (1 - p_i) / i); remembers the (p, s) where p + s was
// lowest; warning at p + s > p_min + warning_level s_min, drift at
// p + s > p_min + drift_level s_min, after which it starts over.
struct DdmOptions {
  int min_instances = 30;
  double warning_level = 2.0;
  double drift_level = 3.0;
};
class Ddm final : public ChangeDetector {
 public:
  explicit Ddm(const DdmOptions& options = {});
  // REQUIRES: x is 0 or 1 (other values are clamped into [0, 1]).
  bool Update(double x) override;
  bool warning() const override { return warning_; }
  std::string_view name() const override { return "ddm"; }
  void Reset() override;
  double error_rate() const { return p_; }

 private:
  DdmOptions options_;
  uint64_t n_ = 0;
  double p_ = 0;
  double s_ = 0;
  double p_min_ = 0;
  double s_min_ = 0;
  double ps_min_ = 0;
  bool warning_ = false;
};

// Page-Hinkley test (Page 1954; Hinkley) for an increase of the mean:
// m_T = sum_t (x_t - mean_t - delta), with old terms faded by alpha
// (m_T = alpha m_{T-1} + ...); drift when m_T - min_t m_t > lambda and at
// least min_instances values were seen, after which it starts over.
struct PageHinkleyOptions {
  double delta = 0.005;
  double lambda = 50;
  double alpha = 1 - 0.0001;
  int min_instances = 30;
};
class PageHinkley final : public ChangeDetector {
 public:
  explicit PageHinkley(const PageHinkleyOptions& options = {});
  bool Update(double x) override;
  std::string_view name() const override { return "page_hinkley"; }
  void Reset() override;
  double statistic() const { return sum_ - min_sum_; }

 private:
  PageHinkleyOptions options_;
  uint64_t n_ = 0;
  double mean_ = 0;
  double sum_ = 0;
  double min_sum_ = 0;
};

// ======== alert rules, alert manager, webhook delivery (declarations below)

enum class CompareOp : uint8_t { kGt, kGe, kLt, kLe };
std::string_view CompareOpName(CompareOp op);  // ">", ">=", "<", "<="
// Errors: kInvalidParameterValue naming `field`.
Result<CompareOp> ParseCompareOp(std::string_view text, std::string_view field = "op");
bool Compare(double value, CompareOp op, double threshold);  // false for NaN

// `pattern` is an exact metric name or "<prefix>.*" (any metric starting
// with "<prefix>.", e.g. "feature_drift.*").
bool MetricMatches(std::string_view pattern, std::string_view metric);

// An alert rule: fires for a deployment's metric when `metric op threshold`
// holds for for_windows consecutive windows. docs/monitoring.md.
struct AlertRule {
  std::string id;  // assigned by CreateRule
  std::string name;
  std::string deployment;  // "" = any deployment
  std::string metric;      // exact name or trailing ".*" wildcard
  CompareOp op = CompareOp::kGt;
  double threshold = 0;
  int for_windows = 1;
  std::vector<std::string> webhooks;  // http://host[:port][/path]
  bool enabled = true;
  int64_t creation_timestamp = 0;
  int64_t last_updated_timestamp = 0;
};
// The field that is wrong is named (kInvalidParameterValue).
Status ValidateAlertRule(const AlertRule& rule);

// A partial update: fields left empty keep their value.
struct AlertRuleUpdate {
  std::string id;
  std::optional<std::string> name;
  std::optional<std::string> deployment;
  std::optional<std::string> metric;
  std::optional<CompareOp> op;
  std::optional<double> threshold;
  std::optional<int> for_windows;
  std::optional<std::vector<std::string>> webhooks;
  std::optional<bool> enabled;
};

enum class AlertState : uint8_t { kFiring, kResolved };
std::string_view AlertStateName(AlertState s);  // "firing", "resolved"
Result<AlertState> ParseAlertState(std::string_view text);

// One per (rule, deployment, metric): fires, resolves, may fire again.
struct Alert {
  int64_t id = 0;
  std::string rule_id;
  std::string rule_name;
  std::string deployment;
  std::string metric;
  AlertState state = AlertState::kFiring;
  CompareOp op = CompareOp::kGt;
  double threshold = 0;
  double value = 0;             // the value of the last window evaluated
  int64_t window_start_ms = 0;  // that window (the resolving one once resolved)
  int64_t window_end_ms = 0;
  int64_t first_seen_ms = 0;  // when this firing began (clock time)
  int64_t last_seen_ms = 0;   // when the condition last held (clock time)
  int64_t resolved_ms = 0;    // when it resolved; 0 while firing
};

// What listeners and webhooks get: an alert that started firing or resolved.
struct AlertEvent {
  AlertState state = AlertState::kFiring;
  Alert alert;
  int64_t timestamp_ms = 0;
};
// An alert as a JSON object (the webhook's "alert", the REST API's alerts).
void WriteAlertJson(json::Writer& w, const Alert& alert);
// The webhook body (docs/monitoring.md: "Webhook payload").
std::string AlertEventToJson(const AlertEvent& event);

// Subscribers to alerts (retraining, rollback). Called on the thread that
// called Observe, after the alert is stored; must not block for long.
class AlertListener {
 public:
  virtual ~AlertListener() = default;
  virtual void OnAlert(const AlertEvent& event) = 0;
};

// One attempt to deliver one event to one webhook.
struct DeliveryAttempt {
  int64_t id = 0;
  int64_t alert_id = 0;
  std::string rule_id;
  std::string url;
  AlertState event = AlertState::kFiring;
  int attempt = 1;       // 1, 2, ...
  int status_code = 0;   // 0 when no HTTP response came back
  std::string error;     // "" on success
  bool success = false;  // 2xx
  bool final = false;    // no further attempt follows (success or given up)
  int64_t timestamp_ms = 0;
};

// Webhook retries: attempt k (k >= 2) waits min(max_backoff, base_backoff *
// 2^(k-2)) after attempt k-1 failed (no response, or a non-2xx status).
struct WebhookOptions {
  int max_attempts = 5;
  std::chrono::milliseconds base_backoff{500};
  std::chrono::milliseconds max_backoff{30'000};
  std::chrono::milliseconds timeout{5'000};  // one attempt
  size_t max_queue = 10'000;                 // undelivered events beyond are dropped
};

struct AlertFilter {
  std::string deployment;  // "" = any
  std::optional<AlertState> state;
  std::string rule_id;  // "" = any
  int max_results = 100;
};
struct DeliveryFilter {
  int64_t alert_id = 0;  // 0 = any
  std::string rule_id;   // "" = any
  int max_results = 100;
};
inline constexpr int kAlertsMaxResults = 1000;

// Stores rules, alerts and the delivery log in SQL (component "alerts"),
// evaluates rules on every window's MetricPoints, and delivers events to
// webhooks from a background thread. Thread-safe. A condition's streak of
// consecutive windows is kept in memory (a restart starts it over); whether
// an alert is firing is stored, so a restart still sends its resolution.
class AlertManager : public MetricObserver {
 public:
  // Applies the "alerts" migrations; starts the delivery thread.
  static Result<std::unique_ptr<AlertManager>> Open(sql::Database& db, const Clock& clock,
                                                    IdGenerator& ids,
                                                    const WebhookOptions& options = {});
  ~AlertManager() override = default;

  virtual Result<AlertRule> CreateRule(const AlertRule& rule) = 0;
  virtual Result<AlertRule> GetRule(std::string_view id) = 0;
  virtual Result<std::vector<AlertRule>> ListRules() = 0;
  virtual Result<AlertRule> UpdateRule(const AlertRuleUpdate& update) = 0;
  // The rule's alerts and delivery log stay (history); it fires no more.
  virtual Status DeleteRule(std::string_view id) = 0;

  // Most recently seen first.
  virtual Result<std::vector<Alert>> ListAlerts(const AlertFilter& filter) = 0;
  // Newest first.
  virtual Result<std::vector<DeliveryAttempt>> ListDeliveries(const DeliveryFilter& filter) = 0;

  // REQUIRES: listener outlives this manager (or is removed first).
  virtual void AddListener(AlertListener* listener) = 0;
  virtual void RemoveListener(AlertListener* listener) = 0;

  // Evaluates every enabled rule on the points (MetricObserver). Stores
  // alert changes, tells listeners and queues webhook deliveries; never waits
  // for a delivery. Points with a NaN value are ignored.
  void Observe(std::span<const MetricPoint> points) override = 0;
  // The same, returning the storage error instead of logging it.
  virtual Status Evaluate(std::span<const MetricPoint> points) = 0;

  // Blocks until no delivery is queued or in flight, or the timeout passes;
  // true when idle.
  virtual bool WaitForDeliveries(std::chrono::milliseconds timeout) = 0;
  // Stops the delivery thread (queued deliveries are dropped and logged).
  // Idempotent; the destructor calls it.
  virtual void Shutdown() = 0;
};

// The "alerts" component's migrations (also run by `mlforge db upgrade`).
Status ApplyAlertMigrations(sql::Database& db);

// ======== live monitors: capture, windows, ingestion, results (declarations below)

// docs/monitoring.md ("Live monitoring"). A deployment's monitor profiles a
// sample of its traffic (captured from serving, or ingested from elsewhere)
// per window, compares each closed window with a reference profile, stores
// the results and hands them to a MetricObserver as MetricPoints.

inline constexpr int64_t kMinWindowSeconds = 1;
inline constexpr int64_t kMaxWindowSeconds = 30 * 24 * 3600;
inline constexpr int kResultsDefault = 100;
inline constexpr int kResultsMax = 1000;

// Where a monitor's reference profile comes from. Reference profiles are
// stored by key: "model:<name>/<version>", "dataset:<version id>", or
// "monitor:<deployment>" for one uploaded with the monitor.
enum class ReferenceKind : uint8_t { kModelVersion, kDataset, kUploaded };
std::string_view ReferenceKindName(ReferenceKind kind);  // "model_version", "dataset", "uploaded"

struct MonitorConfig {
  std::string deployment;
  int64_t window_seconds = 3600;  // a window is [start, start + window_seconds)
  double sample_rate = 1.0;       // share of requests captured, in [0, 1]
  ReferenceKind reference_kind = ReferenceKind::kUploaded;
  std::string reference_model;    // kModelVersion
  int64_t reference_version = 0;  // kModelVersion
  std::string reference_dataset;  // kDataset: a dataset version id
  // Drift tests: method (DriftMethodName or "auto"), threshold (unset: the
  // method's default), correction, drift_share, columns (empty: all shared).
  DriftOptions drift;
  bool enabled = true;
  // Keep sampled requests as JSON Lines (bounded; docs/monitoring.md).
  bool raw_log = false;
  int64_t creation_timestamp = 0;
  int64_t last_updated_timestamp = 0;

  std::string ReferenceKey() const;
};
// Errors: kInvalidParameterValue naming the field.
Status ValidateMonitorConfig(const MonitorConfig& config);
// The JSON the API shows and the store keeps: {"deployment", "window_seconds",
// "sample_rate", "reference": {"kind", "model_name", "version", "dataset_id"},
// "drift": {"method", "threshold", "correction", "drift_share", "columns"},
// "enabled", "raw_log", timestamps}. Parse starts from `base` (update).
void WriteMonitorConfig(json::Writer& w, const MonitorConfig& config);
Result<MonitorConfig> ParseMonitorConfig(const json::Value& value, const MonitorConfig& base);

// System health of a window: from every request (sampled or not) that
// serving captured. Latencies in milliseconds.
struct WindowHealth {
  uint64_t requests = 0;
  uint64_t errors = 0;
  double requests_per_s = 0;
  double error_rate = 0;
  double latency_p50_ms = kNaN;
  double latency_p95_ms = kNaN;
  double latency_p99_ms = kNaN;
  double memory_bytes = 0;  // the process's resident set when the window closed
};

// One closed window of a deployment.
struct WindowResult {
  std::string deployment;
  int64_t window_start_ms = 0;
  int64_t window_end_ms = 0;
  uint64_t rows = 0;     // profiled rows (sampled and ingested)
  bool compared = false;  // false: no reference or no rows
  std::string message;    // why not compared
  double drift_share = 0;
  bool dataset_drift = false;
  std::vector<std::string> drifted_features;
  std::string features_json;  // [{"column", "method", "score", "p_value", "drifted", ...}]
  WindowHealth health;
  // Performance where labels joined predictions: metric name -> value (mae,
  // rmse, accuracy, ...), and how many labelled rows it came from.
  std::vector<std::pair<std::string, double>> performance;
  uint64_t labelled_rows = 0;
  std::string profile_json;  // the window's profile (ProfileToJson), for reports
};
void WriteWindowResult(json::Writer& w, const WindowResult& result);

struct WindowResultPage {
  std::vector<WindowResult> results;  // oldest first
  std::string next_page_token;
};

// The points an observer gets for a window (the names listed at MetricPoint).
std::vector<MetricPoint> WindowMetricPoints(const WindowResult& result);

// A prediction made elsewhere (or captured), one request of one or more rows.
struct IngestedPrediction {
  std::string deployment;
  std::string request_id;
  int64_t timestamp_ms = 0;
  // Row-major, by column name: features[r] holds (name, value) pairs; a
  // value is a JSON number, string or null.
  std::vector<std::vector<std::pair<std::string, json::Value>>> features;
  std::vector<std::string> output_names;
  std::vector<double> outputs;  // rows * output_names.size(), row-major
};

// Ground truth for a request: one value per row of its prediction.
struct GroundTruth {
  std::string deployment;
  std::string request_id;
  int64_t timestamp_ms = 0;
  std::vector<double> values;
};

// What the label join keeps of a prediction: its request id, when it was
// made, and its first output per row.
struct PredictionRecord {
  std::string request_id;
  int64_t timestamp_ms = 0;
  std::vector<double> outputs;
};

// A prediction's first output per row beside its label, for performance.
struct LabelledRow {
  double prediction = 0;
  double label = 0;
};

// Performance of a window from its labelled rows, in time order. When every
// label is 0 or 1 the model is taken as a binary classifier whose output is
// the positive class's probability (thresholded at 0.5): accuracy,
// precision, recall, f1, roc_auc, log_loss; else a regressor: mae, rmse.
// Then the change detectors run over the window's error stream (absolute
// error; DDM on misclassifications): change.adwin, change.page_hinkley and,
// for classifiers, change.ddm are 1 when the detector signalled.
std::vector<std::pair<std::string, double>> WindowPerformance(std::span<const LabelledRow> rows);

// The stored monitors, reference profiles, window results, predictions and
// labels (SQL component "monitor"). Thread-safe: each call is one transaction.
class MonitorStore {
 public:
  // Applies the "monitor" migrations. db and clock must outlive the store.
  static Result<std::unique_ptr<MonitorStore>> Open(sql::Database& db, const Clock& clock);
  virtual ~MonitorStore() = default;

  // Errors: kResourceAlreadyExists, kInvalidParameterValue.
  virtual Result<MonitorConfig> CreateMonitor(const MonitorConfig& config) = 0;
  virtual Result<MonitorConfig> GetMonitor(std::string_view deployment) = 0;
  virtual Result<std::vector<MonitorConfig>> ListMonitors() = 0;  // by deployment
  virtual Result<MonitorConfig> UpdateMonitor(const MonitorConfig& config) = 0;
  // Also drops the deployment's results (not its predictions and labels).
  virtual Status DeleteMonitor(std::string_view deployment) = 0;

  virtual Status PutReference(std::string_view key, const DatasetProfile& profile) = 0;
  // kResourceDoesNotExist when none is stored under the key.
  virtual Result<DatasetProfile> GetReference(std::string_view key) = 0;

  // Replaces a result with the same (deployment, window start).
  virtual Status PutResult(const WindowResult& result) = 0;
  virtual Result<WindowResult> GetResult(std::string_view deployment, int64_t window_start_ms) = 0;
  // Windows starting in [from_ms, to_ms), oldest first.
  virtual Result<WindowResultPage> ListResults(std::string_view deployment, int64_t from_ms,
                                               int64_t to_ms, int max_results,
                                               std::string_view page_token) = 0;

  // Appends one chunk of a deployment's predictions (one row, however many
  // predictions: the capture worker stores thousands a second). A label
  // already stored for one of these request ids is matched to it at once;
  // of two predictions with one request id, the later (by timestamp) wins.
  virtual Status PutPredictions(std::string_view deployment,
                                std::span<const PredictionRecord> predictions) = 0;
  // Stores labels (a later label for a request id replaces the earlier) and
  // matches each unmatched one to its prediction: the stored chunks are
  // searched newest first, until every label is matched or the chunks end.
  virtual Status PutLabels(std::span<const GroundTruth> labels) = 0;
  // Labelled rows of predictions made in [from_ms, to_ms).
  virtual Result<std::vector<LabelledRow>> JoinLabels(std::string_view deployment, int64_t from_ms,
                                                      int64_t to_ms) = 0;
  // Start times of the deployment's stored windows holding the predictions
  // these request ids' labels matched (to recompute performance when labels
  // arrive late).
  virtual Result<std::vector<int64_t>> WindowsOfRequests(std::string_view deployment,
                                                         std::span<const std::string> ids) = 0;
  // Retention: drops the deployment's prediction chunks whose last prediction
  // is older than before_ms (labels matched already keep their prediction).
  // Returns how many predictions went.
  virtual Result<int64_t> PrunePredictions(std::string_view deployment, int64_t before_ms) = 0;
};

// Applies the "monitor" schema migrations (mlforge db upgrade).
Status ApplyMonitorMigrations(sql::Database& db);

// One captured request, as the capture queue holds it (copied from serving's
// CapturedPrediction by app/'s adapter; only sampled requests carry rows).
struct CapturedRequest {
  std::string deployment;
  std::string request_id;
  int64_t timestamp_ms = 0;
  double latency_ms = 0;
  bool error = false;
  bool sampled = false;
  // Shared by the requests of one model (the adapter keeps one list per
  // signature), so the worker resolves a list's columns once, not per request.
  std::shared_ptr<const std::vector<std::string>> feature_names;
  int64_t rows = 0;
  std::vector<float> features;  // rows * feature_names.size()
  std::vector<std::string> output_names;
  std::vector<double> outputs;  // rows * output_names.size()
};

// Builds reference profiles from training data; app/ adapts the registry,
// tracking and datasets to it. Thread-safe; may block (database, disk).
class ReferenceSource {
 public:
  virtual ~ReferenceSource() = default;
  // The profile of a dataset version's CSV files (by version id).
  virtual Result<DatasetProfile> ProfileDataset(std::string_view version_id) = 0;
  // The profile of the dataset version a model version was trained on (its
  // run's dataset input with context "training", else its first one).
  virtual Result<DatasetProfile> ProfileModelVersion(std::string_view model, int64_t version) = 0;
};

struct LiveMonitorOptions {
  // Captured requests waiting for the worker (about a second at full load;
  // each slot keeps its buffers for reuse).
  size_t queue_capacity = 16384;
  // How often the worker drains the queue and closes due windows.
  std::chrono::milliseconds tick{200};
  // Raw logs (JSON Lines) go under this directory, one file per deployment,
  // each at most raw_log_max_bytes (then rotated once to .1). Empty: no raw logs.
  std::filesystem::path raw_log_dir;
  uint64_t raw_log_max_bytes = 64 << 20;
  MetricObserver* observer = nullptr;  // optional; must outlive the monitor
  // How long stored predictions wait for their labels (pruned as windows close).
  std::chrono::hours prediction_retention{24 * 7};
  // Optional; must outlive the monitor. A monitor naming a model version or
  // dataset whose profile is not stored yet gets it computed and stored.
  ReferenceSource* references = nullptr;
};

struct CaptureStats {
  uint64_t captured = 0;  // pushed to the queue
  uint64_t dropped = 0;   // the queue was full
  uint64_t processed = 0; // drained by the worker
};

// Live monitors of every deployment: capture queue, per-window state, and
// the worker that closes windows. Thread-safe. Capture() is the request-path
// call: one sampling decision and one lock-free try-push.
class LiveMonitor {
 public:
  // Starts the worker. store and clock must outlive the monitor.
  static Result<std::unique_ptr<LiveMonitor>> Start(MonitorStore& store, const Clock& clock,
                                                    LiveMonitorOptions options);
  virtual ~LiveMonitor() = default;

  // The request path's one decision: kOff without an enabled monitor (no
  // capture at all), else kSample when a hash of the request id falls under
  // the sample rate (the rows are copied and profiled), else kCount (health
  // only: latency and errors count every request). Lock-free.
  enum class Sampling : uint8_t { kOff, kCount, kSample };
  virtual Sampling Decide(std::string_view deployment, std::string_view request_id) const = 0;
  // Non-blocking: false (and counted as dropped) when the queue is full.
  // Swaps `request` into the queue: it comes back holding an older request's
  // buffers (contents unspecified), for the caller to refill, so a steady
  // stream of captures allocates nothing and frees nothing on request threads.
  virtual bool Capture(CapturedRequest& request) = 0;
  virtual CaptureStats Stats() const = 0;

  // Monitor configuration (stored; applied to the live state at once).
  // A reference given as a profile is stored under the monitor's key; one
  // named by model version or dataset is computed through the
  // ReferenceSource when not stored yet (kInvalidParameterValue if it
  // cannot be).
  virtual Result<MonitorConfig> Create(const MonitorConfig& config,
                                       const DatasetProfile* uploaded_reference) = 0;
  virtual Result<MonitorConfig> Update(const MonitorConfig& config,
                                       const DatasetProfile* uploaded_reference) = 0;
  virtual Status Delete(std::string_view deployment) = 0;

  // A model version was registered: its reference profile is computed from
  // its training data on a background thread and stored, so monitors naming
  // it start at once. Returns at once; a version without training data is
  // skipped (logged), as is one whose profile is stored already.
  virtual void PrepareReference(std::string model, int64_t version) = 0;
  // Waits until every PrepareReference asked so far is done (tests).
  virtual void WaitForReferences() = 0;

  // Drains what is queued, then closes the deployment's current window now
  // (it ends now; the next starts now). Returns the stored result.
  virtual Result<WindowResult> CloseWindow(std::string_view deployment) = 0;

  // Predictions made elsewhere: profiled into the current windows and stored
  // for the label join. Errors: kResourceDoesNotExist without a monitor.
  virtual Status IngestPredictions(std::vector<IngestedPrediction> predictions) = 0;
  // Ground truth: stored; performance of closed windows holding these
  // requests is recomputed.
  virtual Status IngestLabels(std::vector<GroundTruth> labels) = 0;

  // The drift report of a stored window against the monitor's reference.
  virtual Result<DriftReport> Report(std::string_view deployment, int64_t window_start_ms) = 0;

  // Stops the worker (what is queued is processed, windows stay open).
  // Idempotent; the destructor calls it.
  virtual void Shutdown() = 0;
};



}  // namespace mlforge::monitor

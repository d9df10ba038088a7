#include "app/drift_command.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "monitor/monitor.h"

namespace mlforge::app {
namespace {

namespace fs = std::filesystem;

struct DriftArgs {
  CLI::App* command = nullptr;
  std::string reference;
  std::string current;
  std::string html;
  std::string json;
  std::vector<std::string> columns;
  std::vector<std::string> categorical;
  std::string target;
  std::string prediction;
  std::string method = "auto";
  double threshold = 0;
  double alpha = 0.05;
  std::string correction = "bh";
  double drift_share = 0.5;
  int bins = 10;
  int threads = 0;
  bool fail_on_drift = false;
  bool quiet = false;
};

DriftArgs& Args() {
  static DriftArgs args;
  return args;
}

// Exit codes: 0 report written (drift or not), 1 a report file could not be
// written, 2 bad input or options, 3 dataset drift with --fail-on-drift.
constexpr int kExitWriteError = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitDrift = 3;

// A progress line on a terminal, for files big enough to wait for.
class ReadProgress {
 public:
  ReadProgress(std::string label, bool quiet)
      : label_(std::move(label)), enabled_(!quiet && ::isatty(STDERR_FILENO) == 1) {}
  ~ReadProgress() {
    if (shown_) std::fprintf(stderr, "\r%-72s\r", "");
  }
  void operator()(uint64_t done, uint64_t total) {
    if (!enabled_ || total < (64u << 20)) return;
    auto now = std::chrono::steady_clock::now();
    if (shown_ && now - last_ < std::chrono::milliseconds(100) && done < total) return;
    last_ = now;
    shown_ = true;
    std::fprintf(stderr, "\rreading %s: %3.0f%% (%llu of %llu MiB)", label_.c_str(),
                 100.0 * static_cast<double>(done) / static_cast<double>(total),
                 static_cast<unsigned long long>(done >> 20), static_cast<unsigned long long>(total >> 20));
    std::fflush(stderr);
  }

 private:
  std::string label_;
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_;
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

std::string Num(double v) {
  if (std::isnan(v)) return "-";
  if (v != 0 && (std::abs(v) < 1e-3 || std::abs(v) >= 1e6)) return fmt::format("{:.2e}", v);
  return fmt::format("{:.4g}", v);
}

Status WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return InvalidArgument("cannot write " + path);
  out << content;
  out.close();
  if (!out) return InvalidArgument("cannot write " + path);
  return Status::Ok();
}

void PrintSummary(const monitor::DriftReport& r) {
  auto label = [](const monitor::FeatureDrift& f) {
    std::string name = f.column.size() > 32 ? f.column.substr(0, 31) + "~" : f.column;
    return f.role == "feature" ? name : name + " (" + f.role + ")";
  };
  size_t width = 6;
  for (const auto& f : r.columns) width = std::max(width, label(f).size());
  std::printf("%-*s  %-11s  %-13s  %10s  %9s  %-21s  %-26s  %s\n", static_cast<int>(width), "column", "kind",
              "method", "score", "threshold", "p-value (adjusted)", "effect size", "drift");
  for (const auto& f : r.columns) {
    std::string name = label(f);
    if (!f.tested) {
      std::printf("%-*s  %-11s  not tested: no values on one side\n", static_cast<int>(width), name.c_str(),
                  std::string(monitor::ColumnKindName(f.kind)).c_str());
      continue;
    }
    std::string p = monitor::MethodGivesPValue(f.method)
                        ? Num(f.p_value) + " (" + Num(f.adjusted_p_value) + ")"
                        : "-";
    std::string effect = f.effect_size_name + " " + Num(f.effect_size);
    std::printf("%-*s  %-11s  %-13s  %10s  %9s  %-21s  %-26s  %s\n", static_cast<int>(width), name.c_str(),
                std::string(monitor::ColumnKindName(f.kind)).c_str(),
                std::string(monitor::DriftMethodName(f.method)).c_str(), Num(f.score).c_str(),
                Num(f.threshold).c_str(), p.c_str(), effect.c_str(), f.drifted ? "DRIFT" : "ok");
  }
  if (!r.quality.empty()) {
    std::printf("\ndata quality:\n");
    for (const auto& q : r.quality) {
      std::printf("  %s%s%s: %s\n", q.column.c_str(), q.column.empty() ? "" : " ", q.kind.c_str(),
                  q.message.c_str());
    }
  }
  std::printf("\n%s: %d of %d features drifted (%.1f%%; dataset drift at %.1f%%)\n",
              r.dataset_drift ? "DATASET DRIFT" : "no dataset drift", r.features_drifted, r.features_tested,
              100 * r.drift_share, 100 * r.options.drift_share);
}

int Run() {
  const DriftArgs& a = Args();
  auto fail = [](const std::string& msg, int code) {
    std::fprintf(stderr, "mlforge drift: %s\n", msg.c_str());
    return code;
  };
  monitor::DriftOptions options;
  auto method = monitor::ParseDriftMethod(a.method);
  if (!method) return fail(method.error().message(), kExitBadInput);
  auto correction = monitor::ParseCorrection(a.correction);
  if (!correction) return fail(correction.error().message(), kExitBadInput);
  options.method = *method;
  options.correction = *correction;
  if (a.threshold > 0) options.threshold = a.threshold;
  options.alpha = a.alpha;
  options.drift_share = a.drift_share;
  options.bins = a.bins;
  options.threads = a.threads;
  options.columns = a.columns;
  options.target = a.target;
  options.prediction = a.prediction;

  // Reference first: its column kinds are forced on the current file, so a
  // stray word in a numeric column is a quality finding, not a new type.
  monitor::CsvOptions ref_csv;
  ref_csv.threads = a.threads;
  if (!a.columns.empty()) {
    ref_csv.columns = a.columns;
    for (const std::string* extra : {&a.target, &a.prediction}) {
      if (!extra->empty()) ref_csv.columns.push_back(*extra);
    }
  }
  for (const std::string& c : a.categorical) ref_csv.kinds.emplace_back(c, monitor::ColumnKind::kCategorical);
  auto t0 = std::chrono::steady_clock::now();
  ReadProgress ref_progress(a.reference, a.quiet);
  ref_csv.progress = [&](uint64_t d, uint64_t t) { ref_progress(d, t); };
  auto reference = monitor::ReadCsv(a.reference, ref_csv);
  if (!reference) return fail(reference.error().message(), kExitBadInput);
  for (const std::string& c : a.categorical) {
    if (reference->Find(c) == nullptr) return fail(a.reference + ": no column '" + c + "' (--categorical)", kExitBadInput);
  }

  monitor::CsvOptions cur_csv;
  cur_csv.threads = a.threads;
  for (const monitor::Column& c : reference->columns) cur_csv.kinds.emplace_back(c.name, c.kind);
  ReadProgress cur_progress(a.current, a.quiet);
  cur_csv.progress = [&](uint64_t d, uint64_t t) { cur_progress(d, t); };
  auto current = monitor::ReadCsv(a.current, cur_csv);
  if (!current) return fail(current.error().message(), kExitBadInput);
  double read_seconds = Seconds(t0);

  auto t1 = std::chrono::steady_clock::now();
  auto report = monitor::CompareTables(*reference, *current, options);
  if (!report) return fail(report.error().message(), kExitBadInput);
  double compare_seconds = Seconds(t1);

  monitor::ReportLabels labels{fs::path(a.reference).filename().string(), fs::path(a.current).filename().string()};
  if (!a.json.empty()) {
    Status s = WriteFile(a.json, monitor::DriftReportToJson(*report, labels));
    if (!s.ok()) return fail(s.message(), kExitWriteError);
  }
  if (!a.html.empty()) {
    Status s = WriteFile(a.html, monitor::DriftReportToHtml(*report, labels));
    if (!s.ok()) return fail(s.message(), kExitWriteError);
  }
  if (!a.quiet) {
    std::printf("reference %s: %lld rows; current %s: %lld rows\n\n", a.reference.c_str(),
                static_cast<long long>(report->reference_rows), a.current.c_str(),
                static_cast<long long>(report->current_rows));
    PrintSummary(*report);
    std::printf("read in %.2f s, compared %zu columns in %.2f s%s%s%s%s\n", read_seconds, report->columns.size(),
                compare_seconds, a.json.empty() ? "" : "; JSON: ", a.json.c_str(),
                a.html.empty() ? "" : "; HTML: ", a.html.c_str());
  }
  return a.fail_on_drift && report->dataset_drift ? kExitDrift : 0;
}

}  // namespace

void AddDriftCommand(CLI::App& app) {
  DriftArgs& a = Args();
  a.command = app.add_subcommand(
      "drift",
      "Data drift and data quality of a current CSV against a reference CSV, per column and for the dataset");
  a.command->add_option("--reference,-r", a.reference, "Reference CSV (e.g. the training data)")->required();
  a.command->add_option("--current,-c", a.current, "Current CSV (e.g. recent production inputs)")->required();
  a.command->add_option("--html", a.html, "Write a self-contained HTML report here");
  a.command->add_option("--json", a.json, "Write the full report as JSON here");
  a.command->add_option("--columns", a.columns, "Compare only these columns")->delimiter(',');
  a.command->add_option("--categorical", a.categorical, "Treat these columns as categorical")->delimiter(',');
  a.command->add_option("--target", a.target, "The target column (reported apart from the features)");
  a.command->add_option("--prediction", a.prediction, "The prediction column (reported apart from the features)");
  a.command->add_option("--method", a.method,
                        "auto (Evidently's defaults), ks, chisquare, z, wasserstein, jensenshannon, psi, hellinger")
      ->capture_default_str();
  a.command->add_option("--threshold", a.threshold,
                        "Drift threshold: p-value for ks/chisquare/z, distance otherwise (default 0.05 / 0.1)")
      ->check(CLI::PositiveNumber);
  a.command->add_option("--alpha", a.alpha, "Significance level of the p-value tests")
      ->capture_default_str()
      ->check(CLI::Range(1e-12, 0.999999));
  a.command->add_option("--correction", a.correction, "Multiple-testing correction: bh, bonferroni, none")
      ->capture_default_str();
  a.command->add_option("--drift-share", a.drift_share, "Share of drifted features that means dataset drift")
      ->capture_default_str()
      ->check(CLI::Range(1e-9, 1.0));
  a.command->add_option("--bins", a.bins, "Reference-quantile bins for PSI, Jensen-Shannon and Hellinger")
      ->capture_default_str()
      ->check(CLI::Range(2, 1000));
  a.command->add_option("--threads,-j", a.threads, "Threads (default: one per core)")->check(CLI::Range(0, 1024));
  a.command->add_flag("--fail-on-drift", a.fail_on_drift, "Exit with 3 when the dataset drifted (for CI)");
  a.command->add_flag("--quiet,-q", a.quiet, "Print nothing on success");
}

bool RunDriftCommand(int* exit_code) {
  if (Args().command == nullptr || !Args().command->parsed()) return false;
  *exit_code = Run();
  return true;
}

}  // namespace mlforge::app

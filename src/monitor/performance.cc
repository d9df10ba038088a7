// Windowed performance metrics (docs/monitoring.md, "Performance metrics"):
// the formulas of sklearn.metrics, checked against numpy in
// tests/monitor/performance_test.cc.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "monitor/monitor.h"

namespace mlforge::monitor {
namespace {

double Ratio(uint64_t a, uint64_t b) {
  return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b);
}

double F1Of(double precision, double recall) {
  return precision + recall == 0 ? 0.0 : 2 * precision * recall / (precision + recall);
}

}  // namespace

ClassificationMetrics::ClassificationMetrics(std::string positive_label, Averaging averaging)
    : positive_(std::move(positive_label)), averaging_(averaging) {}

size_t ClassificationMetrics::ClassIndex(std::string_view name) {
  for (size_t i = 0; i < classes_.size(); ++i) {
    if (classes_[i] == name) return i;
  }
  classes_.emplace_back(name);
  for (auto& row : confusion_) row.push_back(0);
  confusion_.emplace_back(classes_.size(), 0);
  return classes_.size() - 1;
}

void ClassificationMetrics::Add(std::string_view label, std::string_view predicted) {
  const size_t l = ClassIndex(label);
  const size_t p = ClassIndex(predicted);
  ++confusion_[l][p];
  ++count_;
  if (l == p) ++correct_;
}

void ClassificationMetrics::Add(std::string_view label, std::string_view predicted, double score) {
  Add(label, predicted);
  if (std::isnan(score)) return;
  const bool positive = label == positive_;
  scores_.emplace_back(score, positive);
  const double p = std::clamp(score, kLogLossEpsilon, 1 - kLogLossEpsilon);
  log_loss_sum_ -= positive ? std::log(p) : std::log1p(-p);
}

Status ClassificationMetrics::Merge(const ClassificationMetrics& other) {
  if (other.positive_ != positive_ || other.averaging_ != averaging_) {
    return InvalidArgument(
        "Cannot merge classification metrics with a different positive label "
        "or averaging");
  }
  for (size_t l = 0; l < other.classes_.size(); ++l) {
    const size_t ml = ClassIndex(other.classes_[l]);
    for (size_t p = 0; p < other.classes_.size(); ++p) {
      const size_t mp = ClassIndex(other.classes_[p]);
      confusion_[ml][mp] += other.confusion_[l][p];
    }
  }
  count_ += other.count_;
  correct_ += other.correct_;
  scores_.insert(scores_.end(), other.scores_.begin(), other.scores_.end());
  log_loss_sum_ += other.log_loss_sum_;
  return Status::Ok();
}

std::optional<size_t> ClassificationMetrics::PositiveIndex() const {
  for (size_t i = 0; i < classes_.size(); ++i) {
    if (classes_[i] == positive_) return i;
  }
  return std::nullopt;
}

bool ClassificationMetrics::binary() const {
  switch (averaging_) {
    case Averaging::kBinary:
      return true;
    case Averaging::kMacro:
      return false;
    case Averaging::kAuto:
      break;
  }
  return classes_.size() <= 2;
}

double ClassificationMetrics::ClassPrecision(size_t c) const {
  uint64_t predicted = 0;
  for (const auto& row : confusion_) predicted += row[c];
  return Ratio(confusion_[c][c], predicted);
}

double ClassificationMetrics::ClassRecall(size_t c) const {
  uint64_t actual = 0;
  for (uint64_t n : confusion_[c]) actual += n;
  return Ratio(confusion_[c][c], actual);
}

double ClassificationMetrics::Accuracy() const {
  return count_ == 0 ? kNaN : Ratio(correct_, count_);
}

// Binary: the positive class's score (0 when it never occurred, as sklearn
// with zero_division=0); macro: the mean of the per-class scores.
double ClassificationMetrics::Precision() const {
  if (count_ == 0) return kNaN;
  if (binary()) {
    auto pos = PositiveIndex();
    return pos ? ClassPrecision(*pos) : 0.0;
  }
  double sum = 0;
  for (size_t c = 0; c < classes_.size(); ++c) sum += ClassPrecision(c);
  return sum / static_cast<double>(classes_.size());
}

double ClassificationMetrics::Recall() const {
  if (count_ == 0) return kNaN;
  if (binary()) {
    auto pos = PositiveIndex();
    return pos ? ClassRecall(*pos) : 0.0;
  }
  double sum = 0;
  for (size_t c = 0; c < classes_.size(); ++c) sum += ClassRecall(c);
  return sum / static_cast<double>(classes_.size());
}

// Macro F1 is the mean of per-class F1 scores (sklearn), not the F1 of the
// macro precision and recall.
double ClassificationMetrics::F1() const {
  if (count_ == 0) return kNaN;
  if (binary()) {
    auto pos = PositiveIndex();
    return pos ? F1Of(ClassPrecision(*pos), ClassRecall(*pos)) : 0.0;
  }
  double sum = 0;
  for (size_t c = 0; c < classes_.size(); ++c) sum += F1Of(ClassPrecision(c), ClassRecall(c));
  return sum / static_cast<double>(classes_.size());
}

// AUC = U / (n_pos n_neg), U = (sum of the positives' midranks) - n_pos (n_pos + 1) / 2.
double ClassificationMetrics::RocAuc() const {
  std::vector<std::pair<double, bool>> sorted = scores_;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  double n_pos = 0;
  double rank_sum = 0;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    double positives = 0;
    while (j < sorted.size() && sorted[j].first == sorted[i].first) {
      if (sorted[j].second) ++positives;
      ++j;
    }
    const double midrank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    rank_sum += positives * midrank;
    n_pos += positives;
    i = j;
  }
  const double n_neg = static_cast<double>(sorted.size()) - n_pos;
  if (n_pos == 0 || n_neg == 0) return kNaN;
  return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg);
}

double ClassificationMetrics::LogLoss() const {
  return scores_.empty() ? kNaN : log_loss_sum_ / static_cast<double>(scores_.size());
}

std::vector<NamedValue> ClassificationMetrics::Values() const {
  std::vector<NamedValue> out;
  auto add = [&](std::string_view name, double v) {
    if (!std::isnan(v)) out.push_back({std::string(name), v});
  };
  add(kMetricAccuracy, Accuracy());
  add(kMetricPrecision, Precision());
  add(kMetricRecall, Recall());
  add(kMetricF1, F1());
  if (binary()) {
    add(kMetricRocAuc, RocAuc());
    add(kMetricLogLoss, LogLoss());
  }
  return out;
}

void RegressionMetrics::Add(double label, double prediction) {
  if (!std::isfinite(label) || !std::isfinite(prediction)) {
    ++skipped_;
    return;
  }
  const double e = prediction - label;
  ++count_;
  abs_sum_ += std::fabs(e);
  sq_sum_ += e * e;
}

void RegressionMetrics::Merge(const RegressionMetrics& other) {
  count_ += other.count_;
  skipped_ += other.skipped_;
  abs_sum_ += other.abs_sum_;
  sq_sum_ += other.sq_sum_;
}

double RegressionMetrics::Mae() const {
  return count_ == 0 ? kNaN : abs_sum_ / static_cast<double>(count_);
}

double RegressionMetrics::Rmse() const {
  return count_ == 0 ? kNaN : std::sqrt(sq_sum_ / static_cast<double>(count_));
}

std::vector<NamedValue> RegressionMetrics::Values() const {
  if (count_ == 0) return {};
  return {{std::string(kMetricMae), Mae()}, {std::string(kMetricRmse), Rmse()}};
}

}  // namespace mlforge::monitor

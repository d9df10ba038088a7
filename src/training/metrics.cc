// Evaluation metrics, with sklearn's definitions so numbers compare.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "training/training.h"

namespace mlforge::training {
namespace {

constexpr double kEps = 1e-15;  // sklearn's log_loss clipping

double Clip(double p) { return std::clamp(p, kEps, 1 - kEps); }

struct Confusion {
  double tp = 0, fp = 0, fn = 0, tn = 0;
};

Confusion Count(std::span<const double> y, std::span<const double> prob) {
  Confusion c;
  for (size_t i = 0; i < y.size(); ++i) {
    bool predicted = prob[i] >= 0.5;
    bool actual = y[i] > 0.5;
    if (predicted && actual) ++c.tp;
    if (predicted && !actual) ++c.fp;
    if (!predicted && actual) ++c.fn;
    if (!predicted && !actual) ++c.tn;
  }
  return c;
}

double Ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

}  // namespace

std::string_view TaskName(Task task) {
  switch (task) {
    case Task::kRegression:
      return "regression";
    case Task::kBinary:
      return "binary";
    case Task::kMulticlass:
      return "multiclass";
  }
  return "regression";
}

double Rmse(std::span<const double> y, std::span<const double> pred) {
  if (y.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) s += (y[i] - pred[i]) * (y[i] - pred[i]);
  return std::sqrt(s / static_cast<double>(y.size()));
}

double Mae(std::span<const double> y, std::span<const double> pred) {
  if (y.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) s += std::abs(y[i] - pred[i]);
  return s / static_cast<double>(y.size());
}

double R2(std::span<const double> y, std::span<const double> pred) {
  if (y.empty()) return std::numeric_limits<double>::quiet_NaN();
  double mean = std::accumulate(y.begin(), y.end(), 0.0) / static_cast<double>(y.size());
  double ss_res = 0, ss_tot = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    ss_res += (y[i] - pred[i]) * (y[i] - pred[i]);
    ss_tot += (y[i] - mean) * (y[i] - mean);
  }
  if (ss_tot == 0) return ss_res == 0 ? 1.0 : 0.0;
  return 1 - ss_res / ss_tot;
}

double Accuracy(std::span<const double> y, std::span<const double> prob) {
  if (y.empty()) return std::numeric_limits<double>::quiet_NaN();
  Confusion c = Count(y, prob);
  return (c.tp + c.tn) / static_cast<double>(y.size());
}

double LogLoss(std::span<const double> y, std::span<const double> prob) {
  if (y.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    double p = Clip(prob[i]);
    s -= y[i] > 0.5 ? std::log(p) : std::log1p(-p);
  }
  return s / static_cast<double>(y.size());
}

double RocAuc(std::span<const double> y, std::span<const double> prob) {
  // Mann-Whitney U: the sum of the positives' ranks (ties get their mean rank).
  std::vector<size_t> order(y.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return prob[a] < prob[b]; });
  double positives = 0, rank_sum = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && prob[order[j]] == prob[order[i]]) ++j;
    double mean_rank = (static_cast<double>(i) + static_cast<double>(j) + 1) / 2;  // 1-based
    for (size_t k = i; k < j; ++k) {
      if (y[order[k]] > 0.5) {
        positives += 1;
        rank_sum += mean_rank;
      }
    }
    i = j;
  }
  double negatives = static_cast<double>(y.size()) - positives;
  if (positives == 0 || negatives == 0) return std::numeric_limits<double>::quiet_NaN();
  return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

double Precision(std::span<const double> y, std::span<const double> prob) {
  Confusion c = Count(y, prob);
  return Ratio(c.tp, c.tp + c.fp);
}

double Recall(std::span<const double> y, std::span<const double> prob) {
  Confusion c = Count(y, prob);
  return Ratio(c.tp, c.tp + c.fn);
}

double F1(std::span<const double> y, std::span<const double> prob) {
  Confusion c = Count(y, prob);
  return Ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn);
}

double MultiAccuracy(std::span<const double> y, std::span<const double> prob, int classes) {
  if (y.empty()) return std::numeric_limits<double>::quiet_NaN();
  double right = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    auto row = prob.subspan(i * static_cast<size_t>(classes), static_cast<size_t>(classes));
    auto best = std::max_element(row.begin(), row.end()) - row.begin();
    if (static_cast<double>(best) == y[i]) ++right;
  }
  return right / static_cast<double>(y.size());
}

double MultiLogLoss(std::span<const double> y, std::span<const double> prob, int classes) {
  if (y.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    size_t label = static_cast<size_t>(y[i]);
    s -= std::log(Clip(prob[i * static_cast<size_t>(classes) + label]));
  }
  return s / static_cast<double>(y.size());
}

std::vector<NamedValue> EvaluateTask(Task task, int classes, std::span<const double> y,
                                     std::span<const double> pred, std::string_view prefix) {
  std::vector<NamedValue> out;
  auto add = [&](std::string_view name, double v) {
    if (!std::isnan(v)) out.push_back({std::string(prefix) + std::string(name), v});
  };
  if (y.empty()) return out;
  switch (task) {
    case Task::kRegression:
      add("rmse", Rmse(y, pred));
      add("mae", Mae(y, pred));
      add("r2", R2(y, pred));
      break;
    case Task::kBinary:
      add("accuracy", Accuracy(y, pred));
      add("log_loss", LogLoss(y, pred));
      add("roc_auc", RocAuc(y, pred));
      add("precision", Precision(y, pred));
      add("recall", Recall(y, pred));
      add("f1", F1(y, pred));
      break;
    case Task::kMulticlass:
      add("accuracy", MultiAccuracy(y, pred, classes));
      add("log_loss", MultiLogLoss(y, pred, classes));
      break;
  }
  return out;
}

}  // namespace mlforge::training

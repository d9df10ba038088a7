// PrepareTraining: columns, labels, split and parameters checked before any
// run exists; then the flavor's trainer.
#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "training/internal.h"
#include "training/training.h"

namespace mlforge::training {
namespace {

bool Contains(std::span<const std::string> list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

std::string Listed(std::span<const std::string> names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < 20; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 20) out += fmt::format(", ... ({} columns)", names.size());
  return out;
}

}  // namespace

namespace internal {

std::string NumberText(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, ec == std::errc() ? end : buf);
}

Result<int64_t> ParseIntParam(std::string_view key, std::string_view value) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size()) {
    return Err(InvalidArgument(fmt::format("--param {}={}: expected an integer", key, value)));
  }
  return v;
}

Result<double> ParseDoubleParam(std::string_view key, std::string_view value) {
  double v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size() || !std::isfinite(v)) {
    return Err(InvalidArgument(fmt::format("--param {}={}: expected a number", key, value)));
  }
  return v;
}

void TrainedModelBase::Evaluate(const PreparedData& data, const std::vector<double>& train_pred,
                                std::vector<double> valid_pred) {
  final_metrics_ = EvaluateTask(task_, outputs_, data.y_train, train_pred, "train_");
  std::vector<NamedValue> v =
      EvaluateTask(task_, outputs_, data.y_valid, valid_pred, "validation_");
  final_metrics_.insert(final_metrics_.end(), v.begin(), v.end());
  valid_pred_ = std::move(valid_pred);
}

}  // namespace internal

Result<Flavor> ParseFlavor(std::string_view name) {
  if (name == "xgboost") return Flavor::kXgboost;
  if (name == "linear") return Flavor::kLinear;
  return Err(
      InvalidArgument("Unknown --flavor '" + std::string(name) + "' (known: xgboost, linear)"));
}

Result<std::vector<std::string>> ColumnsToLoad(std::span<const std::string> header,
                                               const TrainOptions& options) {
  if (options.target.empty()) return Err(InvalidArgument("--target names no column"));
  if (!Contains(header, options.target)) {
    return Err(InvalidArgument(fmt::format("Target column '{}' is not in the data (columns: {})",
                                           options.target, Listed(header))));
  }
  for (const std::string& c : options.exclude) {
    if (!Contains(header, c)) {
      return Err(InvalidArgument(fmt::format("Excluded column '{}' is not in the data", c)));
    }
  }
  std::vector<std::string> keep;
  if (!options.features.empty()) {
    for (const std::string& f : options.features) {
      if (!Contains(header, f)) {
        return Err(InvalidArgument(fmt::format(
            "Feature column '{}' is not in the data (columns: {})", f, Listed(header))));
      }
      if (f == options.target) {
        return Err(InvalidArgument("The target '" + f + "' cannot also be a feature"));
      }
    }
  }
  for (const std::string& c : header) {
    bool wanted = c == options.target || (options.features.empty() ? !Contains(options.exclude, c)
                                                                   : Contains(options.features, c));
    if (wanted) keep.push_back(c);
  }
  if (keep.size() < 2) return Err(InvalidArgument("No feature columns left besides the target"));
  return keep;
}

Result<std::unique_ptr<Trainer>> PrepareTraining(const Table& table, const TrainOptions& options) {
  auto column = [&](std::string_view name) -> int64_t {
    auto it = std::find(table.columns.begin(), table.columns.end(), name);
    return it == table.columns.end() ? -1 : it - table.columns.begin();
  };
  const int64_t target = column(options.target);
  if (target < 0) {
    return Err(InvalidArgument(fmt::format("Target column '{}' is not in the data (columns: {})",
                                           options.target, Listed(table.columns))));
  }
  internal::PreparedData data;
  if (!options.features.empty()) {
    data.features = options.features;
  } else {
    for (const std::string& c : table.columns) {
      if (c != options.target && !Contains(options.exclude, c)) data.features.push_back(c);
    }
  }
  std::vector<size_t> feature_cols;
  for (const std::string& f : data.features) {
    int64_t c = column(f);
    if (c < 0 || c == target) {
      return Err(InvalidArgument(fmt::format("Feature column '{}' is not in the data", f)));
    }
    feature_cols.push_back(static_cast<size_t>(c));
  }
  if (data.features.empty())
    return Err(InvalidArgument("No feature columns left besides the target"));
  if (table.rows == 0) return Err(InvalidArgument("The data has no rows"));

  data.labels_binary = data.labels_integer = true;
  for (int64_t r = 0; r < table.rows; ++r) {
    double y = table.at(r, static_cast<size_t>(target));
    if (std::isnan(y)) {
      return Err(InvalidArgument(
          fmt::format("The target '{}' is empty in data row {}: every row needs a label",
                      options.target, r + 1)));
    }
    if (y != 0 && y != 1) data.labels_binary = false;
    if (y < 0 || y != std::floor(y)) data.labels_integer = false;
    data.max_label = r == 0 ? y : std::max(data.max_label, y);
    for (size_t i = 0; i < feature_cols.size() && !data.has_missing; ++i) {
      if (std::isnan(table.at(r, feature_cols[i]))) {
        data.has_missing = true;
        data.first_missing_column = data.features[i];
        data.first_missing_row = r;
      }
    }
  }
  ASSIGN_OR_RETURN(data.split, SplitRows(table.rows, options.validation_fraction, options.seed));
  auto gather = [&](const std::vector<int64_t>& rows, std::vector<double>& x,
                    std::vector<double>& y) {
    x.reserve(rows.size() * feature_cols.size());
    y.reserve(rows.size());
    for (int64_t r : rows) {
      for (size_t c : feature_cols) x.push_back(table.at(r, c));
      y.push_back(table.at(r, static_cast<size_t>(target)));
    }
  };
  gather(data.split.train, data.x_train, data.y_train);
  gather(data.split.validation, data.x_valid, data.y_valid);
  data.params = {{"target", options.target},
                 {"seed", std::to_string(options.seed)},
                 {"validation_fraction", internal::NumberText(options.validation_fraction)},
                 {"feature_count", std::to_string(data.features.size())},
                 {"train_rows", std::to_string(data.split.train.size())},
                 {"validation_rows", std::to_string(data.split.validation.size())}};
  switch (options.flavor) {
    case Flavor::kXgboost:
      return internal::PrepareXgboost(std::move(data), options);
    case Flavor::kLinear:
      return internal::PrepareLinear(std::move(data), options);
  }
  return Err(InvalidArgument("Unknown flavor"));
}

}  // namespace mlforge::training

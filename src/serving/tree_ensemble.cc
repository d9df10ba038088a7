#include "serving/tree_ensemble.h"

#include <fmt/core.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace mlforge::serving {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

Status Broken(std::string_view what) {
  return InvalidArgument(fmt::format("The XGBoost model is not valid: {}", what));
}
Status Unsupported(std::string_view what) {
  return Status(ErrorCode::kNotImplemented, std::string(what));
}

// XGBoost writes learner parameters as strings ("5E-1", "3").
template <typename T>
Result<T> NumberParam(object o, std::string_view key) {
  std::string_view text;
  if (o[key].get(text)) return Err(Broken(fmt::format("'{}' is missing", key)));
  T v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Err(Broken(fmt::format("'{}' is not a number", key)));
  }
  return v;
}

// A JSON list of numbers (bools count as 0/1: older writers used them for
// default_left).
template <typename T>
Status ReadList(object tree, std::string_view key, std::vector<T>* out) {
  array items;
  if (tree[key].get(items)) return Broken(fmt::format("a tree has no '{}' list", key));
  out->clear();
  out->reserve(items.size());
  for (element e : items) {
    double v = 0;
    switch (e.type()) {
      case simdjson::dom::element_type::INT64: v = static_cast<double>(e.get_int64().value_unsafe()); break;
      case simdjson::dom::element_type::UINT64: v = static_cast<double>(e.get_uint64().value_unsafe()); break;
      case simdjson::dom::element_type::DOUBLE: v = e.get_double().value_unsafe(); break;
      case simdjson::dom::element_type::BOOL: v = e.get_bool().value_unsafe() ? 1 : 0; break;
      default: return Broken(fmt::format("'{}' holds something other than numbers", key));
    }
    out->push_back(static_cast<T>(v));
  }
  return Status::Ok();
}

}  // namespace

Result<TreeEnsemble> TreeEnsemble::FromXgboostJson(std::string_view model_json) {
  simdjson::dom::parser parser;
  element root;
  if (auto error = parser.parse(model_json.data(), model_json.size()).get(root)) {
    return Err(Broken(fmt::format("not JSON: {}", simdjson::error_message(error))));
  }
  object learner;
  if (root["learner"].get(learner)) return Err(Broken("no 'learner'"));
  object param;
  if (learner["learner_model_param"].get(param)) return Err(Broken("no 'learner_model_param'"));

  TreeEnsemble model;
  std::string_view objective;
  if (learner["objective"]["name"].get(objective)) return Err(Broken("no objective name"));
  model.objective_.assign(objective);
  ASSIGN_OR_RETURN(const int64_t num_feature, NumberParam<int64_t>(param, "num_feature"));
  ASSIGN_OR_RETURN(const int64_t num_class, NumberParam<int64_t>(param, "num_class"));
  ASSIGN_OR_RETURN(const float base_score, NumberParam<float>(param, "base_score"));
  if (int64_t num_target = 1; param["num_target"].error() == simdjson::SUCCESS) {
    ASSIGN_OR_RETURN(num_target, NumberParam<int64_t>(param, "num_target"));
    if (num_target != 1) return Err(Unsupported("multi-target models"));
  }
  if (num_feature <= 0 || num_feature >= kDefaultLeft) return Err(Broken("bad num_feature"));
  if (num_class < 0 || num_class > 1 << 20) return Err(Broken("bad num_class"));
  model.num_features_ = static_cast<int>(num_feature);
  model.num_groups_ = std::max<int>(1, static_cast<int>(num_class));

  // The objective's transform and how base_score becomes the base margin
  // (XGBoost's ObjFunction::ProbToMargin).
  if (objective == "reg:squarederror" || objective == "reg:linear") {
    model.transform_ = Transform::kIdentity;
    model.base_margin_ = base_score;
  } else if (objective == "binary:logistic" || objective == "reg:logistic") {
    if (!(base_score > 0.0f && base_score < 1.0f)) return Err(Broken("base_score must be in (0, 1)"));
    model.transform_ = Transform::kSigmoid;
    model.base_margin_ = -std::log(1.0f / base_score - 1.0f);
  } else if (objective == "multi:softprob" || objective == "multi:softmax") {
    if (num_class < 2) return Err(Broken("a multiclass objective needs num_class >= 2"));
    model.transform_ = objective == "multi:softprob" ? Transform::kSoftprob : Transform::kSoftmax;
    model.base_margin_ = base_score;
  } else {
    return Err(Unsupported(fmt::format("objective {}", objective)));
  }
  if (model.num_groups_ > 1 && model.transform_ != Transform::kSoftprob &&
      model.transform_ != Transform::kSoftmax) {
    return Err(Broken("num_class is set for a single-output objective"));
  }

  object booster;
  if (learner["gradient_booster"].get(booster)) return Err(Broken("no 'gradient_booster'"));
  std::string_view booster_name;
  if (booster["name"].get(booster_name)) return Err(Broken("no booster name"));
  if (booster_name != "gbtree") return Err(Unsupported(fmt::format("booster {}", booster_name)));
  object gbtree;
  if (booster["model"].get(gbtree)) return Err(Broken("no gbtree model"));
  array trees;
  if (gbtree["trees"].get(trees)) return Err(Broken("no 'trees'"));
  std::vector<int64_t> tree_info;
  RETURN_IF_ERROR(ReadList(gbtree, "tree_info", &tree_info));
  if (tree_info.size() != trees.size()) return Err(Broken("tree_info does not match the trees"));

  std::vector<int64_t> left, right, split_index, default_left, split_type;
  std::vector<float> condition;
  std::vector<std::pair<int64_t, uint32_t>> queue;  // (node in the file, slot)
  std::vector<char> visited;
  size_t t = 0;
  for (element tree_element : trees) {
    object tree;
    if (tree_element.get(tree)) return Err(Broken("a tree is not an object"));
    const int64_t group = tree_info[t++];
    if (group < 0 || group >= model.num_groups_) return Err(Broken("tree_info names a bad group"));
    RETURN_IF_ERROR(ReadList(tree, "left_children", &left));
    RETURN_IF_ERROR(ReadList(tree, "right_children", &right));
    RETURN_IF_ERROR(ReadList(tree, "split_indices", &split_index));
    RETURN_IF_ERROR(ReadList(tree, "split_conditions", &condition));
    RETURN_IF_ERROR(ReadList(tree, "default_left", &default_left));
    const size_t n = left.size();
    if (n == 0 || right.size() != n || split_index.size() != n || condition.size() != n ||
        default_left.size() != n) {
      return Err(Broken("a tree's node lists differ in length"));
    }
    if (tree["split_type"].error() == simdjson::SUCCESS) {
      RETURN_IF_ERROR(ReadList(tree, "split_type", &split_type));
      for (int64_t type : split_type) {
        if (type != 0) return Err(Unsupported("categorical splits"));
      }
    }
    array categorical_nodes;
    if (!tree["categories_nodes"].get(categorical_nodes) && categorical_nodes.size() != 0) {
      return Err(Unsupported("categorical splits"));
    }
    if (model.nodes_.size() + 2 * n >= kLeaf) return Err(Broken("too many nodes"));

    // Breadth-first renumbering: siblings adjacent, children after parents
    // (so evaluation always moves forward and cannot loop).
    const uint32_t root_slot = static_cast<uint32_t>(model.nodes_.size());
    model.nodes_.push_back({});
    queue.assign(1, {0, root_slot});
    visited.assign(n, 0);
    for (size_t k = 0; k < queue.size(); ++k) {
      const auto [j, slot] = queue[k];
      if (visited[static_cast<size_t>(j)]) return Err(Broken("a tree node has two parents"));
      visited[static_cast<size_t>(j)] = 1;
      const size_t u = static_cast<size_t>(j);
      if (left[u] == -1) {
        // XGBoost stores a leaf's value in split_conditions.
        model.nodes_[slot] = Node{condition[u], 0, kLeaf};
        continue;
      }
      if (left[u] < 0 || right[u] < 0 || left[u] >= static_cast<int64_t>(n) ||
          right[u] >= static_cast<int64_t>(n)) {
        return Err(Broken("a child index is out of range"));
      }
      if (split_index[u] < 0 || split_index[u] >= num_feature) {
        return Err(Broken("a split names a feature beyond num_feature"));
      }
      const uint32_t child = static_cast<uint32_t>(model.nodes_.size());
      model.nodes_.push_back({});
      model.nodes_.push_back({});
      model.nodes_[slot] = Node{condition[u], child,
                                static_cast<uint32_t>(split_index[u]) | (default_left[u] ? kDefaultLeft : 0)};
      queue.emplace_back(left[u], child);
      queue.emplace_back(right[u], child + 1);
    }
    model.roots_.push_back(root_slot);
    model.tree_group_.push_back(static_cast<uint32_t>(group));
  }
  return model;
}

inline float TreeEnsemble::LeafValue(uint32_t i, const float* row) const {
  const Node* nodes = nodes_.data();
  while (!(nodes[i].feature & kLeaf)) {
    const Node& n = nodes[i];
    const float x = row[n.feature & kFeatureMask];
    const bool right = std::isnan(x) ? !(n.feature & kDefaultLeft) : !(x < n.value);
    i = n.left + static_cast<uint32_t>(right);
  }
  return nodes[i].value;
}

void TreeEnsemble::Margins(const float* features, int64_t rows, float* margins) const {
  const int64_t groups = num_groups_;
  std::fill(margins, margins + rows * groups, base_margin_);
  // Tree-major within a block of rows: a tree stays in cache for the block,
  // and each row still adds its trees in model order (XGBoost's order).
  constexpr int64_t kBlock = 64;
  for (int64_t start = 0; start < rows; start += kBlock) {
    const int64_t end = std::min(rows, start + kBlock);
    for (size_t t = 0; t < roots_.size(); ++t) {
      const uint32_t root = roots_[t];
      const uint32_t group = tree_group_[t];
      for (int64_t r = start; r < end; ++r) {
        margins[r * groups + group] += LeafValue(root, features + r * num_features_);
      }
    }
  }
}

void TreeEnsemble::Predict(const float* features, int64_t rows, double* out) const {
  const int64_t groups = num_groups_;
  // Small batches (the real-time case) stay on the stack.
  constexpr int64_t kStackFloats = 256;
  float stack[kStackFloats];
  std::vector<float> heap;
  float* margins = stack;
  if (rows * groups > kStackFloats) {
    heap.resize(static_cast<size_t>(rows * groups));
    margins = heap.data();
  }
  Margins(features, rows, margins);
  switch (transform_) {
    case Transform::kIdentity:
      for (int64_t i = 0; i < rows; ++i) out[i] = margins[i];
      break;
    case Transform::kSigmoid:
      for (int64_t i = 0; i < rows; ++i) out[i] = 1.0f / (1.0f + std::exp(-margins[i]));
      break;
    case Transform::kSoftprob:
      for (int64_t r = 0; r < rows; ++r) {
        float* m = margins + r * groups;
        float wmax = m[0];
        for (int64_t g = 1; g < groups; ++g) wmax = std::fmax(m[g], wmax);
        double wsum = 0;
        for (int64_t g = 0; g < groups; ++g) {
          m[g] = std::exp(m[g] - wmax);
          wsum += m[g];
        }
        for (int64_t g = 0; g < groups; ++g) out[r * groups + g] = m[g] / static_cast<float>(wsum);
      }
      break;
    case Transform::kSoftmax:
      for (int64_t r = 0; r < rows; ++r) {
        const float* m = margins + r * groups;
        int64_t best = 0;
        for (int64_t g = 1; g < groups; ++g) {
          if (m[g] > m[best]) best = g;
        }
        out[r] = static_cast<double>(best);
      }
      break;
  }
}

}  // namespace mlforge::serving

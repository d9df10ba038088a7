// Column and dataset profiles: building (streaming or from a table), merging
// windows, and the JSON form (docs/monitoring.md).
#include <algorithm>
#include <cmath>

#include "base/parallel.h"
#include "monitor/internal.h"
#include "monitor/monitor.h"

namespace mlforge::monitor {
namespace {

constexpr int kProfileVersion = 1;

// Reference-quantile edges: the interior quantiles of sorted values, without
// repeats (tied values would make empty bins).
std::vector<double> QuantileEdges(std::span<const double> sorted, int bins) {
  std::vector<double> edges;
  if (sorted.empty()) return edges;
  for (int i = 1; i < bins; ++i) {
    double e = QuantileSorted(sorted, static_cast<double>(i) / bins);
    if (edges.empty() || e > edges.back()) edges.push_back(e);
  }
  return edges;
}

size_t BinOf(const std::vector<double>& edges, double v) {
  return static_cast<size_t>(std::upper_bound(edges.begin(), edges.end(), v) - edges.begin());
}

void AddDistinct(ColumnProfile& p, double v, uint64_t n, size_t max_distinct) {
  if (p.distinct_overflow) return;
  for (auto& [value, count] : p.distinct) {
    if (value == v) {
      count += n;
      return;
    }
  }
  if (p.distinct.size() >= max_distinct) {
    p.distinct.clear();
    p.distinct_overflow = true;
    return;
  }
  p.distinct.emplace_back(v, n);
}

// Numbers in profile JSON: non-finite values are the protobuf-JSON strings.
Result<double> ReadNumber(const json::Value* v, std::string_view what) {
  if (v != nullptr && v->is_number()) return v->as_double();
  if (v != nullptr && v->is_string()) {
    if (v->as_string() == "NaN") return kNaN;
    if (v->as_string() == "Infinity") return INFINITY;
    if (v->as_string() == "-Infinity") return -INFINITY;
  }
  return Err(InvalidArgument("profile: '" + std::string(what) + "' must be a number"));
}

Result<uint64_t> ReadCount(const json::Value* v, std::string_view what) {
  if (v == nullptr || !v->is_int64() || v->as_int64() < 0) {
    return Err(InvalidArgument("profile: '" + std::string(what) + "' must be a count"));
  }
  return static_cast<uint64_t>(v->as_int64());
}

void WriteColumn(json::Writer& w, const ColumnProfile& c) {
  w.StartObject();
  w.Field("name", c.name);
  w.Field("kind", ColumnKindName(c.kind));
  w.Key("count").Uint(c.count);
  w.Key("missing").Uint(c.missing);
  if (c.kind == ColumnKind::kNumeric) {
    w.Field("min", c.min).Field("max", c.max).Field("mean", c.mean).Field("m2", c.m2);
    w.Key("sketch");
    c.sketch.ToJson(w);
    w.Key("histogram").StartObject();
    internal::WriteDoubles(w, "edges", c.histogram.edges);
    internal::WriteDoubles(w, "counts", c.histogram.counts);
    w.EndObject();
    w.Key("distinct");
    if (c.distinct_overflow) {
      w.Null();
    } else {
      w.StartArray();
      for (const auto& [v, n] : c.distinct) w.StartArray().Double(v).Uint(n).EndArray();
      w.EndArray();
    }
  } else {
    w.Key("items");
    c.items.ToJson(w);
  }
  w.EndObject();
}

Result<ColumnProfile> ReadColumn(const json::Value& v) {
  if (!v.is_object()) return Err(InvalidArgument("profile: each column must be an object"));
  ColumnProfile c;
  const json::Value* name = v.Find("name");
  const json::Value* kind = v.Find("kind");
  if (name == nullptr || !name->is_string() || name->as_string().empty()) {
    return Err(InvalidArgument("profile: a column needs a 'name'"));
  }
  c.name = name->as_string();
  if (kind == nullptr || !kind->is_string() ||
      (kind->as_string() != "numeric" && kind->as_string() != "categorical")) {
    return Err(InvalidArgument("profile: column '" + c.name + "': 'kind' must be numeric or categorical"));
  }
  c.kind = kind->as_string() == "numeric" ? ColumnKind::kNumeric : ColumnKind::kCategorical;
  ASSIGN_OR_RETURN(c.count, ReadCount(v.Find("count"), "count"));
  ASSIGN_OR_RETURN(c.missing, ReadCount(v.Find("missing"), "missing"));
  if (c.kind == ColumnKind::kCategorical) {
    const json::Value* items = v.Find("items");
    if (items == nullptr) return Err(InvalidArgument("profile: column '" + c.name + "' lacks 'items'"));
    ASSIGN_OR_RETURN(c.items, FrequentItems::FromJson(*items));
    if (c.items.total() != c.count) {
      return Err(InvalidArgument("profile: column '" + c.name + "': items do not add up to 'count'"));
    }
    return c;
  }
  ASSIGN_OR_RETURN(c.min, ReadNumber(v.Find("min"), "min"));
  ASSIGN_OR_RETURN(c.max, ReadNumber(v.Find("max"), "max"));
  ASSIGN_OR_RETURN(c.mean, ReadNumber(v.Find("mean"), "mean"));
  ASSIGN_OR_RETURN(c.m2, ReadNumber(v.Find("m2"), "m2"));
  const json::Value* sketch = v.Find("sketch");
  if (sketch == nullptr) return Err(InvalidArgument("profile: column '" + c.name + "' lacks 'sketch'"));
  ASSIGN_OR_RETURN(c.sketch, QuantileSketch::FromJson(*sketch));
  if (c.sketch.count() != c.count) {
    return Err(InvalidArgument("profile: column '" + c.name + "': sketch count differs from 'count'"));
  }
  const json::Value* hist = v.Find("histogram");
  const json::Value* edges = hist ? hist->Find("edges") : nullptr;
  const json::Value* counts = hist ? hist->Find("counts") : nullptr;
  if (edges == nullptr || !edges->is_array() || counts == nullptr || !counts->is_array() ||
      counts->items().size() != edges->items().size() + 1) {
    return Err(InvalidArgument("profile: column '" + c.name +
                               "': histogram needs 'edges' and one more 'counts'"));
  }
  for (const json::Value& e : edges->items()) {
    ASSIGN_OR_RETURN(double x, ReadNumber(&e, "edges"));
    if (std::isnan(x) || (!c.histogram.edges.empty() && x <= c.histogram.edges.back())) {
      return Err(InvalidArgument("profile: column '" + c.name + "': edges must increase"));
    }
    c.histogram.edges.push_back(x);
  }
  for (const json::Value& n : counts->items()) {
    ASSIGN_OR_RETURN(double x, ReadNumber(&n, "counts"));
    if (!(x >= 0)) return Err(InvalidArgument("profile: column '" + c.name + "': negative count"));
    c.histogram.counts.push_back(x);
  }
  const json::Value* distinct = v.Find("distinct");
  if (distinct == nullptr || distinct->is_null()) {
    c.distinct_overflow = true;
  } else if (distinct->is_array()) {
    for (const json::Value& pair : distinct->items()) {
      if (!pair.is_array() || pair.items().size() != 2) {
        return Err(InvalidArgument("profile: column '" + c.name + "': distinct entries are [value, count]"));
      }
      ASSIGN_OR_RETURN(double x, ReadNumber(&pair.items()[0], "distinct"));
      ASSIGN_OR_RETURN(uint64_t n, ReadCount(&pair.items()[1], "distinct"));
      c.distinct.emplace_back(x, n);
    }
  } else {
    return Err(InvalidArgument("profile: column '" + c.name + "': 'distinct' must be an array or null"));
  }
  return c;
}

}  // namespace

namespace internal {
void WriteDoubles(json::Writer& w, std::string_view key, std::span<const double> values) {
  w.Key(key).StartArray();
  for (double v : values) w.Double(v);
  w.EndArray();
}
}  // namespace internal

Status ColumnProfile::Merge(const ColumnProfile& o, size_t max_distinct) {
  if (o.kind != kind) {
    return InvalidArgument("column '" + name + "': cannot merge a " + std::string(ColumnKindName(kind)) +
                           " profile with a " + std::string(ColumnKindName(o.kind)) + " one");
  }
  if (kind == ColumnKind::kCategorical) {
    items.Merge(o.items);
    count += o.count;
    missing += o.missing;
    return Status::Ok();
  }
  if (histogram.edges != o.histogram.edges) {
    return InvalidArgument("column '" + name + "': histograms have different edges (build windows "
                           "with the reference's edges)");
  }
  RETURN_IF_ERROR(sketch.Merge(o.sketch));
  for (size_t i = 0; i < histogram.counts.size() && i < o.histogram.counts.size(); ++i) {
    histogram.counts[i] += o.histogram.counts[i];
  }
  if (o.count > 0) {
    if (count == 0) {
      min = o.min, max = o.max, mean = o.mean, m2 = o.m2;
    } else {
      // Chan et al.: combine means and sums of squared deviations.
      double na = static_cast<double>(count), nb = static_cast<double>(o.count);
      double delta = o.mean - mean;
      mean += delta * nb / (na + nb);
      m2 += o.m2 + delta * delta * na * nb / (na + nb);
      min = std::min(min, o.min);
      max = std::max(max, o.max);
    }
  }
  if (o.distinct_overflow) {
    distinct.clear();
    distinct_overflow = true;
  } else {
    for (const auto& [v, n] : o.distinct) AddDistinct(*this, v, n, max_distinct);
  }
  count += o.count;
  missing += o.missing;
  return Status::Ok();
}

const ColumnProfile* DatasetProfile::Find(std::string_view name) const {
  for (const ColumnProfile& c : columns) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

Status DatasetProfile::Merge(const DatasetProfile& other) {
  if (other.columns.size() != columns.size()) {
    return InvalidArgument("profiles have different columns");
  }
  for (ColumnProfile& c : columns) {
    const ColumnProfile* o = other.Find(c.name);
    if (o == nullptr) return InvalidArgument("profile lacks column '" + c.name + "'");
    RETURN_IF_ERROR(c.Merge(*o));
  }
  rows += other.rows;
  return Status::Ok();
}

ColumnProfileBuilder::ColumnProfileBuilder(std::string name, ColumnKind kind,
                                           const ProfileOptions& options, std::vector<double> edges)
    : options_(options), fixed_edges_(!edges.empty()) {
  profile_.name = std::move(name);
  profile_.kind = kind;
  profile_.sketch = QuantileSketch(options.sketch_k, options.seed);
  profile_.items = FrequentItems(options.max_items);
  profile_.histogram.edges = std::move(edges);
  profile_.histogram.counts.assign(profile_.histogram.edges.size() + 1, 0.0);
}

void ColumnProfileBuilder::AddNumber(double v) {
  if (!std::isfinite(v)) {
    ++profile_.missing;
    return;
  }
  ColumnProfile& p = profile_;
  if (p.count == 0) {
    p.min = p.max = v;
    p.mean = 0;
  } else {
    p.min = std::min(p.min, v);
    p.max = std::max(p.max, v);
  }
  ++p.count;
  double delta = v - p.mean;  // Welford
  p.mean += delta / static_cast<double>(p.count);
  p.m2 += delta * (v - p.mean);
  p.sketch.Add(v);
  if (fixed_edges_) p.histogram.counts[BinOf(p.histogram.edges, v)] += 1;
  AddDistinct(p, v, 1, options_.max_distinct);
}

void ColumnProfileBuilder::AddString(std::string_view s) {
  ++profile_.count;
  profile_.items.Add(s);
}

ColumnProfile ColumnProfileBuilder::Finish() {
  ColumnProfile& p = profile_;
  if (p.kind == ColumnKind::kNumeric && !fixed_edges_ && p.count > 0) {
    // Edges from the sketch's quantiles; counts estimated from its ranks.
    std::vector<double> edges;
    for (int i = 1; i < options_.bins; ++i) {
      double e = p.sketch.Quantile(static_cast<double>(i) / options_.bins);
      if (edges.empty() || e > edges.back()) edges.push_back(e);
    }
    p.histogram.edges = edges;
    p.histogram.counts.assign(edges.size() + 1, 0.0);
    double n = static_cast<double>(p.count), prev = 0;
    for (size_t i = 0; i <= edges.size(); ++i) {
      double below = i < edges.size() ? p.sketch.RankLess(edges[i]) : 1.0;
      p.histogram.counts[i] = std::round((below - prev) * n);
      prev = below;
    }
  }
  if (p.kind == ColumnKind::kNumeric) {
    std::sort(p.distinct.begin(), p.distinct.end());
  }
  return std::move(profile_);
}

DatasetProfile ProfileTable(const Table& table, const ProfileOptions& options,
                            const DatasetProfile* reference) {
  DatasetProfile out;
  out.rows = static_cast<uint64_t>(table.rows);
  out.columns.resize(table.columns.size());
  ParallelFor(table.columns.size(), 0, [&](size_t i) {
    const Column& col = table.columns[i];
    ProfileOptions opt = options;
    opt.seed = options.seed + i;  // independent coins per column
    if (col.kind == ColumnKind::kCategorical) {
      ColumnProfileBuilder b(col.name, col.kind, opt);
      std::vector<uint64_t> counts(col.dictionary.size(), 0);
      uint64_t missing = 0;
      for (uint32_t code : col.codes) {
        if (code == Column::kMissingCode) {
          ++missing;
        } else {
          ++counts[code];
        }
      }
      ColumnProfile p = b.Finish();
      for (size_t k = 0; k < counts.size(); ++k) {
        if (counts[k] > 0) p.items.Add(col.dictionary[k], counts[k]);
      }
      p.count = p.items.total();
      p.missing = missing;
      out.columns[i] = std::move(p);
      return;
    }
    std::vector<double> edges;
    const ColumnProfile* ref = reference ? reference->Find(col.name) : nullptr;
    if (ref != nullptr && ref->kind == ColumnKind::kNumeric) {
      edges = ref->histogram.edges;
    } else {
      std::vector<double> sorted;
      sorted.reserve(col.numbers.size());
      for (double v : col.numbers) {
        if (std::isfinite(v)) sorted.push_back(v);
      }
      SortDoubles(sorted);
      edges = QuantileEdges(sorted, opt.bins);
    }
    bool no_edges = edges.empty();
    ColumnProfileBuilder b(col.name, col.kind, opt, std::move(edges));
    for (double v : col.numbers) b.AddNumber(v);
    ColumnProfile p = b.Finish();
    if (no_edges) {  // one value (or none): a single bin holds everything
      p.histogram.edges.clear();
      p.histogram.counts.assign(1, static_cast<double>(p.count));
    }
    out.columns[i] = std::move(p);
  });
  return out;
}

std::string ProfileToJson(const DatasetProfile& profile) {
  json::Writer w;
  w.StartObject();
  w.Field("format", "mlforge.profile");
  w.Field("version", kProfileVersion);
  w.Key("rows").Uint(profile.rows);
  w.Key("columns").StartArray();
  for (const ColumnProfile& c : profile.columns) WriteColumn(w, c);
  w.EndArray();
  w.EndObject();
  return w.Take();
}

Result<DatasetProfile> ProfileFromJson(std::string_view text) {
  json::ParseLimits limits;
  ASSIGN_OR_RETURN(json::Value v, json::Parse(text, limits));
  const json::Value* format = v.Find("format");
  const json::Value* version = v.Find("version");
  if (format == nullptr || !format->is_string() || format->as_string() != "mlforge.profile") {
    return Err(InvalidArgument("profile: 'format' must be \"mlforge.profile\""));
  }
  if (version == nullptr || !version->is_int64() || version->as_int64() != kProfileVersion) {
    return Err(InvalidArgument("profile: unsupported 'version' (this build reads version 1)"));
  }
  DatasetProfile p;
  ASSIGN_OR_RETURN(p.rows, ReadCount(v.Find("rows"), "rows"));
  const json::Value* columns = v.Find("columns");
  if (columns == nullptr || !columns->is_array()) {
    return Err(InvalidArgument("profile: 'columns' must be an array"));
  }
  for (const json::Value& c : columns->items()) {
    ASSIGN_OR_RETURN(ColumnProfile col, ReadColumn(c));
    if (p.Find(col.name) != nullptr) {
      return Err(InvalidArgument("profile: column '" + col.name + "' appears twice"));
    }
    p.columns.push_back(std::move(col));
  }
  return p;
}

}  // namespace mlforge::monitor

// QuantileSketch (KLL) and FrequentItems (Misra-Gries). See monitor.h for the
// error bounds and docs/monitoring.md for the serialized form.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>

#include "monitor/monitor.h"

namespace mlforge::monitor {
namespace {

// splitmix64: the sketch's own coin source, seeded by the caller.
uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr size_t kMinLevelCapacity = 8;
constexpr double kCapacityDecay = 2.0 / 3.0;

const json::Value* Field(const json::Value& v, std::string_view key) { return v.Find(key); }

Result<double> NumberField(const json::Value& v, std::string_view key) {
  const json::Value* f = v.Find(key);
  if (f == nullptr || !f->is_number()) {
    return Err(InvalidArgument("sketch: '" + std::string(key) + "' must be a number"));
  }
  return f->as_double();
}

}  // namespace

QuantileSketch::QuantileSketch(int k, uint64_t seed)
    : k_(std::clamp(k, kMinK, kMaxK)), levels_(1), rng_(seed) {
  UpdateCapacities();
  levels_[0].reserve(level0_capacity_);
}

bool QuantileSketch::Coin() {
  // One draw per compaction (at most one per 4 values added): cheap, and the
  // whole coin state is rng_, so a serialized sketch continues identically.
  return SplitMix(rng_) >> 63;
}

size_t QuantileSketch::Capacity(size_t level) const { return capacities_[level]; }

void QuantileSketch::UpdateCapacities() {
  // Levels shrink geometrically below the top one (KLL's c = 2/3), never
  // below 8; level 0 is kept at k or more so that values arrive in batches
  // (fewer, larger compactions of weight 1: the same bound, less work).
  capacities_.resize(levels_.size());
  for (size_t h = 0; h < levels_.size(); ++h) {
    size_t depth = levels_.size() - 1 - h;
    double cap = std::ceil(k_ * std::pow(kCapacityDecay, static_cast<double>(depth)));
    capacities_[h] = std::max(kMinLevelCapacity, static_cast<size_t>(cap));
  }
  capacities_[0] = std::max(capacities_[0], static_cast<size_t>(k_));
  level0_capacity_ = capacities_[0];
}

size_t QuantileSketch::retained() const {
  size_t n = 0;
  for (const auto& level : levels_) n += level.size();
  return n;
}

void QuantileSketch::CompactLevel(size_t h) {
  if (h + 1 == levels_.size()) {
    levels_.emplace_back();  // before taking references into levels_
    UpdateCapacities();
  }
  std::vector<double>& buf = levels_[h];
  if (h == 0) std::sort(buf.begin(), buf.end());
  // An odd value out stays behind at this level; the rest pair up.
  size_t start = buf.size() % 2;
  size_t offset = Coin() ? 1 : 0;
  std::vector<double>& up = levels_[h + 1];
  scratch_.clear();
  scratch_.reserve(up.size() + buf.size() / 2);
  size_t i = start + offset, j = 0;
  while (i < buf.size() && j < up.size()) {
    if (buf[i] < up[j]) {
      scratch_.push_back(buf[i]);
      i += 2;
    } else {
      scratch_.push_back(up[j++]);
    }
  }
  for (; i < buf.size(); i += 2) scratch_.push_back(buf[i]);
  scratch_.insert(scratch_.end(), up.begin() + static_cast<ptrdiff_t>(j), up.end());
  up.swap(scratch_);
  double w = std::ldexp(1.0, static_cast<int>(h));
  sum_w_ += w;
  sum_w2_ += w * w;
  buf.resize(start);
}

void QuantileSketch::Compress() {
  for (;;) {
    bool compacted = false;
    for (size_t h = 0; h < levels_.size(); ++h) {
      if (levels_[h].size() >= Capacity(h)) {
        CompactLevel(h);
        compacted = true;
        break;  // capacities shift when a level is added: re-check from the bottom
      }
    }
    if (!compacted) break;
  }
}

Status QuantileSketch::Merge(const QuantileSketch& other) {
  if (other.k_ != k_) {
    return InvalidArgument("cannot merge quantile sketches with k " + std::to_string(k_) +
                           " and " + std::to_string(other.k_));
  }
  if (other.count_ == 0) return Status::Ok();
  if (count_ == 0 || other.min_ < min_) min_ = other.min_;
  if (count_ == 0 || other.max_ > max_) max_ = other.max_;
  count_ += other.count_;
  if (other.levels_.size() > levels_.size()) {
    levels_.resize(other.levels_.size());
    UpdateCapacities();
  }
  for (size_t h = 0; h < other.levels_.size(); ++h) {
    std::vector<double>& mine = levels_[h];
    size_t mid = mine.size();
    mine.insert(mine.end(), other.levels_[h].begin(), other.levels_[h].end());
    if (h > 0) std::inplace_merge(mine.begin(), mine.begin() + static_cast<ptrdiff_t>(mid), mine.end());
  }
  sum_w_ += other.sum_w_;
  sum_w2_ += other.sum_w2_;
  Compress();
  return Status::Ok();
}

std::vector<std::pair<double, uint64_t>> QuantileSketch::WeightedValues() const {
  std::vector<std::pair<double, uint64_t>> out;
  out.reserve(retained());
  for (size_t h = 0; h < levels_.size(); ++h) {
    uint64_t w = uint64_t{1} << h;
    for (double v : levels_[h]) out.emplace_back(v, w);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Weight of retained values before the bound: upper_bound for <= x, lower_bound for < x.
template <bool kInclusive>
static double RankOf(const std::vector<std::vector<double>>& levels, uint64_t count, double x) {
  if (count == 0) return kNaN;
  double below = 0;
  for (size_t h = 0; h < levels.size(); ++h) {
    const auto& level = levels[h];
    size_t n;
    if (h == 0) {  // unsorted
      n = static_cast<size_t>(std::count_if(level.begin(), level.end(),
                                            [x](double v) { return kInclusive ? v <= x : v < x; }));
    } else {
      auto it = kInclusive ? std::upper_bound(level.begin(), level.end(), x)
                           : std::lower_bound(level.begin(), level.end(), x);
      n = static_cast<size_t>(it - level.begin());
    }
    below += std::ldexp(static_cast<double>(n), static_cast<int>(h));
  }
  return below / static_cast<double>(count);
}

double QuantileSketch::Rank(double x) const { return RankOf<true>(levels_, count_, x); }
double QuantileSketch::RankLess(double x) const { return RankOf<false>(levels_, count_, x); }

double QuantileSketch::Quantile(double q) const {
  if (count_ == 0 || std::isnan(q)) return kNaN;
  if (q <= 0) return min_;
  if (q >= 1) return max_;
  auto items = WeightedValues();
  double target = q * static_cast<double>(count_);
  double cum = 0;
  for (const auto& [v, w] : items) {
    cum += static_cast<double>(w);
    if (cum >= target) return v;
  }
  return max_;
}

double QuantileSketch::RankErrorBound(double delta) const {
  if (count_ == 0 || sum_w2_ == 0) return 0;
  delta = std::clamp(delta, 1e-300, 1.0);
  return std::sqrt(2 * sum_w2_ * std::log(2 / delta)) / static_cast<double>(count_);
}

double QuantileSketch::RankErrorHardBound() const {
  return count_ == 0 ? 0 : sum_w_ / static_cast<double>(count_);
}

void QuantileSketch::ToJson(json::Writer& w) const {
  w.StartObject();
  w.Field("k", k_);
  w.Key("count").Uint(count_);
  if (count_ > 0) {
    w.Field("min", min_);
    w.Field("max", max_);
  }
  w.Field("sum_w", sum_w_);
  w.Field("sum_w2", sum_w2_);
  char rng[17];
  auto end = std::to_chars(rng, rng + sizeof(rng), rng_, 16).ptr;
  w.Field("rng", std::string_view(rng, static_cast<size_t>(end - rng)));
  w.Key("levels").StartArray();
  for (const auto& level : levels_) {
    w.StartArray();
    for (double v : level) w.Double(v);
    w.EndArray();
  }
  w.EndArray();
  w.EndObject();
}

Result<QuantileSketch> QuantileSketch::FromJson(const json::Value& v) {
  if (!v.is_object()) return Err(InvalidArgument("sketch: expected an object"));
  ASSIGN_OR_RETURN(double k, NumberField(v, "k"));
  if (k < kMinK || k > kMaxK || k != std::floor(k)) {
    return Err(InvalidArgument("sketch: k must be an integer in [8, 65535]"));
  }
  ASSIGN_OR_RETURN(double count, NumberField(v, "count"));
  const json::Value* rng = Field(v, "rng");
  const json::Value* levels = Field(v, "levels");
  if (rng == nullptr || levels == nullptr || !levels->is_array() ||
      levels->items().empty() || levels->items().size() > 64) {
    return Err(InvalidArgument("sketch: 'rng' and 'levels' (1 to 64 arrays) are required"));
  }
  QuantileSketch s(static_cast<int>(k));
  // The coin state is a 64-bit integer: hex text, as JSON numbers stop at 2^53.
  if (!rng->is_string() ||
      std::from_chars(rng->as_string().data(), rng->as_string().data() + rng->as_string().size(),
                      s.rng_, 16)
              .ec != std::errc()) {
    return Err(InvalidArgument("sketch: 'rng' must be a hex string"));
  }
  ASSIGN_OR_RETURN(s.sum_w_, NumberField(v, "sum_w"));
  ASSIGN_OR_RETURN(s.sum_w2_, NumberField(v, "sum_w2"));
  s.levels_.clear();
  long double weight_total = 0;
  for (size_t h = 0; h < levels->items().size(); ++h) {
    const json::Value& level = levels->items()[h];
    if (!level.is_array()) return Err(InvalidArgument("sketch: each level must be an array"));
    std::vector<double> values;
    values.reserve(level.items().size());
    for (const json::Value& x : level.items()) {
      if (!x.is_number() || std::isnan(x.as_double())) {
        return Err(InvalidArgument("sketch: level values must be numbers"));
      }
      values.push_back(x.as_double());
    }
    if (h > 0 && !std::is_sorted(values.begin(), values.end())) {
      return Err(InvalidArgument("sketch: levels above 0 must be sorted"));
    }
    weight_total += std::ldexp(static_cast<long double>(values.size()), static_cast<int>(h));
    s.levels_.push_back(std::move(values));
  }
  if (count < 0 || static_cast<long double>(count) != weight_total) {
    return Err(InvalidArgument("sketch: 'count' does not match the retained weights"));
  }
  s.count_ = static_cast<uint64_t>(count);
  if (s.count_ > 0) {
    ASSIGN_OR_RETURN(s.min_, NumberField(v, "min"));
    ASSIGN_OR_RETURN(s.max_, NumberField(v, "max"));
  }
  s.UpdateCapacities();
  return s;
}

// ---------------------------------------------------------------------------

FrequentItems::FrequentItems(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

void FrequentItems::Add(std::string_view item, uint64_t count) {
  if (count == 0) return;
  total_ += count;
  auto it = counts_.find(item);
  if (it != counts_.end()) {
    it->second += count;
    return;
  }
  counts_.emplace(std::string(item), count);
  // Batched Misra-Gries: let the table grow to twice the capacity, then cut
  // back, so a miss costs O(1) amortized.
  if (counts_.size() > 2 * capacity_) Reduce();
}

void FrequentItems::Reduce() {
  if (counts_.size() <= capacity_) return;
  std::vector<uint64_t> values;
  values.reserve(counts_.size());
  for (const auto& [item, c] : counts_) values.push_back(c);
  // Subtract the (capacity+1)-th largest count from all; drop what reaches 0.
  std::nth_element(values.begin(), values.begin() + static_cast<ptrdiff_t>(capacity_),
                   values.end(), std::greater<>());
  uint64_t cut = values[capacity_];
  max_error_ += cut;
  for (auto it = counts_.begin(); it != counts_.end();) {
    if (it->second <= cut) {
      it = counts_.erase(it);
    } else {
      it->second -= cut;
      ++it;
    }
  }
}

void FrequentItems::Merge(const FrequentItems& other) {
  total_ += other.total_;
  max_error_ += other.max_error_;
  for (const auto& [item, c] : other.counts_) {
    auto it = counts_.find(item);
    if (it != counts_.end()) {
      it->second += c;
    } else {
      counts_.emplace(item, c);
    }
  }
  if (counts_.size() > capacity_ && !exact()) Reduce();
  if (counts_.size() > 2 * capacity_) Reduce();
}

std::vector<std::pair<std::string, uint64_t>> FrequentItems::Items() const {
  std::vector<std::pair<std::string, uint64_t>> out(counts_.begin(), counts_.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  return out;
}

uint64_t FrequentItems::Count(std::string_view item) const {
  auto it = counts_.find(item);
  return it == counts_.end() ? 0 : it->second;
}

void FrequentItems::ToJson(json::Writer& w) const {
  w.StartObject();
  w.Key("capacity").Uint(capacity_);
  w.Key("total").Uint(total_);
  w.Key("max_error").Uint(max_error_);
  w.Key("items").StartArray();
  for (const auto& [item, c] : Items()) {
    w.StartArray().String(item).Uint(c).EndArray();
  }
  w.EndArray();
  w.EndObject();
}

Result<FrequentItems> FrequentItems::FromJson(const json::Value& v) {
  const json::Value* cap = v.Find("capacity");
  const json::Value* total = v.Find("total");
  const json::Value* err = v.Find("max_error");
  const json::Value* items = v.Find("items");
  if (cap == nullptr || !cap->is_int64() || cap->as_int64() < 1 || total == nullptr ||
      !total->is_int64() || total->as_int64() < 0 || err == nullptr || !err->is_int64() ||
      err->as_int64() < 0 || items == nullptr || !items->is_array()) {
    return Err(InvalidArgument("items: 'capacity', 'total', 'max_error' and 'items' are required"));
  }
  FrequentItems f(static_cast<size_t>(cap->as_int64()));
  f.total_ = static_cast<uint64_t>(total->as_int64());
  f.max_error_ = static_cast<uint64_t>(err->as_int64());
  uint64_t sum = 0;
  for (const json::Value& pair : items->items()) {
    if (!pair.is_array() || pair.items().size() != 2 || !pair.items()[0].is_string() ||
        !pair.items()[1].is_int64() || pair.items()[1].as_int64() < 1) {
      return Err(InvalidArgument("items: each entry must be [item, count >= 1]"));
    }
    uint64_t c = static_cast<uint64_t>(pair.items()[1].as_int64());
    sum += c;
    f.counts_[pair.items()[0].as_string()] += c;
  }
  if (sum > f.total_) return Err(InvalidArgument("items: counts exceed 'total'"));
  if (f.max_error_ == 0 && sum != f.total_) {
    return Err(InvalidArgument("items: an exact summary's counts must add up to 'total'"));
  }
  return f;
}

}  // namespace mlforge::monitor

#include "tracking/metric_history.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <tuple>

namespace mlforge::tracking {

static_assert(std::endian::native == std::endian::little,
              "history chunks are stored little-endian; add byte swaps for this host");

void AppendToChunk(const HistoryPoint& point, std::string& chunk) {
  char bytes[kHistoryPointBytes];
  std::memcpy(bytes, &point.step, 8);
  std::memcpy(bytes + 8, &point.timestamp, 8);
  std::memcpy(bytes + 16, &point.value, 8);
  chunk.append(bytes, sizeof bytes);
}

Status DecodeChunk(std::string_view chunk, std::vector<HistoryPoint>& out) {
  if (chunk.size() % kHistoryPointBytes != 0) {
    return Internal("metric history chunk of " + std::to_string(chunk.size()) +
                    " bytes is not a whole number of points");
  }
  const size_t n = chunk.size() / kHistoryPointBytes;
  const size_t first = out.size();
  out.resize(first + n);
  for (size_t i = 0; i < n; ++i) {
    const char* p = chunk.data() + i * kHistoryPointBytes;
    HistoryPoint& point = out[first + i];
    std::memcpy(&point.step, p, 8);
    std::memcpy(&point.timestamp, p + 8, 8);
    std::memcpy(&point.value, p + 16, 8);
  }
  return Status::Ok();
}

namespace {

// The (step, timestamp, value, is_nan) key of the v1 table's ORDER BY and
// primary key, where a NaN was stored as 0 with is_nan set.
auto OrderKey(const HistoryPoint& p) {
  const bool nan = std::isnan(p.value);
  return std::make_tuple(p.step, p.timestamp, nan ? 0.0 : p.value, nan);
}

}  // namespace

void SortAndDedupHistory(std::vector<HistoryPoint>& points) {
  auto less = [](const HistoryPoint& a, const HistoryPoint& b) { return OrderKey(a) < OrderKey(b); };
  // Logged histories arrive almost always in order: check before sorting.
  if (!std::is_sorted(points.begin(), points.end(), less)) {
    std::stable_sort(points.begin(), points.end(), less);
  }
  auto same = [](const HistoryPoint& a, const HistoryPoint& b) { return OrderKey(a) == OrderKey(b); };
  points.erase(std::unique(points.begin(), points.end(), same), points.end());
}

}  // namespace mlforge::tracking

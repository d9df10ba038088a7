// Metric history storage, private to the tracking subsystem.
//
// Each log call appends one chunk per metric key: a BLOB of fixed 24-byte
// points (int64 step, int64 timestamp, float64 value; little-endian; NaN
// stored as a NaN). A log-batch of 1,000 points of one key is one row insert
// instead of 1,000 B-tree inserts, and a 100,000-point history is read back
// from a few dozen rows. Exact duplicate points, which MLflow's primary key
// drops on insert, are dropped when the history is read.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mlforge::tracking {

// One stored point: the value as stored (±inf already clamped to ±DBL_MAX).
struct HistoryPoint {
  int64_t step = 0;
  int64_t timestamp = 0;
  double value = 0;  // NaN for a NaN metric
};

inline constexpr size_t kHistoryPointBytes = 24;

void AppendToChunk(const HistoryPoint& point, std::string& chunk);

// Appends the chunk's points to `out`. Errors: kInternalError when the bytes
// are not a whole number of points (a damaged row).
Status DecodeChunk(std::string_view chunk, std::vector<HistoryPoint>& out);

// MLflow's history order — step, then timestamp, then value (a NaN ranks as
// 0, then after a real 0) — with exact duplicates removed.
void SortAndDedupHistory(std::vector<HistoryPoint>& points);

}  // namespace mlforge::tracking

// The log-batch fast path (private to src/api).
//
// log-batch carries up to 1,000 metrics per call and is what training loops
// hammer. Building the generic JSON tree and decoding it field by field cost
// more than storing the metrics, so the common, well-formed body is decoded
// straight from simdjson's DOM. Anything else — a wrong or unusual type,
// a missing, empty, duplicate or unknown field, NaN as a string, a non-JSON
// content type — returns nullopt and takes the generic decoder, which has
// MLflow's exact checks and messages. So the fast path can only ever accept
// what the generic path accepts, with the same result.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tracking/tracking.h"

namespace mlforge::http {
struct Request;
}

namespace mlforge::api {

struct LogBatchBody {
  std::string run_id;
  std::vector<tracking::Metric> metrics;
  std::vector<tracking::Param> params;
  std::vector<tracking::Tag> tags;
};

std::optional<LogBatchBody> DecodeLogBatchFast(const http::Request& request);

}  // namespace mlforge::api

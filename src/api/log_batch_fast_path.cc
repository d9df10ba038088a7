#include "api/log_batch_fast_path.h"

#include <simdjson.h>

#include <cstdint>
#include <string_view>

#include "api/mlflow_request.h"
#include "http/http.h"

namespace mlforge::api {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// The body's nesting is three levels; anything deeper is not a plain body.
constexpr size_t kMaxDepth = 8;

// A field may appear once; `seen` is a bit per known field.
bool FirstTime(unsigned& seen, unsigned bit) {
  if (seen & bit) return false;
  seen |= bit;
  return true;
}

bool NonEmptyString(element e, std::string_view& out) {
  if (e.type() != element_type::STRING) return false;
  out = e.get_string().value_unsafe();
  return !out.empty();
}

bool Int64(element e, int64_t& out) {
  if (e.type() != element_type::INT64) return false;
  out = e.get_int64().value_unsafe();
  return true;
}

bool DecodeMetric(element e, tracking::Metric& m) {
  simdjson::dom::object object;
  if (e.get(object)) return false;
  unsigned seen = 0;
  std::string_view key;
  for (simdjson::dom::key_value_pair kv : object) {
    if (kv.key == "key") {
      if (!FirstTime(seen, 1) || !NonEmptyString(kv.value, key)) return false;
    } else if (kv.key == "value") {
      if (!FirstTime(seen, 2)) return false;
      if (kv.value.type() == element_type::DOUBLE) {
        m.value = kv.value.get_double().value_unsafe();
      } else if (kv.value.type() == element_type::INT64) {
        m.value = static_cast<double>(kv.value.get_int64().value_unsafe());
      } else {
        return false;
      }
    } else if (kv.key == "timestamp") {
      if (!FirstTime(seen, 4) || !Int64(kv.value, m.timestamp)) return false;
    } else if (kv.key == "step") {
      if (!FirstTime(seen, 8) || !Int64(kv.value, m.step)) return false;
    } else {
      return false;
    }
  }
  if ((seen & 7) != 7) return false;  // key, value and timestamp are required
  m.key.assign(key);
  return true;
}

// Params and tags: {"key": non-empty string, "value": string}.
template <typename KeyValue>
bool DecodeKeyValue(element e, KeyValue& out) {
  simdjson::dom::object object;
  if (e.get(object)) return false;
  unsigned seen = 0;
  std::string_view key, value;
  for (simdjson::dom::key_value_pair kv : object) {
    if (kv.key == "key") {
      if (!FirstTime(seen, 1) || !NonEmptyString(kv.value, key)) return false;
    } else if (kv.key == "value") {
      if (!FirstTime(seen, 2) || kv.value.type() != element_type::STRING) return false;
      value = kv.value.get_string().value_unsafe();
    } else {
      return false;
    }
  }
  if (seen != 3) return false;
  out.key.assign(key);
  out.value.assign(value);
  return true;
}

template <typename T, typename DecodeOne>
bool DecodeList(element e, std::vector<T>& out, DecodeOne decode_one) {
  simdjson::dom::array items;
  if (e.get(items)) return false;
  out.resize(items.size());
  size_t i = 0;
  for (element item : items) {
    if (!decode_one(item, out[i++])) return false;
  }
  return true;
}

}  // namespace

std::optional<LogBatchBody> DecodeLogBatchFast(const http::Request& request) {
  if (request.method != http::Method::kPost || !request.query.empty() ||
      !CheckContentType(request).ok()) {
    return std::nullopt;
  }
  // One parser per thread: its buffers are reused across requests.
  thread_local simdjson::dom::parser parser(/*max_capacity=*/simdjson::SIMDJSON_MAXSIZE_BYTES);
  thread_local bool configured = false;
  if (!configured) {
    if (parser.allocate(64 * 1024, kMaxDepth)) return std::nullopt;
    configured = true;
  }
  simdjson::dom::object root;
  if (parser.parse(request.body).get(root)) return std::nullopt;
  LogBatchBody body;
  unsigned seen = 0;
  std::string_view run_id;
  for (simdjson::dom::key_value_pair kv : root) {
    bool ok = false;
    if (kv.key == "run_id") {
      ok = FirstTime(seen, 1) && NonEmptyString(kv.value, run_id);
    } else if (kv.key == "metrics") {
      ok = FirstTime(seen, 2) && DecodeList(kv.value, body.metrics, DecodeMetric);
    } else if (kv.key == "params") {
      ok = FirstTime(seen, 4) && DecodeList(kv.value, body.params, DecodeKeyValue<tracking::Param>);
    } else if (kv.key == "tags") {
      ok = FirstTime(seen, 8) && DecodeList(kv.value, body.tags, DecodeKeyValue<tracking::Tag>);
    }
    if (!ok) return std::nullopt;  // run_uuid and anything unknown: the generic path
  }
  if (!(seen & 1)) return std::nullopt;
  body.run_id.assign(run_id);
  return body;
}

}  // namespace mlforge::api

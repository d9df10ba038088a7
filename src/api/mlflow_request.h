// Decoding of MLflow REST requests (private to src/api).
//
// MLflow's server (handlers.py, _get_request_message) turns every request
// into one protobuf message: a GET with a query string is read from the query
// (repeated keys and "key[]" become lists), anything else from a JSON body
// (POST/PUT must say Content-Type: application/json). Fields are then checked
// with protobuf-JSON rules (int64 as number or decimal string, doubles also as
// "NaN"/"Infinity"/"-Infinity", enums by name or number) and MLflow's own
// messages:
//   Missing value for required parameter '<p>'. See the API docs for more
//   information about request parameters.
//   Invalid value <v> for parameter '<p>' supplied. Hint: Value was of type
//   '<python type>'. See the API docs for more information about request
//   parameters.
// All such errors are kInvalidParameterValue (HTTP 400); a body that is not
// JSON, or not a JSON object, is kMalformedRequest (HTTP 400).
//
// Thread-compatible value types; the free functions are pure.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/status.h"

namespace mlforge::http {
struct Request;
}

namespace mlforge::api {

// Nesting cap for request bodies (MLflow messages are at most ~5 levels
// deep). Equal to json::ParseLimits' default on purpose: json::Parse keeps
// one parser per thread and reallocates it whenever callers alternate limits.
inline constexpr int kMaxRequestJsonDepth = 64;

inline constexpr std::string_view kApiDocsHint =
    " See the API docs for more information about request parameters.";

// "Missing value for required parameter '<param>'. See the API docs ..."
Status MissingValue(std::string_view param);
// "Invalid value <repr> for parameter '<param>' supplied. Hint: Value was of
// type '<type>'. See the API docs ..." (repr and type as Python would print
// the decoded JSON value; long values are clipped).
Status InvalidValue(const json::Value& value, std::string_view param);
// "<message> See the API docs ..." (MLflow's custom-assertion form).
Status InvalidRequest(std::string_view message);

// Python's repr()/str() of a decoded JSON value, as MLflow's messages show it:
// str -> raw text at top level ('quoted' inside containers), true -> True,
// null -> None, [1, 'a'], {'k': 1}.
std::string PythonStr(const json::Value& value);
// Python's type name of a decoded JSON value: str, int, float, bool,
// NoneType, list, dict.
std::string_view PythonTypeName(const json::Value& value);

// Field conversions with protobuf-JSON rules. `param` names the field in
// error messages (e.g. "metrics[2].value").
Result<std::string> ToStringField(const json::Value& value, std::string_view param);
// JSON integers, integral doubles (5.0) and decimal strings ("-12") within
// int64; not bools, fractions, out-of-range numbers or other strings.
Result<int64_t> ToInt64Field(const json::Value& value, std::string_view param);
// Same as ToInt64Field, within int32 (proto int32 fields such as max_results).
Result<int32_t> ToInt32Field(const json::Value& value, std::string_view param);
// Numbers, decimal strings and "NaN", "Infinity", "-Infinity"; not bools.
Result<double> ToDoubleField(const json::Value& value, std::string_view param);

// Enum values by name (one of `names`) or by number (1-based position in
// `names`, as integer or decimal string). Returns the canonical name.
Result<std::string> ToEnumField(const json::Value& value, std::string_view param,
                                std::initializer_list<std::string_view> names);

// A required query parameter of mlforge's own GET routes: absent or empty is
// kInvalidParameterValue "Missing value for required parameter '<key>'.".
Result<std::string> RequiredQueryParam(const http::Request& request, std::string_view key);

// Who is calling, for audit logs: the X-Mlforge-User header, else the user
// of HTTP Basic auth (what the MLflow client sends for
// MLFLOW_TRACKING_USERNAME), else "" (at most 256 bytes).
std::string RequestUser(const http::Request& request);

// MLflow's Content-Type rule for JSON POST/PUT bodies: ok for other methods;
// kInvalidParameterValue with MLflow's message when missing or not JSON.
Status CheckContentType(const http::Request& request);

// One decoded request: a JSON object. JSON null counts as absent (protobuf
// treats it so), and an empty string counts as missing for required fields.
class RequestMessage {
 public:
  RequestMessage() : root_(json::Value::Object({})) {}
  // REQUIRES: root.is_object().
  explicit RequestMessage(json::Value root) : root_(std::move(root)) {}

  // Decodes an HTTP request as MLflow does. `repeated` names the message's
  // repeated fields: in a query string a single occurrence still becomes a
  // one-element list. Errors: Content-Type missing or not application/json
  // on POST/PUT (kInvalidParameterValue, MLflow's message), malformed JSON or
  // a non-object body (kMalformedRequest).
  static Result<RequestMessage> Decode(const http::Request& request,
                                       const std::vector<std::string>& repeated = {});
  // Builds the message of a query string's decoded (name, value) pairs.
  static RequestMessage FromQuery(const std::vector<std::pair<std::string, std::string>>& params,
                                  const std::vector<std::string>& repeated = {});
  // Parses a JSON body (a JSON string holding a JSON object is decoded once
  // more, as MLflow does for legacy double-encoding clients).
  static Result<RequestMessage> FromJsonBody(std::string_view body);

  const json::Value& root() const { return root_; }

  // The field's value, or nullptr when absent or null.
  const json::Value* Find(std::string_view name) const;
  bool Has(std::string_view name) const { return Find(name) != nullptr; }

  Result<std::optional<std::string>> OptionalString(std::string_view name) const;
  // Absent, null and "" are missing.
  Result<std::string> RequiredString(std::string_view name) const;
  // Absent/null: empty string.
  Result<std::string> StringOr(std::string_view name, std::string_view fallback = {}) const;

  Result<std::optional<int64_t>> OptionalInt64(std::string_view name) const;
  Result<int64_t> RequiredInt64(std::string_view name) const;
  Result<std::optional<int32_t>> OptionalInt32(std::string_view name) const;

  Result<std::optional<double>> OptionalDouble(std::string_view name) const;
  Result<double> RequiredDouble(std::string_view name) const;

  // A repeated string field; absent -> empty. `numbers_as_strings` accepts
  // JSON integers (MLflow stringifies experiment ids for old clients).
  Result<std::vector<std::string>> StringList(std::string_view name,
                                              bool numbers_as_strings = false) const;
  // A repeated message field: the elements, each required to be an object.
  // Absent -> empty.
  Result<std::vector<const json::Value*>> ObjectList(std::string_view name) const;

  Result<std::optional<std::string>> OptionalEnum(
      std::string_view name, std::initializer_list<std::string_view> names) const;

  // "run_id", falling back to the deprecated "run_uuid" when run_id is
  // absent or empty; missing in both is reported for 'run_id'.
  Result<std::string> RequiredRunId() const;

  // An experiment id: a string, or a JSON integer (stringified, as MLflow
  // does). Absent/null -> nullopt.
  Result<std::optional<std::string>> OptionalExperimentId(std::string_view name) const;
  Result<std::string> RequiredExperimentId(std::string_view name) const;

 private:
  json::Value root_;
};

// The same accessors for a nested message (an element of a repeated message
// field), with error names prefixed, e.g. "metrics[3].".
class NestedMessage {
 public:
  NestedMessage(const json::Value& object, std::string prefix)
      : object_(object), prefix_(std::move(prefix)) {}

  const json::Value* Find(std::string_view name) const;
  std::string Name(std::string_view field) const { return prefix_ + std::string(field); }

  Result<std::string> StringOr(std::string_view name, std::string_view fallback = {}) const;
  Result<std::optional<int64_t>> OptionalInt64(std::string_view name) const;
  Result<std::optional<double>> OptionalDouble(std::string_view name) const;
  Result<std::vector<const json::Value*>> ObjectList(std::string_view name) const;
  // A nested message field; nullptr when absent/null.
  Result<const json::Value*> OptionalObject(std::string_view name) const;

 private:
  const json::Value& object_;
  std::string prefix_;
};

}  // namespace mlforge::api

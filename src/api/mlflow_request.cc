#include "api/mlflow_request.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>

#include "base/page_token.h"
#include "http/http.h"

namespace mlforge::api {
namespace {

// Error messages quote client values; keep them readable and bounded.
constexpr size_t kMaxReprBytes = 1000;

void AppendPythonRepr(std::string& out, const json::Value& v, bool top_level);

void AppendPythonStringRepr(std::string& out, std::string_view s) {
  // Python prefers single quotes unless the text has one and no double quote.
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = (has_single && !has_double) ? '"' : '\'';
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back(quote);
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == quote || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else if (c == '\r') {
      out.append("\\r");
    } else if (c == '\t') {
      out.append("\\t");
    } else if (u < 0x20 || u == 0x7f) {
      out.append("\\x");
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back(quote);
}

void AppendPythonFloat(std::string& out, double d) {
  if (std::isnan(d)) {
    out.append("nan");
    return;
  }
  if (std::isinf(d)) {
    out.append(d > 0 ? "inf" : "-inf");
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d);
  std::string_view text(buf, static_cast<size_t>(end - buf));
  out.append(text);
  if (text.find_first_of(".e") == std::string_view::npos) out.append(".0");
}

void AppendPythonRepr(std::string& out, const json::Value& v, bool top_level) {
  if (out.size() > kMaxReprBytes) return;
  switch (v.kind()) {
    case json::Value::Kind::kNull:
      out.append("None");
      return;
    case json::Value::Kind::kBool:
      out.append(v.as_bool() ? "True" : "False");
      return;
    case json::Value::Kind::kInt:
    case json::Value::Kind::kUint:
      out.append(json::Serialize(v));
      return;
    case json::Value::Kind::kDouble:
      AppendPythonFloat(out, v.as_double());
      return;
    case json::Value::Kind::kString:
      if (top_level) {
        out.append(v.as_string());
      } else {
        AppendPythonStringRepr(out, v.as_string());
      }
      return;
    case json::Value::Kind::kArray: {
      out.push_back('[');
      bool first = true;
      for (const json::Value& item : v.items()) {
        if (!first) out.append(", ");
        first = false;
        AppendPythonRepr(out, item, false);
        if (out.size() > kMaxReprBytes) return;
      }
      out.push_back(']');
      return;
    }
    case json::Value::Kind::kObject: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, item] : v.members()) {
        if (!first) out.append(", ");
        first = false;
        AppendPythonStringRepr(out, key);
        out.append(": ");
        AppendPythonRepr(out, item, false);
        if (out.size() > kMaxReprBytes) return;
      }
      out.push_back('}');
      return;
    }
  }
}

// Cuts at a UTF-8 code point boundary so error bodies stay valid UTF-8.
void ClipUtf8(std::string& s, size_t max) {
  if (s.size() <= max) return;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  s.append("...");
}

bool ParseDecimalInt64(std::string_view s, int64_t* out) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool Contains(std::initializer_list<std::string_view> names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

// MLflow's Content-Type rule (server/validation.py) for JSON POST/PUT bodies.
std::string RequestUser(const http::Request& request) {
  constexpr size_t kMaxUserLength = 256;
  std::string_view user = request.Header("x-mlforge-user");
  std::string basic_user;
  if (user.empty()) {
    std::string_view auth = request.Header("authorization");
    if (auth.size() > 6 && (auth.substr(0, 6) == "Basic " || auth.substr(0, 6) == "basic ")) {
      auto decoded = Base64Decode(auth.substr(6));
      if (decoded) {
        basic_user = decoded->substr(0, decoded->find(':'));
        user = basic_user;
      }
    }
  }
  return std::string(user.substr(0, kMaxUserLength));
}

Status CheckContentType(const http::Request& request) {
  if (request.method != http::Method::kPost && request.method != http::Method::kPut) {
    return Status::Ok();
  }
  bool present = false;
  std::string_view value;
  for (const auto& [name, v] : request.headers) {
    if (EqualsIgnoreCase(name, "content-type")) {
      present = true;
      value = v;
      break;
    }
  }
  if (!present) {
    return InvalidArgument("Bad Request. Content-Type header is missing.");
  }
  std::string_view media = Trim(value.substr(0, value.find(';')));
  if (!EqualsIgnoreCase(media, "application/json")) {
    return InvalidArgument("Bad Request. Content-Type must be one of ['application/json'].");
  }
  return Status::Ok();
}

namespace {

Result<std::vector<const json::Value*>> ObjectListOf(const json::Value* v, std::string_view param) {
  std::vector<const json::Value*> out;
  if (!v) return out;
  if (!v->is_array()) return Err(InvalidValue(*v, param));
  out.reserve(v->items().size());
  for (size_t i = 0; i < v->items().size(); ++i) {
    const json::Value& item = v->items()[i];
    if (!item.is_object()) {
      return Err(InvalidValue(item, std::string(param) + "[" + std::to_string(i) + "]"));
    }
    out.push_back(&item);
  }
  return out;
}

const json::Value* FindNonNull(const json::Value& object, std::string_view name) {
  const json::Value* v = object.Find(name);
  return (v && !v->is_null()) ? v : nullptr;
}

}  // namespace

Result<std::string> RequiredQueryParam(const http::Request& request, std::string_view key) {
  const std::string* v = request.QueryParam(key);
  if (v == nullptr || v->empty()) {
    return Err(InvalidArgument("Missing value for required parameter '" + std::string(key) + "'."));
  }
  return *v;
}

Status MissingValue(std::string_view param) {
  return InvalidArgument("Missing value for required parameter '" + std::string(param) + "'." +
                         std::string(kApiDocsHint));
}

Status InvalidValue(const json::Value& value, std::string_view param) {
  return InvalidArgument("Invalid value " + PythonStr(value) + " for parameter '" +
                         std::string(param) + "' supplied. Hint: Value was of type '" +
                         std::string(PythonTypeName(value)) + "'." + std::string(kApiDocsHint));
}

Status InvalidRequest(std::string_view message) {
  return InvalidArgument(std::string(message) + std::string(kApiDocsHint));
}

std::string PythonStr(const json::Value& value) {
  std::string out;
  AppendPythonRepr(out, value, /*top_level=*/true);
  ClipUtf8(out, kMaxReprBytes);
  return out;
}

std::string_view PythonTypeName(const json::Value& value) {
  switch (value.kind()) {
    case json::Value::Kind::kNull:
      return "NoneType";
    case json::Value::Kind::kBool:
      return "bool";
    case json::Value::Kind::kInt:
    case json::Value::Kind::kUint:
      return "int";
    case json::Value::Kind::kDouble:
      return "float";
    case json::Value::Kind::kString:
      return "str";
    case json::Value::Kind::kArray:
      return "list";
    case json::Value::Kind::kObject:
      return "dict";
  }
  return "object";
}

Result<std::string> ToStringField(const json::Value& value, std::string_view param) {
  if (!value.is_string()) return Err(InvalidValue(value, param));
  return value.as_string();
}

Result<int64_t> ToInt64Field(const json::Value& value, std::string_view param) {
  switch (value.kind()) {
    case json::Value::Kind::kInt:
      return value.as_int64();
    case json::Value::Kind::kUint:
      if (value.is_int64()) return value.as_int64();
      break;
    case json::Value::Kind::kDouble: {
      // Protobuf accepts integral doubles (5.0), nothing with a fraction.
      double d = value.as_double();
      if (std::isfinite(d) && d == std::trunc(d) && d >= -9.223372036854775808e18 &&
          d < 9.223372036854775808e18) {
        return static_cast<int64_t>(d);
      }
      break;
    }
    case json::Value::Kind::kString: {
      int64_t parsed = 0;
      if (ParseDecimalInt64(value.as_string(), &parsed)) return parsed;
      break;
    }
    default:
      break;
  }
  return Err(InvalidValue(value, param));
}

Result<int32_t> ToInt32Field(const json::Value& value, std::string_view param) {
  ASSIGN_OR_RETURN(int64_t v, ToInt64Field(value, param));
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
    return Err(InvalidValue(value, param));
  }
  return static_cast<int32_t>(v);
}

Result<double> ToDoubleField(const json::Value& value, std::string_view param) {
  if (value.is_number()) return value.as_double();
  if (!value.is_string()) return Err(InvalidValue(value, param));
  std::string_view s = value.as_string();
  // Protobuf-JSON spellings of non-finite values.
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (s == "Infinity") return std::numeric_limits<double>::infinity();
  if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
  // Otherwise Python's float(): decimal text, "inf"/"nan" in any case.
  std::string_view text = s;
  bool negative = false;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (EqualsIgnoreCase(text, "inf") || EqualsIgnoreCase(text, "infinity")) {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  if (EqualsIgnoreCase(text, "nan")) return std::numeric_limits<double>::quiet_NaN();
  double d = 0;
  if (!text.empty() &&
      (std::isdigit(static_cast<unsigned char>(text.front())) || text.front() == '.')) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec == std::errc() && end == text.data() + text.size()) return negative ? -d : d;
  }
  return Err(InvalidValue(value, param));
}

Result<std::string> ToEnumField(const json::Value& value, std::string_view param,
                                std::initializer_list<std::string_view> names) {
  if (value.is_string()) {
    if (Contains(names, value.as_string())) return value.as_string();
  }
  if (value.is_int64() || value.is_string()) {
    int64_t number = 0;
    bool ok = value.is_int64() ? (number = value.as_int64(), true)
                               : ParseDecimalInt64(value.as_string(), &number);
    if (ok && number >= 1 && number <= static_cast<int64_t>(names.size())) {
      return std::string(*(names.begin() + (number - 1)));
    }
  }
  return Err(InvalidValue(value, param));
}

// ------------------------------------------------------------- RequestMessage

Result<RequestMessage> RequestMessage::Decode(const http::Request& request,
                                              const std::vector<std::string>& repeated) {
  bool is_get = request.method == http::Method::kGet || request.method == http::Method::kHead;
  if (is_get && !request.query.empty()) return FromQuery(request.query_params, repeated);
  RETURN_IF_ERROR(CheckContentType(request));
  return FromJsonBody(request.body);
}

RequestMessage RequestMessage::FromQuery(
    const std::vector<std::pair<std::string, std::string>>& params,
    const std::vector<std::string>& repeated) {
  // Keeps first-appearance order of keys; "k[]" and "k[N]" are list items
  // (querystring_parser, which MLflow uses, reads them so).
  struct Field {
    std::vector<std::pair<int64_t, std::string>> values;  // (index or -1, value)
    bool list = false;
  };
  std::vector<std::string> order;
  std::map<std::string, Field, std::less<>> fields;
  for (const auto& [raw_key, value] : params) {
    std::string key = raw_key;
    int64_t index = -1;
    bool list = false;
    if (size_t open = key.find('['); open != std::string::npos && open > 0 && key.back() == ']') {
      std::string_view inner = std::string_view(key).substr(open + 1, key.size() - open - 2);
      int64_t n = 0;
      if (inner.empty() || (ParseDecimalInt64(inner, &n) && n >= 0)) {
        index = inner.empty() ? -1 : n;
        list = true;
        key.resize(open);
      }
    }
    auto [it, inserted] = fields.try_emplace(key);
    if (inserted) order.push_back(key);
    it->second.values.emplace_back(index, value);
    it->second.list = it->second.list || list;
  }
  std::vector<json::Value::Member> members;
  members.reserve(order.size());
  for (const std::string& key : order) {
    Field& f = fields.find(key)->second;
    bool as_list = f.list || f.values.size() > 1 ||
                   std::find(repeated.begin(), repeated.end(), key) != repeated.end();
    if (!as_list) {
      members.emplace_back(key, json::Value::String(std::move(f.values.front().second)));
      continue;
    }
    // "k[N]" items in index order; with any unindexed item, arrival order.
    if (std::all_of(f.values.begin(), f.values.end(), [](const auto& p) { return p.first >= 0; })) {
      std::stable_sort(f.values.begin(), f.values.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    std::vector<json::Value> items;
    items.reserve(f.values.size());
    for (auto& [index, value] : f.values) items.push_back(json::Value::String(std::move(value)));
    members.emplace_back(key, json::Value::Array(std::move(items)));
  }
  return RequestMessage(json::Value::Object(std::move(members)));
}

Result<RequestMessage> RequestMessage::FromJsonBody(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return RequestMessage();
  json::ParseLimits limits;
  limits.max_depth = kMaxRequestJsonDepth;
  auto parsed = json::Parse(body, limits);
  if (!parsed) {
    return Err(Status(ErrorCode::kMalformedRequest,
                      "Request body is not valid JSON: " + parsed.error().message()));
  }
  json::Value root = std::move(*parsed);
  if (root.is_string()) {
    // Older clients post the JSON document double-encoded as a string.
    auto inner = json::Parse(root.as_string(), limits);
    if (!inner) {
      return Err(Status(ErrorCode::kMalformedRequest,
                        "Request body is a JSON string that does not hold a JSON object: " +
                            inner.error().message()));
    }
    root = std::move(*inner);
  }
  if (root.is_null()) return RequestMessage();
  if (!root.is_object()) {
    return Err(Status(ErrorCode::kMalformedRequest, "Request body must be a JSON object, got " +
                                                        std::string(root.KindName()) + "."));
  }
  return RequestMessage(std::move(root));
}

const json::Value* RequestMessage::Find(std::string_view name) const {
  return FindNonNull(root_, name);
}

Result<std::optional<std::string>> RequestMessage::OptionalString(std::string_view name) const {
  const json::Value* v = Find(name);
  if (!v) return std::optional<std::string>();
  ASSIGN_OR_RETURN(std::string s, ToStringField(*v, name));
  return std::optional<std::string>(std::move(s));
}

Result<std::string> RequestMessage::RequiredString(std::string_view name) const {
  const json::Value* v = Find(name);
  if (!v || (v->is_string() && v->as_string().empty())) return Err(MissingValue(name));
  return ToStringField(*v, name);
}

Result<std::string> RequestMessage::StringOr(std::string_view name,
                                             std::string_view fallback) const {
  ASSIGN_OR_RETURN(std::optional<std::string> s, OptionalString(name));
  return s ? std::move(*s) : std::string(fallback);
}

Result<std::optional<int64_t>> RequestMessage::OptionalInt64(std::string_view name) const {
  const json::Value* v = Find(name);
  if (!v) return std::optional<int64_t>();
  ASSIGN_OR_RETURN(int64_t i, ToInt64Field(*v, name));
  return std::optional<int64_t>(i);
}

Result<int64_t> RequestMessage::RequiredInt64(std::string_view name) const {
  const json::Value* v = Find(name);
  if (!v || (v->is_string() && v->as_string().empty())) return Err(MissingValue(name));
  return ToInt64Field(*v, name);
}

Result<std::optional<int32_t>> RequestMessage::OptionalInt32(std::string_view name) const {
  const json::Value* v = Find(name);
  if (!v) return std::optional<int32_t>();
  ASSIGN_OR_RETURN(int32_t i, ToInt32Field(*v, name));
  return std::optional<int32_t>(i);
}

Result<std::optional<double>> RequestMessage::OptionalDouble(std::string_view name) const {
  const json::Value* v = Find(name);
  if (!v) return std::optional<double>();
  ASSIGN_OR_RETURN(double d, ToDoubleField(*v, name));
  return std::optional<double>(d);
}

Result<double> RequestMessage::RequiredDouble(std::string_view name) const {
  const json::Value* v = Find(name);
  if (!v || (v->is_string() && v->as_string().empty())) return Err(MissingValue(name));
  return ToDoubleField(*v, name);
}

Result<std::vector<std::string>> RequestMessage::StringList(std::string_view name,
                                                            bool numbers_as_strings) const {
  std::vector<std::string> out;
  const json::Value* v = Find(name);
  if (!v) return out;
  if (!v->is_array()) return Err(InvalidValue(*v, name));
  out.reserve(v->items().size());
  for (const json::Value& item : v->items()) {
    if (item.is_string()) {
      out.push_back(item.as_string());
    } else if (numbers_as_strings && item.is_int64()) {
      out.push_back(std::to_string(item.as_int64()));
    } else {
      // MLflow validates list items as a whole (_assert_item_type_string).
      return Err(InvalidValue(*v, name));
    }
  }
  return out;
}

Result<std::vector<const json::Value*>> RequestMessage::ObjectList(std::string_view name) const {
  return ObjectListOf(Find(name), name);
}

Result<std::optional<std::string>> RequestMessage::OptionalEnum(
    std::string_view name, std::initializer_list<std::string_view> names) const {
  const json::Value* v = Find(name);
  if (!v) return std::optional<std::string>();
  ASSIGN_OR_RETURN(std::string s, ToEnumField(*v, name, names));
  return std::optional<std::string>(std::move(s));
}

Result<std::string> RequestMessage::RequiredRunId() const {
  const json::Value* v = Find("run_id");
  if (!v || (v->is_string() && v->as_string().empty())) {
    const json::Value* alias = Find("run_uuid");
    if (alias && !(alias->is_string() && alias->as_string().empty())) {
      return ToStringField(*alias, "run_uuid");
    }
    return Err(MissingValue("run_id"));
  }
  return ToStringField(*v, "run_id");
}

Result<std::optional<std::string>> RequestMessage::OptionalExperimentId(
    std::string_view name) const {
  const json::Value* v = Find(name);
  if (!v) return std::optional<std::string>();
  if (v->is_int64()) return std::optional<std::string>(std::to_string(v->as_int64()));
  ASSIGN_OR_RETURN(std::string s, ToStringField(*v, name));
  return std::optional<std::string>(std::move(s));
}

Result<std::string> RequestMessage::RequiredExperimentId(std::string_view name) const {
  ASSIGN_OR_RETURN(std::optional<std::string> id, OptionalExperimentId(name));
  if (!id || id->empty()) return Err(MissingValue(name));
  return std::move(*id);
}

// -------------------------------------------------------------- NestedMessage

const json::Value* NestedMessage::Find(std::string_view name) const {
  return FindNonNull(object_, name);
}

Result<std::string> NestedMessage::StringOr(std::string_view name,
                                            std::string_view fallback) const {
  const json::Value* v = Find(name);
  if (!v) return std::string(fallback);
  return ToStringField(*v, Name(name));
}

Result<std::optional<int64_t>> NestedMessage::OptionalInt64(std::string_view name) const {
  const json::Value* v = Find(name);
  if (!v) return std::optional<int64_t>();
  ASSIGN_OR_RETURN(int64_t i, ToInt64Field(*v, Name(name)));
  return std::optional<int64_t>(i);
}

Result<std::optional<double>> NestedMessage::OptionalDouble(std::string_view name) const {
  const json::Value* v = Find(name);
  if (!v) return std::optional<double>();
  ASSIGN_OR_RETURN(double d, ToDoubleField(*v, Name(name)));
  return std::optional<double>(d);
}

Result<std::vector<const json::Value*>> NestedMessage::ObjectList(std::string_view name) const {
  return ObjectListOf(Find(name), Name(name));
}

Result<const json::Value*> NestedMessage::OptionalObject(std::string_view name) const {
  const json::Value* v = Find(name);
  if (!v) return static_cast<const json::Value*>(nullptr);
  if (!v->is_object()) return Err(InvalidValue(*v, Name(name)));
  return v;
}

}  // namespace mlforge::api

#include "base/json.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <limits>

namespace mlforge::json {

Value Value::Bool(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.bool_ = b;
  return v;
}
Value Value::Int(int64_t i) {
  Value v;
  v.kind_ = Kind::kInt;
  v.num_.int_ = i;
  return v;
}
Value Value::Uint(uint64_t u) {
  Value v;
  v.kind_ = Kind::kUint;
  v.num_.uint_ = u;
  return v;
}
Value Value::Double(double d) {
  Value v;
  v.kind_ = Kind::kDouble;
  v.num_.double_ = d;
  return v;
}
Value Value::String(std::string s) {
  Value v;
  v.kind_ = Kind::kString;
  v.string_ = std::move(s);
  return v;
}
Value Value::Array(std::vector<Value> items) {
  Value v;
  v.kind_ = Kind::kArray;
  v.items_ = std::move(items);
  return v;
}
Value Value::Object(std::vector<Member> members) {
  Value v;
  v.kind_ = Kind::kObject;
  v.members_ = std::move(members);
  return v;
}

bool Value::is_int64() const {
  if (kind_ == Kind::kInt) return true;
  return kind_ == Kind::kUint &&
         num_.uint_ <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
}

int64_t Value::as_int64() const {
  switch (kind_) {
    case Kind::kInt: return num_.int_;
    case Kind::kUint: return static_cast<int64_t>(num_.uint_);
    case Kind::kDouble: return static_cast<int64_t>(num_.double_);
    default: return 0;
  }
}

double Value::as_double() const {
  switch (kind_) {
    case Kind::kInt: return static_cast<double>(num_.int_);
    case Kind::kUint: return static_cast<double>(num_.uint_);
    case Kind::kDouble: return num_.double_;
    default: return 0;
  }
}

const Value* Value::Find(std::string_view key) const {
  if (kind_ != Kind::kObject) return nullptr;
  for (const auto& [k, v] : members_) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string_view Value::KindName() const {
  switch (kind_) {
    case Kind::kNull: return "null";
    case Kind::kBool: return "boolean";
    case Kind::kInt:
    case Kind::kUint:
    case Kind::kDouble: return "number";
    case Kind::kString: return "string";
    case Kind::kArray: return "array";
    case Kind::kObject: return "object";
  }
  return "unknown";
}

namespace {

Value Convert(simdjson::dom::element e) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::NULL_VALUE: return Value();
    case element_type::BOOL: return Value::Bool(e.get_bool().value_unsafe());
    case element_type::INT64: return Value::Int(e.get_int64().value_unsafe());
    case element_type::UINT64: return Value::Uint(e.get_uint64().value_unsafe());
    case element_type::DOUBLE: return Value::Double(e.get_double().value_unsafe());
    case element_type::STRING: return Value::String(std::string(e.get_string().value_unsafe()));
    case element_type::ARRAY: {
      std::vector<Value> items;
      simdjson::dom::array arr = e.get_array().value_unsafe();
      items.reserve(arr.size());
      for (simdjson::dom::element child : arr) items.push_back(Convert(child));
      return Value::Array(std::move(items));
    }
    case element_type::OBJECT: {
      std::vector<Value::Member> members;
      simdjson::dom::object obj = e.get_object().value_unsafe();
      members.reserve(obj.size());
      for (simdjson::dom::key_value_pair kv : obj) {
        members.emplace_back(std::string(kv.key), Convert(kv.value));
      }
      return Value::Object(std::move(members));
    }
  }
  return Value();
}

}  // namespace

Result<Value> Parse(std::string_view text, const ParseLimits& limits) {
  // One parser per thread: its buffers are reused across requests.
  thread_local simdjson::dom::parser parser;
  thread_local int configured_depth = 0;
  if (configured_depth != limits.max_depth) {
    if (parser.allocate(std::max<size_t>(text.size(), 4096), limits.max_depth)) {
      return Err(Status(ErrorCode::kInternalError, "cannot allocate JSON parser"));
    }
    configured_depth = limits.max_depth;
  }
  if (text.size() > parser.capacity()) {
    if (parser.allocate(text.size(), limits.max_depth)) {
      return Err(Status(ErrorCode::kPayloadTooLarge, "JSON document too large"));
    }
  }
  simdjson::padded_string padded(text);
  simdjson::dom::element root;
  auto error = parser.parse(padded).get(root);
  if (error) {
    std::string msg = "Malformed JSON: ";
    if (error == simdjson::DEPTH_ERROR) {
      msg += "nesting deeper than " + std::to_string(limits.max_depth) + " levels";
    } else {
      msg += simdjson::error_message(error);
    }
    return Err(Status(ErrorCode::kMalformedRequest, std::move(msg)));
  }
  return Convert(root);
}

void AppendQuoted(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run_start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run_start, i - run_start);
    run_start = i + 1;
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
    }
  }
  out.append(s.data() + run_start, s.size() - run_start);
  out.push_back('"');
}

void AppendDouble(std::string& out, double d) {
  if (std::isnan(d)) {
    out.append("\"NaN\"");
    return;
  }
  if (std::isinf(d)) {
    out.append(d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d);
  std::string_view text(buf, end - buf);
  out.append(text);
  // Keep doubles recognisable as floating point ("1.0", not "1"), as Python does.
  if (text.find_first_of(".eEn") == std::string_view::npos) out.append(".0");
}

void Writer::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!has_element_.empty()) {
    if (has_element_.back()) out_->push_back(',');
    has_element_.back() = true;
  }
}

Writer& Writer::StartObject() {
  BeforeValue();
  out_->push_back('{');
  has_element_.push_back(false);
  return *this;
}
Writer& Writer::EndObject() {
  out_->push_back('}');
  has_element_.pop_back();
  return *this;
}
Writer& Writer::StartArray() {
  BeforeValue();
  out_->push_back('[');
  has_element_.push_back(false);
  return *this;
}
Writer& Writer::EndArray() {
  out_->push_back(']');
  has_element_.pop_back();
  return *this;
}
Writer& Writer::Key(std::string_view key) {
  BeforeValue();
  AppendQuoted(*out_, key);
  out_->push_back(':');
  after_key_ = true;
  return *this;
}
Writer& Writer::String(std::string_view s) {
  BeforeValue();
  AppendQuoted(*out_, s);
  return *this;
}
Writer& Writer::Int(int64_t i) {
  BeforeValue();
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), i);
  out_->append(buf, end - buf);
  return *this;
}
Writer& Writer::Uint(uint64_t u) {
  BeforeValue();
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), u);
  out_->append(buf, end - buf);
  return *this;
}
Writer& Writer::Double(double d) {
  BeforeValue();
  AppendDouble(*out_, d);
  return *this;
}
Writer& Writer::Bool(bool b) {
  BeforeValue();
  out_->append(b ? "true" : "false");
  return *this;
}
Writer& Writer::Null() {
  BeforeValue();
  out_->append("null");
  return *this;
}
Writer& Writer::Raw(std::string_view json) {
  BeforeValue();
  out_->append(json);
  return *this;
}

Writer& Writer::Value(const json::Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull: return Null();
    case Value::Kind::kBool: return Bool(v.as_bool());
    case Value::Kind::kInt: return Int(v.as_int64());
    case Value::Kind::kUint: return Uint(static_cast<uint64_t>(v.as_int64()));
    case Value::Kind::kDouble: return Double(v.as_double());
    case Value::Kind::kString: return String(v.as_string());
    case Value::Kind::kArray:
      StartArray();
      for (const auto& item : v.items()) Value(item);
      return EndArray();
    case Value::Kind::kObject:
      StartObject();
      for (const auto& [k, item] : v.members()) {
        Key(k);
        Value(item);
      }
      return EndObject();
  }
  return *this;
}

std::string Serialize(const Value& value) {
  Writer w;
  w.Value(value);
  return w.Take();
}

}  // namespace mlforge::json

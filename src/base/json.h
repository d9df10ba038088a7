// JSON for everything except the hottest paths: a small owned DOM (parsed with
// simdjson, which stays out of this header) and a streaming writer.
//
// Protobuf-JSON conventions used by MLflow: non-finite doubles are written as
// the strings "NaN", "Infinity", "-Infinity"; int64 fields may arrive as
// strings. Value is an immutable value type once parsed; Writer is
// externally synchronized.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace mlforge::json {

class Value {
 public:
  enum class Kind : uint8_t { kNull, kBool, kInt, kUint, kDouble, kString, kArray, kObject };
  using Member = std::pair<std::string, Value>;

  Value() = default;
  static Value Bool(bool b);
  static Value Int(int64_t i);
  static Value Uint(uint64_t u);
  static Value Double(double d);
  static Value String(std::string s);
  static Value Array(std::vector<Value> items);
  static Value Object(std::vector<Member> members);

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_number() const {
    return kind_ == Kind::kInt || kind_ == Kind::kUint || kind_ == Kind::kDouble;
  }
  // True for kInt, and kUint that fits int64.
  bool is_int64() const;
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_object() const { return kind_ == Kind::kObject; }

  // REQUIRES: the matching is_*() is true.
  bool as_bool() const { return bool_; }
  int64_t as_int64() const;
  double as_double() const;  // any number kind
  const std::string& as_string() const { return string_; }
  const std::vector<Value>& items() const { return items_; }
  const std::vector<Member>& members() const { return members_; }

  // Object lookup; nullptr when absent or when this is not an object.
  const Value* Find(std::string_view key) const;

  // Human name of the kind for error messages ("string", "object", ...).
  std::string_view KindName() const;

 private:
  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  union {
    int64_t int_;
    uint64_t uint_;
    double double_;
  } num_{};
  std::string string_;
  std::vector<Value> items_;
  std::vector<Member> members_;
};

struct ParseLimits {
  int max_depth = 64;
};

// Parses a complete JSON document. Errors are kMalformedRequest with a message
// that says what is wrong.
Result<Value> Parse(std::string_view text, const ParseLimits& limits = {});

// Serializes a Value (compact).
std::string Serialize(const Value& value);

// Appends the JSON string literal for s (with quotes, escaped) to out.
void AppendQuoted(std::string& out, std::string_view s);
// Appends a double: shortest round-trip form; non-finite as protobuf-JSON strings.
void AppendDouble(std::string& out, double d);

// Streaming writer producing compact JSON. Commas are placed automatically.
// Usage: w.StartObject(); w.Key("a"); w.Int(1); w.EndObject(); w.str().
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  Writer() : out_(&owned_) {}

  Writer& StartObject();
  Writer& EndObject();
  Writer& StartArray();
  Writer& EndArray();
  Writer& Key(std::string_view key);
  Writer& String(std::string_view s);
  Writer& Int(int64_t i);
  Writer& Uint(uint64_t u);
  Writer& Double(double d);
  Writer& Bool(bool b);
  Writer& Null();
  Writer& Raw(std::string_view json);  // an already-serialized value
  Writer& Value(const json::Value& v);

  // Convenience: Key(k) then the value.
  Writer& Field(std::string_view k, std::string_view v) { return Key(k).String(v); }
  Writer& Field(std::string_view k, const char* v) { return Key(k).String(v); }
  Writer& Field(std::string_view k, int64_t v) { return Key(k).Int(v); }
  Writer& Field(std::string_view k, int v) { return Key(k).Int(v); }
  Writer& Field(std::string_view k, double v) { return Key(k).Double(v); }
  Writer& Field(std::string_view k, bool v) { return Key(k).Bool(v); }

  const std::string& str() const { return *out_; }
  std::string Take() { return std::move(*out_); }

 private:
  void BeforeValue();
  std::string* out_;
  std::string owned_;
  // One entry per open container: true once it holds an element.
  std::vector<bool> has_element_;
  bool after_key_ = false;
};

}  // namespace mlforge::json

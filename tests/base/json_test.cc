#include "base/json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace mlforge::json {
namespace {

TEST(JsonParse, ObjectsArraysAndScalars) {
  auto v = Parse(R"({"a": 1, "b": [true, null, "x"], "c": -2.5, "d": 18446744073709551615})");
  ASSERT_TRUE(v.has_value()) << v.error().ToString();
  ASSERT_TRUE(v->is_object());
  EXPECT_EQ(v->Find("a")->as_int64(), 1);
  EXPECT_TRUE(v->Find("a")->is_int64());
  EXPECT_EQ(v->Find("b")->items().size(), 3u);
  EXPECT_TRUE(v->Find("b")->items()[1].is_null());
  EXPECT_EQ(v->Find("b")->items()[2].as_string(), "x");
  EXPECT_DOUBLE_EQ(v->Find("c")->as_double(), -2.5);
  EXPECT_FALSE(v->Find("d")->is_int64());  // uint64 beyond int64
  EXPECT_EQ(v->Find("missing"), nullptr);
}

TEST(JsonParse, RejectsMalformedAndNonStandard) {
  for (const char* bad : {"{", "{\"a\":}", "[1,]", "NaN", "{\"a\": Infinity}", "1e400", "",
                          "{\"a\":1} trailing"}) {
    auto v = Parse(bad);
    ASSERT_FALSE(v.has_value()) << bad;
    EXPECT_EQ(v.error().code(), ErrorCode::kMalformedRequest) << bad;
  }
}

TEST(JsonParse, DepthIsCapped) {
  std::string deep(100, '[');
  deep += std::string(100, ']');
  auto v = Parse(deep, ParseLimits{.max_depth = 64});
  ASSERT_FALSE(v.has_value());
  EXPECT_NE(v.error().message().find("deeper"), std::string::npos);
  EXPECT_TRUE(Parse(deep, ParseLimits{.max_depth = 128}).has_value());
}

TEST(JsonWriter, EscapesAndCommas) {
  Writer w;
  w.StartObject().Field("s", "a\"b\\c\n\x01").Key("arr").StartArray().Int(1).Int(-2).EndArray();
  w.Field("t", true).Key("n").Null().EndObject();
  EXPECT_EQ(w.str(), R"({"s":"a\"b\\c\n\u0001","arr":[1,-2],"t":true,"n":null})");
}

TEST(JsonWriter, DoublesRoundTripAndNonFinite) {
  Writer w;
  w.StartArray().Double(0.1).Double(3).Double(1e300).Double(std::nan(""));
  w.Double(std::numeric_limits<double>::infinity()).Double(-std::numeric_limits<double>::infinity());
  w.EndArray();
  EXPECT_EQ(w.str(), R"([0.1,3.0,1e+300,"NaN","Infinity","-Infinity"])");
}

TEST(JsonWriter, SerializeParsedValueIsStable) {
  const char* text = R"({"a":[1,2.5,"x",{"b":false}],"c":null})";
  auto v = Parse(text);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(Serialize(*v), text);
}

}  // namespace
}  // namespace mlforge::json

// Request decoding: protobuf-JSON field rules and MLflow's messages.
#include "api/mlflow_request.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "base/json.h"
#include "http/http.h"

namespace mlforge::api {
namespace {

json::Value J(std::string_view text) {
  auto v = json::Parse(text);
  EXPECT_TRUE(v.has_value()) << text;
  return v ? *v : json::Value();
}

RequestMessage Msg(std::string_view text) {
  auto m = RequestMessage::FromJsonBody(text);
  EXPECT_TRUE(m.has_value()) << text << ": " << m.error().ToString();
  return m ? *m : RequestMessage();
}

constexpr std::string_view kHint =
    " See the API docs for more information about request parameters.";

TEST(MlflowRequestTest, MissingAndInvalidMessagesAreMlflows) {
  Status missing = MissingValue("run_id");
  EXPECT_EQ(missing.code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(missing.message(),
            "Missing value for required parameter 'run_id'." + std::string(kHint));

  Status invalid = InvalidValue(J("123"), "name");
  EXPECT_EQ(invalid.code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(invalid.message(),
            "Invalid value 123 for parameter 'name' supplied. Hint: Value was of "
            "type 'int'." +
                std::string(kHint));
}

TEST(MlflowRequestTest, PythonReprOfValues) {
  EXPECT_EQ(PythonStr(J("\"abc\"")), "abc");
  EXPECT_EQ(PythonStr(J("true")), "True");
  EXPECT_EQ(PythonStr(J("null")), "None");
  EXPECT_EQ(PythonStr(J("1.5")), "1.5");
  EXPECT_EQ(PythonStr(J("2.0")), "2.0");
  EXPECT_EQ(PythonStr(J("[1, \"a\", false]")), "[1, 'a', False]");
  EXPECT_EQ(PythonStr(J("{\"k\": [\"it's\"]}")), "{'k': [\"it's\"]}");
  EXPECT_EQ(PythonTypeName(J("\"x\"")), "str");
  EXPECT_EQ(PythonTypeName(J("1")), "int");
  EXPECT_EQ(PythonTypeName(J("1.5")), "float");
  EXPECT_EQ(PythonTypeName(J("false")), "bool");
  EXPECT_EQ(PythonTypeName(J("null")), "NoneType");
  EXPECT_EQ(PythonTypeName(J("[]")), "list");
  EXPECT_EQ(PythonTypeName(J("{}")), "dict");
}

TEST(MlflowRequestTest, LongValuesAreClippedInMessages) {
  std::string big = "\"" + std::string(5000, 'x') + "\"";
  Status s = InvalidValue(J("[" + big + "]"), "order_by");
  EXPECT_LT(s.message().size(), 1300u);
  EXPECT_NE(s.message().find("..."), std::string::npos);
}

TEST(MlflowRequestTest, Int64AcceptsNumbersAndDecimalStrings) {
  EXPECT_EQ(*ToInt64Field(J("42"), "t"), 42);
  EXPECT_EQ(*ToInt64Field(J("-7"), "t"), -7);
  EXPECT_EQ(*ToInt64Field(J("\"1700000000000\""), "t"), 1700000000000);
  EXPECT_EQ(*ToInt64Field(J("\"-12\""), "t"), -12);
  EXPECT_EQ(*ToInt64Field(J("5.0"), "t"), 5);  // integral doubles, as protobuf
  EXPECT_EQ(*ToInt64Field(J("9223372036854775807"), "t"), INT64_MAX);
  EXPECT_EQ(*ToInt64Field(J("\"-9223372036854775808\""), "t"), INT64_MIN);
}

TEST(MlflowRequestTest, Int64RejectsEverythingElse) {
  for (std::string_view bad :
       {"5.5", "true", "false", "\"abc\"", "\"\"", "\"1e3\"", "\"5.0\"", "\" 5\"", "[1]", "{}",
        "9223372036854775808", "\"9223372036854775808\"", "1e19", "18446744073709551615"}) {
    auto r = ToInt64Field(J(bad), "timestamp");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidParameterValue) << bad;
    EXPECT_NE(
        r.error().message().find("for parameter 'timestamp' supplied. Hint: Value was of type"),
        std::string::npos)
        << r.error().message();
  }
  auto r = ToInt64Field(J("\"abc\""), "timestamp");
  EXPECT_EQ(r.error().message(),
            "Invalid value abc for parameter 'timestamp' supplied. Hint: Value "
            "was of type 'str'." +
                std::string(kHint));
  r = ToInt64Field(J("true"), "step");
  EXPECT_EQ(r.error().message(),
            "Invalid value True for parameter 'step' supplied. Hint: Value was "
            "of type 'bool'." +
                std::string(kHint));
}

TEST(MlflowRequestTest, Int32HasInt32Range) {
  EXPECT_EQ(*ToInt32Field(J("2147483647"), "max_results"), 2147483647);
  EXPECT_FALSE(ToInt32Field(J("2147483648"), "max_results").has_value());
  EXPECT_FALSE(ToInt32Field(J("\"-2147483649\""), "max_results").has_value());
}

TEST(MlflowRequestTest, DoubleAcceptsNumbersStringsAndNonFiniteNames) {
  EXPECT_EQ(*ToDoubleField(J("1.5"), "value"), 1.5);
  EXPECT_EQ(*ToDoubleField(J("3"), "value"), 3.0);
  EXPECT_EQ(*ToDoubleField(J("\"2.25\""), "value"), 2.25);
  EXPECT_EQ(*ToDoubleField(J("\"-1e3\""), "value"), -1000.0);
  EXPECT_TRUE(std::isnan(*ToDoubleField(J("\"NaN\""), "value")));
  EXPECT_EQ(*ToDoubleField(J("\"Infinity\""), "value"), INFINITY);
  EXPECT_EQ(*ToDoubleField(J("\"-Infinity\""), "value"), -INFINITY);
  EXPECT_TRUE(std::isnan(*ToDoubleField(J("\"nan\""), "value")));  // Python float()
  EXPECT_EQ(*ToDoubleField(J("\"-inf\""), "value"), -INFINITY);
  for (std::string_view bad : {"true", "\"abc\"", "\"\"", "\"1.5x\"", "[1.5]", "{}"}) {
    auto r = ToDoubleField(J(bad), "value");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidParameterValue);
  }
  EXPECT_EQ(ToDoubleField(J("\"abc\""), "value").error().message(),
            "Invalid value abc for parameter 'value' supplied. Hint: Value was of type 'str'." +
                std::string(kHint));
}

TEST(MlflowRequestTest, EnumsByNameOrNumber) {
  auto names = {std::string_view("ACTIVE_ONLY"), std::string_view("DELETED_ONLY"),
                std::string_view("ALL")};
  EXPECT_EQ(*ToEnumField(J("\"ALL\""), "view_type", names), "ALL");
  EXPECT_EQ(*ToEnumField(J("2"), "view_type", names), "DELETED_ONLY");
  EXPECT_EQ(*ToEnumField(J("\"1\""), "view_type", names), "ACTIVE_ONLY");
  EXPECT_FALSE(ToEnumField(J("\"all\""), "view_type", names).has_value());
  EXPECT_FALSE(ToEnumField(J("0"), "view_type", names).has_value());
  EXPECT_FALSE(ToEnumField(J("4"), "view_type", names).has_value());
  EXPECT_FALSE(ToEnumField(J("true"), "view_type", names).has_value());
}

TEST(MlflowRequestTest, RequiredFields) {
  RequestMessage m = Msg(R"({"a": "x", "empty": "", "nul": null, "num": 5})");
  EXPECT_EQ(*m.RequiredString("a"), "x");
  for (std::string_view name : {"empty", "nul", "absent"}) {
    auto r = m.RequiredString(name);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().message(), "Missing value for required parameter '" + std::string(name) +
                                       "'." + std::string(kHint));
  }
  EXPECT_EQ(m.RequiredString("num").error().message(),
            "Invalid value 5 for parameter 'num' supplied. Hint: Value was of type 'int'." +
                std::string(kHint));
  // Optional accessors treat null as absent.
  EXPECT_FALSE(m.OptionalString("nul")->has_value());
  EXPECT_EQ(*m.StringOr("nul", "d"), "d");
  EXPECT_FALSE(m.OptionalInt64("absent")->has_value());
  EXPECT_EQ(**m.OptionalInt64("num"), 5);
  EXPECT_FALSE(m.RequiredInt64("empty").has_value());
  EXPECT_FALSE(m.RequiredDouble("nul").has_value());
}

TEST(MlflowRequestTest, RunUuidIsAnAliasOfRunId) {
  EXPECT_EQ(*Msg(R"({"run_id": "a", "run_uuid": "b"})").RequiredRunId(), "a");
  EXPECT_EQ(*Msg(R"({"run_uuid": "b"})").RequiredRunId(), "b");
  EXPECT_EQ(*Msg(R"({"run_id": "", "run_uuid": "b"})").RequiredRunId(), "b");
  auto missing = Msg(R"({"run_uuid": ""})").RequiredRunId();
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message().find("'run_id'"), std::string::npos);
  auto wrong = Msg(R"({"run_id": 12})").RequiredRunId();
  ASSERT_FALSE(wrong.has_value());
  EXPECT_NE(wrong.error().message().find("Invalid value 12 for parameter 'run_id'"),
            std::string::npos);
}

TEST(MlflowRequestTest, ExperimentIdsMayBeNumbers) {
  RequestMessage m = Msg(R"({"experiment_id": 3, "experiment_ids": [1, "2"], "bad": [true]})");
  EXPECT_EQ(*m.RequiredExperimentId("experiment_id"), "3");
  EXPECT_EQ(*m.StringList("experiment_ids", true), (std::vector<std::string>{"1", "2"}));
  EXPECT_FALSE(m.StringList("experiment_ids").has_value());  // numbers only where MLflow allows
  EXPECT_FALSE(m.StringList("bad", true).has_value());
  EXPECT_TRUE(m.StringList("absent")->empty());
  EXPECT_FALSE(Msg(R"({"experiment_id": true})").RequiredExperimentId("experiment_id").has_value());
}

TEST(MlflowRequestTest, ObjectListsNeedObjects) {
  RequestMessage m = Msg(R"({"tags": [{"key": "a"}, 5], "notlist": {"key": "a"}})");
  auto r = m.ObjectList("tags");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("parameter 'tags[1]'"), std::string::npos);
  auto r2 = m.ObjectList("notlist");
  ASSERT_FALSE(r2.has_value());
  EXPECT_NE(r2.error().message().find("Value was of type 'dict'"), std::string::npos);
  EXPECT_TRUE(m.ObjectList("absent")->empty());
}

TEST(MlflowRequestTest, NestedMessagesNameTheirFields) {
  json::Value v = J(R"({"key": "k", "value": "NaN", "timestamp": "x"})");
  NestedMessage n(v, "metrics[3].");
  EXPECT_EQ(*n.StringOr("key"), "k");
  EXPECT_TRUE(std::isnan(**n.OptionalDouble("value")));
  auto ts = n.OptionalInt64("timestamp");
  ASSERT_FALSE(ts.has_value());
  EXPECT_NE(ts.error().message().find("parameter 'metrics[3].timestamp'"), std::string::npos);
}

TEST(MlflowRequestTest, BodyParsing) {
  EXPECT_TRUE(Msg("").root().members().empty());
  EXPECT_TRUE(Msg("  \n").root().members().empty());
  EXPECT_TRUE(Msg("null").root().members().empty());
  // Double-encoded JSON (old clients).
  EXPECT_EQ(*Msg(R"("{\"name\": \"x\"}")").RequiredString("name"), "x");

  for (std::string_view bad : {"{", "{\"a\": }", "[1, 2]", "42", "\"just a string\"", "true",
                               "{\"a\": 1} trailing", "1e400"}) {
    auto r = RequestMessage::FromJsonBody(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kMalformedRequest) << bad;
  }
  auto arr = RequestMessage::FromJsonBody("[]");
  EXPECT_EQ(arr.error().message(), "Request body must be a JSON object, got array.");
}

TEST(MlflowRequestTest, BodyDepthIsCapped) {
  std::string deep;
  for (int i = 0; i < kMaxRequestJsonDepth + 1; ++i) deep += "{\"a\":";
  deep += "1";
  for (int i = 0; i < kMaxRequestJsonDepth + 1; ++i) deep += "}";
  auto r = RequestMessage::FromJsonBody(deep);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kMalformedRequest);
  std::string ok;
  for (int i = 0; i < 10; ++i) ok += "{\"a\":";
  ok += "1";
  for (int i = 0; i < 10; ++i) ok += "}";
  EXPECT_TRUE(RequestMessage::FromJsonBody(ok).has_value());
}

TEST(MlflowRequestTest, QueryStringFields) {
  std::vector<std::pair<std::string, std::string>> q = {
      {"run_ids", "a"}, {"run_ids", "b"},     {"metric_key", "loss"}, {"order_by[]", "x"},
      {"one", "1"},     {"ids[1]", "second"}, {"ids[0]", "first"}};
  RequestMessage m = RequestMessage::FromQuery(q, {"experiment_ids", "one"});
  EXPECT_EQ(*m.StringList("run_ids"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*m.StringList("order_by"), (std::vector<std::string>{"x"}));
  EXPECT_EQ(*m.StringList("one"), (std::vector<std::string>{"1"}));  // declared repeated
  EXPECT_EQ(*m.StringList("ids"), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(*m.RequiredString("metric_key"), "loss");
  // Query values are strings; int fields accept decimal strings.
  RequestMessage n = RequestMessage::FromQuery({{"max_results", "25"}, {"start_step", "x"}});
  EXPECT_EQ(**n.OptionalInt64("max_results"), 25);
  EXPECT_FALSE(n.OptionalInt64("start_step").has_value());
}

http::Request MakeRequest(http::Method method, std::string body,
                          std::vector<std::pair<std::string, std::string>> headers,
                          std::string query = {}) {
  http::Request r;
  r.method = method;
  r.body = std::move(body);
  r.headers = std::move(headers);
  r.query = query;
  if (!query.empty()) {
    size_t eq = query.find('=');
    r.query_params.emplace_back(query.substr(0, eq), query.substr(eq + 1));
  }
  return r;
}

TEST(MlflowRequestTest, ContentTypeRulesOfMlflow) {
  auto no_type = RequestMessage::Decode(MakeRequest(http::Method::kPost, "{}", {}));
  ASSERT_FALSE(no_type.has_value());
  EXPECT_EQ(no_type.error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(no_type.error().message(), "Bad Request. Content-Type header is missing.");

  auto text = RequestMessage::Decode(
      MakeRequest(http::Method::kPost, "{}", {{"content-type", "text/plain"}}));
  ASSERT_FALSE(text.has_value());
  EXPECT_EQ(text.error().message(),
            "Bad Request. Content-Type must be one of ['application/json'].");

  EXPECT_TRUE(
      RequestMessage::Decode(MakeRequest(http::Method::kPost, "{}",
                                         {{"content-type", "application/json; charset=utf-8"}}))
          .has_value());
  // MLflow checks POST and PUT only.
  EXPECT_TRUE(RequestMessage::Decode(MakeRequest(http::Method::kPatch, "{}", {})).has_value());
  EXPECT_TRUE(RequestMessage::Decode(MakeRequest(http::Method::kDelete, "", {})).has_value());
}

TEST(MlflowRequestTest, GetReadsTheQueryElseTheBody) {
  auto from_query = RequestMessage::Decode(
      MakeRequest(http::Method::kGet, "{\"run_id\": \"body\"}", {}, "run_id=query"));
  ASSERT_TRUE(from_query.has_value());
  EXPECT_EQ(*from_query->RequiredRunId(), "query");
  auto from_body =
      RequestMessage::Decode(MakeRequest(http::Method::kGet, "{\"run_id\": \"body\"}", {}));
  ASSERT_TRUE(from_body.has_value());
  EXPECT_EQ(*from_body->RequiredRunId(), "body");
}

}  // namespace
}  // namespace mlforge::api

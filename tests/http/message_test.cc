#include <gtest/gtest.h>

#include "base/json.h"
#include "http/http.h"

namespace mlforge::http {
namespace {

TEST(PercentDecode, DecodesEscapesOnce) {
  EXPECT_EQ(PercentDecode("a%20b").value(), "a b");
  EXPECT_EQ(PercentDecode("%2Fx%2fy").value(), "/x/y");
  EXPECT_EQ(PercentDecode("%2541").value(), "%41");  // once, not twice
  EXPECT_EQ(PercentDecode("").value(), "");
  EXPECT_EQ(PercentDecode("%E2%9C%93").value(), "\xE2\x9C\x93");
}

TEST(PercentDecode, PlusIsSpaceOnlyWhenAsked) {
  EXPECT_EQ(PercentDecode("a+b").value(), "a+b");
  EXPECT_EQ(PercentDecode("a+b", /*plus_as_space=*/true).value(), "a b");
  EXPECT_EQ(PercentDecode("a%2Bb", /*plus_as_space=*/true).value(), "a+b");
}

TEST(PercentDecode, RejectsMalformedEscapes) {
  for (std::string_view bad : {"%", "%4", "%zz", "%4g", "abc%", "abc%2", "%%41", "%G0"}) {
    auto decoded = PercentDecode(bad);
    ASSERT_FALSE(decoded.has_value()) << bad;
    EXPECT_EQ(decoded.error().code(), ErrorCode::kInvalidParameterValue) << bad;
  }
}

TEST(PercentEncode, KeepsUnreservedAndRoundTripsEveryByte) {
  EXPECT_EQ(PercentEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(PercentEncode("a b/c?d"), "a%20b%2Fc%3Fd");
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(PercentDecode(PercentEncode(all)).value(), all);
}

TEST(MethodName, NamesEveryMethod) {
  EXPECT_EQ(MethodName(Method::kGet), "GET");
  EXPECT_EQ(MethodName(Method::kHead), "HEAD");
  EXPECT_EQ(MethodName(Method::kPost), "POST");
  EXPECT_EQ(MethodName(Method::kPut), "PUT");
  EXPECT_EQ(MethodName(Method::kPatch), "PATCH");
  EXPECT_EQ(MethodName(Method::kDelete), "DELETE");
  EXPECT_EQ(MethodName(Method::kOptions), "OPTIONS");
  EXPECT_EQ(MethodName(Method::kOther), "OTHER");
}

TEST(Request, LooksUpHeadersAndParams) {
  Request req;
  req.headers = {{"content-type", "application/json"}, {"x-a", "1"}, {"x-a", "2"}};
  req.query_params = {{"k", "v1"}, {"other", ""}, {"k", "v2"}};
  req.path_params = {{"run_id", "abc"}};
  EXPECT_EQ(req.Header("Content-Type"), "application/json");
  EXPECT_EQ(req.Header("X-A"), "1");
  EXPECT_EQ(req.Header("missing"), "");
  ASSERT_NE(req.QueryParam("k"), nullptr);
  EXPECT_EQ(*req.QueryParam("k"), "v1");
  EXPECT_EQ(req.QueryParams("k"), (std::vector<std::string>{"v1", "v2"}));
  EXPECT_EQ(*req.QueryParam("other"), "");
  EXPECT_EQ(req.QueryParam("none"), nullptr);
  EXPECT_TRUE(req.QueryParams("none").empty());
  ASSERT_NE(req.PathParam("run_id"), nullptr);
  EXPECT_EQ(*req.PathParam("run_id"), "abc");
  EXPECT_EQ(req.PathParam("x"), nullptr);
}

TEST(Response, SetErrorWritesEscapedMlflowShape) {
  Response res;
  res.body_file = "/nonexistent";
  res.SetError(404, "RESOURCE_DOES_NOT_EXIST", "Run 'a\"b' not found\n");
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.content_type, "application/json");
  EXPECT_TRUE(res.body_file.empty());
  auto parsed = json::Parse(res.body);
  ASSERT_TRUE(parsed.has_value()) << res.body;
  EXPECT_EQ(parsed->Find("error_code")->as_string(), "RESOURCE_DOES_NOT_EXIST");
  EXPECT_EQ(parsed->Find("message")->as_string(), "Run 'a\"b' not found\n");
}

TEST(Response, SetHeaderReplacesCaseInsensitivelyAndOwnsContentType) {
  Response res;
  res.SetHeader("X-Thing", "1");
  res.SetHeader("x-thing", "2");
  res.SetHeader("Cache-Control", "no-store");
  ASSERT_EQ(res.headers.size(), 2u);
  EXPECT_EQ(res.headers[0].second, "2");
  res.SetHeader("Content-Type", "text/plain");
  EXPECT_EQ(res.content_type, "text/plain");
  EXPECT_EQ(res.headers.size(), 2u);
  res.SetJson("{\"a\":1}", 201);
  EXPECT_EQ(res.status, 201);
  EXPECT_EQ(res.content_type, "application/json");
  EXPECT_EQ(res.body, "{\"a\":1}");
}

}  // namespace
}  // namespace mlforge::http

// The log-batch fast path accepts only plain well-formed bodies, decoded
// exactly; everything else is left to the generic decoder (nullopt).
#include "api/log_batch_fast_path.h"

#include <gtest/gtest.h>

#include "http/http.h"

namespace mlforge::api {
namespace {

http::Request Post(std::string body, std::string content_type = "application/json") {
  http::Request r;
  r.method = http::Method::kPost;
  r.body = std::move(body);
  if (!content_type.empty()) r.headers.emplace_back("content-type", content_type);
  return r;
}

TEST(LogBatchFastPath, DecodesAPlainBodyExactly) {
  auto body = DecodeLogBatchFast(Post(
      R"({"run_id":"r1","metrics":[{"key":"loss","value":0.25,"timestamp":17,"step":3},)"
      R"({"key":"acc","value":1,"timestamp":-5}],"params":[{"key":"lr","value":""}],)"
      R"("tags":[{"key":"t","value":"x\u00e9\n"}]})"));
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(body->run_id, "r1");
  ASSERT_EQ(body->metrics.size(), 2u);
  EXPECT_EQ(body->metrics[0].key, "loss");
  EXPECT_EQ(body->metrics[0].value, 0.25);
  EXPECT_EQ(body->metrics[0].timestamp, 17);
  EXPECT_EQ(body->metrics[0].step, 3);
  EXPECT_EQ(body->metrics[1].key, "acc");
  EXPECT_EQ(body->metrics[1].value, 1.0);
  EXPECT_EQ(body->metrics[1].timestamp, -5);
  EXPECT_EQ(body->metrics[1].step, 0);  // absent step is 0, as in MLflow
  ASSERT_EQ(body->params.size(), 1u);
  EXPECT_EQ(body->params[0].key, "lr");
  EXPECT_EQ(body->params[0].value, "");
  ASSERT_EQ(body->tags.size(), 1u);
  EXPECT_EQ(body->tags[0].value, "x\xc3\xa9\n");

  auto only_run = DecodeLogBatchFast(Post(R"({"run_id":"r1"})"));
  ASSERT_TRUE(only_run.has_value());
  EXPECT_TRUE(only_run->metrics.empty());
}

TEST(LogBatchFastPath, LeavesEverythingUnusualToTheGenericDecoder) {
  const char* bodies[] = {
      R"({"run_uuid":"r1","metrics":[]})",                                    // alias
      R"({"run_id":"","metrics":[]})",                                        // empty id
      R"({"run_id":"r1","run_id":"r2"})",                                     // duplicate
      R"({"run_id":"r1","extra":1})",                                         // unknown field
      R"({"run_id":"r1","metrics":null})",                                    // null list
      R"({"run_id":"r1","metrics":{}})",                                      // not a list
      R"({"run_id":"r1","metrics":[{"key":"m","value":"NaN","timestamp":1}]})",  // NaN string
      R"({"run_id":"r1","metrics":[{"key":"m","value":1,"timestamp":"1"}]})",    // int as string
      R"({"run_id":"r1","metrics":[{"key":"m","value":1,"timestamp":1.5}]})",    // double ts
      R"({"run_id":"r1","metrics":[{"key":"m","value":1e400,"timestamp":1}]})",  // overflow
      R"({"run_id":"r1","metrics":[{"key":"m","value":18446744073709551615,"timestamp":1}]})",
      R"({"run_id":"r1","metrics":[{"key":"","value":1,"timestamp":1}]})",       // empty key
      R"({"run_id":"r1","metrics":[{"key":"m","timestamp":1}]})",                // no value
      R"({"run_id":"r1","metrics":[{"key":"m","value":1}]})",                    // no timestamp
      R"({"run_id":"r1","metrics":[{"key":"m","value":1,"timestamp":1,"step":null}]})",
      R"({"run_id":"r1","metrics":[{"key":"m","key":"n","value":1,"timestamp":1}]})",
      R"({"run_id":"r1","params":[{"key":"p"}]})",                               // no value
      R"({"run_id":"r1","params":[{"key":"p","value":1}]})",                     // number value
      R"({"run_id":"r1","tags":[{"key":"t","value":"v","x":1}]})",               // unknown
      R"({"run_id":"r1","metrics":[[]]})",                                       // not an object
      R"("{\"run_id\":\"r1\"}")",                                                // double-encoded
      R"([{"run_id":"r1"}])",                                                    // not an object
      R"({"run_id":"r1",)",                                                      // malformed
  };
  for (const char* body : bodies) {
    EXPECT_FALSE(DecodeLogBatchFast(Post(body)).has_value()) << body;
  }
  EXPECT_FALSE(DecodeLogBatchFast(Post(R"({"run_id":"r1"})", "")).has_value());
  EXPECT_FALSE(DecodeLogBatchFast(Post(R"({"run_id":"r1"})", "text/plain")).has_value());
  http::Request with_query = Post(R"({"run_id":"r1"})");
  with_query.query = "run_id=r2";
  EXPECT_FALSE(DecodeLogBatchFast(with_query).has_value());
}

}  // namespace
}  // namespace mlforge::api

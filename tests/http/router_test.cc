#include <gtest/gtest.h>

#include "http/http.h"

namespace mlforge::http {
namespace {

// A handler that names itself, to tell which route matched.
Handler Named(std::string name) {
  return [name](Request&, Response& res) { res.body = name; };
}

std::string Call(const Router::Match& m) {
  if (m.handler == nullptr) return "<none>";
  Request req;
  Response res;
  (*m.handler)(req, res);
  return res.body;
}

TEST(Router, LiteralBeatsParameterWhateverTheOrder) {
  Router r;
  r.Add(Method::kGet, "/runs/{id}", Named("param"));
  r.Add(Method::kGet, "/runs/search", Named("literal"));
  EXPECT_EQ(Call(r.Find(Method::kGet, "/runs/search")), "literal");
  auto m = r.Find(Method::kGet, "/runs/abc");
  EXPECT_EQ(Call(m), "param");
  EXPECT_EQ(m.params.at("id"), "abc");
}

TEST(Router, BacktracksFromALiteralDeadEnd) {
  Router r;
  r.Add(Method::kGet, "/a/b/d", Named("abd"));
  r.Add(Method::kGet, "/a/{x}/c", Named("axc"));
  auto m = r.Find(Method::kGet, "/a/b/c");
  EXPECT_EQ(Call(m), "axc");
  EXPECT_EQ(m.params.at("x"), "b");
  EXPECT_EQ(Call(r.Find(Method::kGet, "/a/b/d")), "abd");
}

TEST(Router, ParameterNeedsANonEmptySegment) {
  Router r;
  r.Add(Method::kGet, "/runs/{id}/metrics", Named("metrics"));
  EXPECT_EQ(Call(r.Find(Method::kGet, "/runs/7/metrics")), "metrics");
  EXPECT_EQ(Call(r.Find(Method::kGet, "/runs//metrics")), "<none>");
  EXPECT_EQ(Call(r.Find(Method::kGet, "/runs/7")), "<none>");
  EXPECT_EQ(Call(r.Find(Method::kGet, "/runs/7/metrics/")), "<none>");
}

TEST(Router, RestOfPathTakesSlashes) {
  Router r;
  r.Add(Method::kGet, "/artifacts/{run}/{path...}", Named("rest"));
  auto m = r.Find(Method::kGet, "/artifacts/r1/dir/sub/model.pkl");
  EXPECT_EQ(Call(m), "rest");
  EXPECT_EQ(m.params.at("run"), "r1");
  EXPECT_EQ(m.params.at("path"), "dir/sub/model.pkl");
  m = r.Find(Method::kGet, "/artifacts/r1/");
  EXPECT_EQ(Call(m), "rest");
  EXPECT_EQ(m.params.at("path"), "");
  EXPECT_EQ(Call(r.Find(Method::kGet, "/artifacts/r1")), "<none>");
}

TEST(Router, EncodedSlashStaysInItsSegmentAndParamsAreRaw) {
  Router r;
  r.Add(Method::kGet, "/models/{name}", Named("model"));
  auto m = r.Find(Method::kGet, "/models/team%2Fmodel");
  EXPECT_EQ(Call(m), "model");
  EXPECT_EQ(m.params.at("name"), "team%2Fmodel");  // the server decodes
  EXPECT_EQ(Call(r.Find(Method::kGet, "/models/team/model")), "<none>");
}

TEST(Router, RootAndTrailingSlashAreDistinct) {
  Router r;
  r.Add(Method::kGet, "/", Named("root"));
  r.Add(Method::kGet, "/a", Named("a"));
  EXPECT_EQ(Call(r.Find(Method::kGet, "/")), "root");
  EXPECT_EQ(Call(r.Find(Method::kGet, "/a")), "a");
  EXPECT_EQ(Call(r.Find(Method::kGet, "/a/")), "<none>");
  EXPECT_EQ(Call(r.Find(Method::kGet, "")), "<none>");
  EXPECT_EQ(Call(r.Find(Method::kGet, "a")), "<none>");
}

TEST(Router, DifferentParameterNamesAtTheSamePosition) {
  Router r;
  r.Add(Method::kGet, "/x/{run_id}/a", Named("a"));
  r.Add(Method::kGet, "/x/{model}/b", Named("b"));
  EXPECT_EQ(r.Find(Method::kGet, "/x/1/a").params.at("run_id"), "1");
  EXPECT_EQ(r.Find(Method::kGet, "/x/2/b").params.at("model"), "2");
}

TEST(Router, OtherMethodGives405InfoAndHeadUsesGet) {
  Router r;
  r.Add(Method::kGet, "/items", Named("get"));
  r.Add(Method::kPost, "/items", Named("post"), BodyMode::kSpoolToFile);
  EXPECT_EQ(Call(r.Find(Method::kHead, "/items")), "get");
  auto post = r.Find(Method::kPost, "/items");
  EXPECT_EQ(post.body_mode, BodyMode::kSpoolToFile);
  auto del = r.Find(Method::kDelete, "/items");
  EXPECT_EQ(del.handler, nullptr);
  EXPECT_TRUE(del.path_matched_other_method);
  EXPECT_EQ(del.allowed_methods, (std::vector<Method>{Method::kGet, Method::kHead, Method::kPost}));
  auto none = r.Find(Method::kGet, "/nothing");
  EXPECT_EQ(none.handler, nullptr);
  EXPECT_FALSE(none.path_matched_other_method);
}

TEST(Router, ParamRouteForTheMethodWinsOverLiteralForAnother) {
  Router r;
  r.Add(Method::kPost, "/runs/create", Named("create"));
  r.Add(Method::kGet, "/runs/{id}", Named("get"));
  EXPECT_EQ(Call(r.Find(Method::kGet, "/runs/create")), "get");
  EXPECT_EQ(Call(r.Find(Method::kPost, "/runs/create")), "create");
  auto m = r.Find(Method::kPost, "/runs/x");
  EXPECT_TRUE(m.path_matched_other_method);
}

TEST(Router, FallbackOnlyWhenNoPathMatches) {
  Router r;
  r.Add(Method::kPost, "/api", Named("api"));
  r.SetFallback(Named("fallback"));
  EXPECT_EQ(Call(r.Find(Method::kGet, "/static/app.js")), "fallback");
  auto m = r.Find(Method::kGet, "/api");
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_TRUE(m.path_matched_other_method);
}

TEST(Router, SurvivesAMove) {
  Router r;
  r.Add(Method::kGet, "/a/{b}", Named("ab"));
  Router moved = std::move(r);
  EXPECT_EQ(Call(moved.Find(Method::kGet, "/a/1")), "ab");
}

TEST(RouterDeathTest, BadPatternsAreProgrammerErrors) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Router r;
        r.Add(Method::kGet, "no-slash", Named("x"));
      },
      "");
  EXPECT_DEATH(
      {
        Router r;
        r.Add(Method::kGet, "/{rest...}/more", Named("x"));
      },
      "");
  EXPECT_DEATH(
      {
        Router r;
        r.Add(Method::kGet, "/{}", Named("x"));
      },
      "");
  EXPECT_DEATH(
      {
        Router r;
        r.Add(Method::kGet, "/a/{x}", Named("x"));
        r.Add(Method::kGet, "/a/{y}", Named("y"));
      },
      "");
}

}  // namespace
}  // namespace mlforge::http

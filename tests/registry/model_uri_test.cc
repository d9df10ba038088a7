// models:/ references and version sources (registry/model_uri.h).
#include "registry/model_uri.h"

#include <gtest/gtest.h>

namespace mlforge::registry {
namespace {

TEST(ModelsUriTest, ParsesEveryForm) {
  auto v = ParseModelsUri("models:/fraud/12");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->name, "fraud");
  EXPECT_EQ(v->version, 12);
  auto s = ParseModelsUri("models:/fraud/production");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->stage, "production");
  EXPECT_FALSE(s->version.has_value());
  auto latest = ParseModelsUri("models:/fraud/LATEST");
  ASSERT_TRUE(latest.has_value());
  EXPECT_TRUE(latest->stage.empty() && latest->alias.empty() && !latest->version);
  auto a = ParseModelsUri("models:/fr@ud@champion");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->name, "fr@ud");
  EXPECT_EQ(a->alias, "champion");
}

TEST(ModelsUriTest, RefusesImproperUris) {
  for (const char* uri : {"models:", "models:/", "models:fraud/1", "models://fraud/1",
                          "models:/fraud", "models:/fraud/", "models:/a/b/c", "models:/@x",
                          "models:/x@", "runs:/abc/model", "models:/ /1"}) {
    auto r = ParseModelsUri(uri);
    ASSERT_FALSE(r.has_value()) << uri;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidParameterValue) << uri;
  }
}

TEST(VersionSourceTest, AcceptsOnlyWhatTheServerStores) {
  auto run = ParseVersionSource("runs:/abc123/model/sub");
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->kind, VersionSource::Kind::kRun);
  EXPECT_EQ(run->run_id, "abc123");
  EXPECT_EQ(run->path, "model/sub");
  auto whole_run = ParseVersionSource("runs:/abc123");
  ASSERT_TRUE(whole_run.has_value());
  EXPECT_EQ(whole_run->path, "");
  auto art = ParseVersionSource("mlflow-artifacts://host:5000/1/abc/artifacts/model");
  ASSERT_TRUE(art.has_value());
  EXPECT_EQ(art->path, "1/abc/artifacts/model");
  auto model = ParseVersionSource("models:/m/3");
  ASSERT_TRUE(model.has_value());
  EXPECT_EQ(model->kind, VersionSource::Kind::kModel);

  for (const char* bad :
       {"/etc/passwd", "file:///etc/passwd",
        "http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/x", "s3://bucket/model",
        "runs:/abc/../../../etc", "runs:/abc/%2e%2e/x", "runs:/", "runs:abc/x",
        "mlflow-artifacts:/0/../../etc", "mlflow-artifacts:/0/..%2f..%2fetc", "mlflow-artifacts:/",
        "mlflow-artifacts:/a\\..\\b", "C:\\models\\m", "relative/path", ""}) {
    auto r = ParseVersionSource(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidParameterValue) << bad;
  }
}

}  // namespace
}  // namespace mlforge::registry

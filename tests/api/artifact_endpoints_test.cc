// Artifact proxy (/api/2.0/mlflow-artifacts/...) and /get-artifact over a
// real in-process stack, including traversal attacks sent raw on the wire.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "api/api_test_env.h"
#include "base/json.h"
#include "http/http.h"

namespace mlforge::api {
namespace {

using testing::ApiTestEnv;
using testing::EnvOptions;
using testing::Json;
using testing::StringAt;

constexpr std::string_view kArtifacts = "/api/2.0/mlflow-artifacts/artifacts";

std::string Url(std::string_view path) { return std::string(kArtifacts) + "/" + std::string(path); }

class ArtifactEndpointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = std::make_unique<ApiTestEnv>();
    ASSERT_TRUE(env_->ok()) << env_->error();
  }
  ApiTestEnv& env() { return *env_; }

  http::ClientResponse Put(std::string_view path, std::string_view body,
                           std::string content_type = "application/octet-stream") {
    return env_->Send(http::Method::kPut, Url(path), body, {{"content-type", content_type}});
  }

  void ExpectError(const http::ClientResponse& r, int status, std::string_view code,
                   std::string_view message_part = {}) {
    EXPECT_EQ(r.status, status) << r.body;
    json::Value body = Json(r);
    EXPECT_EQ(StringAt(body, "error_code"), code) << r.body;
    EXPECT_NE(StringAt(body, "message").find(message_part), std::string::npos) << r.body;
    auto health = env_->Get("/health");
    EXPECT_EQ(health.status, 200);
  }

  // Everything under the test dir that is not inside the artifact store.
  std::vector<std::string> StrayFiles() {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(env_->dir())) {
      std::string rel = std::filesystem::relative(e.path(), env_->dir()).string();
      if (rel.starts_with("artifacts") || rel.starts_with("db.sqlite") ||
          rel.starts_with("spool")) {
        continue;
      }
      out.push_back(rel);
    }
    return out;
  }

 private:
  std::unique_ptr<ApiTestEnv> env_;
};

TEST_F(ArtifactEndpointsTest, UploadDownloadListDelete) {
  auto put = Put("1/run/artifacts/notes/readme.txt", "hello artifacts", "text/plain");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.body, "{}");
  EXPECT_EQ(put.Header("content-type").substr(0, 16), "application/json");
  std::string binary("\x00\x01\x02\xff", 4);
  ASSERT_EQ(Put("1/run/artifacts/model/model.pkl", binary).status, 200);
  ASSERT_EQ(Put("1/run/artifacts/model/MLmodel", "flavors: {}\n").status, 200);
  ASSERT_EQ(Put("1/run/artifacts/empty.txt", "").status, 200);

  auto text = env().Get(Url("1/run/artifacts/notes/readme.txt"));
  ASSERT_EQ(text.status, 200) << text.body;
  EXPECT_EQ(text.body, "hello artifacts");
  EXPECT_EQ(text.Header("content-type").substr(0, 10), "text/plain");
  EXPECT_EQ(text.Header("content-disposition"), "attachment; filename=readme.txt");
  EXPECT_EQ(text.Header("x-content-type-options"), "nosniff");

  auto bin = env().Get(Url("1/run/artifacts/model/model.pkl"));
  ASSERT_EQ(bin.status, 200);
  EXPECT_EQ(bin.body, binary);
  EXPECT_EQ(bin.Header("content-type"), "application/octet-stream");
  auto mlmodel = env().Get(Url("1/run/artifacts/model/MLmodel"));
  EXPECT_EQ(mlmodel.Header("content-type").substr(0, 10), "text/plain");
  auto empty = env().Get(Url("1/run/artifacts/empty.txt"));
  EXPECT_EQ(empty.status, 200);
  EXPECT_EQ(empty.body, "");

  // Listing: basenames only, file_size omitted for directories and empty files.
  auto list = env().Get(std::string(kArtifacts) + "?path=1/run/artifacts");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.body,
            R"({"files":[{"path":"empty.txt","is_dir":false},{"path":"model","is_dir":true},)"
            R"({"path":"notes","is_dir":true}]})");
  auto sub = env().Get(std::string(kArtifacts) + "?path=1%2Frun%2Fartifacts%2Fmodel");
  ASSERT_EQ(sub.status, 200);
  EXPECT_EQ(sub.body, R"({"files":[{"path":"MLmodel","is_dir":false,"file_size":12},)"
                      R"({"path":"model.pkl","is_dir":false,"file_size":4}]})");
  auto root = env().Get(std::string(kArtifacts));
  ASSERT_EQ(root.status, 200);
  EXPECT_EQ(root.body, R"({"files":[{"path":"1","is_dir":true}]})");
  // A file or a missing directory lists as empty (the client then downloads).
  EXPECT_EQ(env().Get(std::string(kArtifacts) + "?path=1/run/artifacts/empty.txt").body, "{}");
  EXPECT_EQ(env().Get(std::string(kArtifacts) + "?path=nothing/here").body, "{}");

  // Overwrite is allowed.
  ASSERT_EQ(Put("1/run/artifacts/notes/readme.txt", "v2").status, 200);
  EXPECT_EQ(env().Get(Url("1/run/artifacts/notes/readme.txt")).body, "v2");

  auto del = env().Send(http::Method::kDelete, Url("1/run/artifacts/notes"), "");
  EXPECT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(del.body, "{}");
  ExpectError(env().Get(Url("1/run/artifacts/notes/readme.txt")), 404, "RESOURCE_DOES_NOT_EXIST");
  // Deleting what is not there is fine, as MLflow's local repository.
  auto del_again = env().Send(http::Method::kDelete, Url("1/run/artifacts/notes"), "");
  EXPECT_EQ(del_again.status, 200) << del_again.body;
}

TEST_F(ArtifactEndpointsTest, MissingFilesAreNotFound) {
  ExpectError(env().Get(Url("1/nothing.txt")), 404, "RESOURCE_DOES_NOT_EXIST");
  ASSERT_EQ(Put("1/dir/file.txt", "x").status, 200);
  ExpectError(env().Get(Url("1/dir")), 404, "RESOURCE_DOES_NOT_EXIST");  // a directory
  ExpectError(env().Get(Url("")), 400, "INVALID_PARAMETER_VALUE");       // the root
  // A file where a directory is needed.
  auto clash = Put("1/dir/file.txt/below", "x");
  EXPECT_EQ(clash.status / 100, 4) << clash.body;
}

TEST_F(ArtifactEndpointsTest, AjaxPrefixAlias) {
  auto put = env().Send(http::Method::kPut, "/ajax-api/2.0/mlflow-artifacts/artifacts/a/b.txt",
                        "ajax", {{"content-type", "text/plain"}});
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(env().Get(Url("a/b.txt")).body, "ajax");
  EXPECT_EQ(env().Get("/ajax-api/2.0/mlflow-artifacts/artifacts?path=a").body,
            R"({"files":[{"path":"b.txt","is_dir":false,"file_size":4}]})");
}

TEST_F(ArtifactEndpointsTest, TraversalIsRejectedInEverySpelling) {
  ASSERT_EQ(Put("safe/file.txt", "x").status, 200);
  // Sent raw on the wire: the http layer decodes the path once, the store
  // refuses what remains.
  const std::vector<std::string> attacks = {
      "../../../etc/passwd",
      "safe/../../x",
      "%2e%2e/%2e%2e/etc/passwd",
      "%2E%2E/x",
      "..%2f..%2fetc%2fpasswd",
      "..%2F..%2Fx",
      "safe/%2e%2e/%2e%2e/x",
      "%252e%252e/x",
      "..%5c..%5cx",
      "%2fetc%2fpasswd",
      "safe/..",
      "safe//file.txt",
      "./safe/file.txt",
      "x%00y",
      "C:%5cwindows",
      "safe%2f..%2f..%2fx",
      "%c0%ae%c0%ae/x",
  };
  for (const std::string& a : attacks) {
    SCOPED_TRACE(a);
    ExpectError(env().Get(Url(a)), 400, "INVALID_PARAMETER_VALUE");
    ExpectError(Put(a, "evil"), 400, "INVALID_PARAMETER_VALUE");
    ExpectError(env().Send(http::Method::kDelete, Url(a), ""), 400, "INVALID_PARAMETER_VALUE");
    ExpectError(env().Send(http::Method::kPost, "/api/2.0/mlflow-artifacts/mpu/create/" + a, "{}",
                           {{"content-type", "application/json"}}),
                400, "INVALID_PARAMETER_VALUE");
  }
  for (std::string_view a : {"..", "../x", "%2e%2e", "safe/../..", "/etc", "%252e%252e"}) {
    SCOPED_TRACE(a);
    ExpectError(env().Get(std::string(kArtifacts) + "?path=" + std::string(a)), 400,
                "INVALID_PARAMETER_VALUE");
  }
  EXPECT_TRUE(StrayFiles().empty());
  // The legitimate file is still there.
  EXPECT_EQ(env().Get(Url("safe/file.txt")).body, "x");
}

TEST_F(ArtifactEndpointsTest, MultipartUploadIsNotImplemented) {
  for (std::string_view op : {"create", "complete", "abort"}) {
    auto r = env().Post("/api/2.0/mlflow-artifacts/mpu/" + std::string(op) + "/1/run/big.bin",
                        R"({"path": "big.bin", "num_parts": 2})");
    ExpectError(r, 501, "NOT_IMPLEMENTED",
                "Multipart upload is not supported for the current artifact repository");
  }
}

TEST_F(ArtifactEndpointsTest, LargeUploadsAreSpooledPastTheMemoryLimit) {
  // The env's memory body limit is 1 MiB; uploads stream to a spool file.
  std::string big(3 << 20, 'a');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
  auto put = Put("big/blob.bin", big);
  ASSERT_EQ(put.status, 200) << put.body;
  auto got = env().Get(Url("big/blob.bin"));
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body.size(), big.size());
  EXPECT_TRUE(got.body == big);
  // No spool file is left behind.
  size_t spooled = 0;
  for (const auto& e : std::filesystem::directory_iterator(env().dir() / "spool")) {
    (void)e;
    ++spooled;
  }
  EXPECT_EQ(spooled, 0u);
}

TEST_F(ArtifactEndpointsTest, GetArtifactForTheUi) {
  auto created = env().Post("/api/2.0/mlflow/runs/create", R"({"experiment_id": "0"})");
  ASSERT_EQ(created.status, 200) << created.body;
  std::string run_id = StringAt(*Json(created).Find("run")->Find("info"), "run_id");
  ASSERT_EQ(Put("0/" + run_id + "/artifacts/plots/loss.png", "PNGDATA").status, 200);

  auto r = env().Get("/get-artifact?path=plots/loss.png&run_uuid=" + run_id);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "PNGDATA");
  EXPECT_EQ(r.Header("content-type"), "image/png");
  EXPECT_EQ(r.Header("content-disposition"), "attachment; filename=loss.png");
  EXPECT_EQ(r.Header("x-content-type-options"), "nosniff");
  EXPECT_EQ(env().Get("/get-artifact?run_id=" + run_id + "&path=plots%2Floss.png").status, 200);

  ExpectError(env().Get("/get-artifact?run_id=" + run_id), 400, "INVALID_PARAMETER_VALUE",
              "Missing value for required parameter 'path'");
  ExpectError(env().Get("/get-artifact?path=plots/loss.png"), 400, "INVALID_PARAMETER_VALUE",
              "Missing value for required parameter 'run_id'");
  ExpectError(env().Get("/get-artifact?run_id=0123456789abcdef0123456789abcdef&path=a.txt"), 404,
              "RESOURCE_DOES_NOT_EXIST");
  ExpectError(env().Get("/get-artifact?run_id=" + run_id + "&path=nothing.txt"), 404,
              "RESOURCE_DOES_NOT_EXIST");
  for (std::string_view a : {"../../x", "..%2F..%2Fx", "%252e%252e%252fx", "/etc/passwd"}) {
    ExpectError(env().Get("/get-artifact?run_id=" + run_id + "&path=" + std::string(a)), 400,
                "INVALID_PARAMETER_VALUE");
  }
}

TEST(ArtifactEndpointsDisabledTest, ProxyAnswers503WithoutServeArtifacts) {
  EnvOptions options;
  options.serve_artifacts = false;
  ApiTestEnv env(options);
  ASSERT_TRUE(env.ok()) << env.error();
  auto check = [&](const http::ClientResponse& r) {
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(StringAt(Json(r), "error_code"), "TEMPORARILY_UNAVAILABLE");
    EXPECT_NE(StringAt(Json(r), "message").find("--no-serve-artifacts"), std::string::npos);
  };
  check(env.Get(Url("a.txt")));
  check(env.Send(http::Method::kPut, Url("a.txt"), "x", {{"content-type", "text/plain"}}));
  check(env.Send(http::Method::kDelete, Url("a.txt"), ""));
  check(env.Get(std::string(kArtifacts) + "?path=a"));
  check(env.Post("/api/2.0/mlflow-artifacts/mpu/create/a", "{}"));
  // Tracking keeps working; run artifact listing says what is missing.
  auto created = env.Post("/api/2.0/mlflow/runs/create", R"({"experiment_id": "0"})");
  ASSERT_EQ(created.status, 200) << created.body;
  std::string run_id = StringAt(*Json(created).Find("run")->Find("info"), "run_id");
  auto list = env.Get("/api/2.0/mlflow/artifacts/list?run_id=" + run_id);
  EXPECT_EQ(list.status, 501) << list.body;
  EXPECT_EQ(env.Get("/health").status, 200);
}

}  // namespace
}  // namespace mlforge::api

// The web UI's static serving (RegisterUiRoutes) over a real http::Server:
// cache headers, content types, the index.html fallback for deep links, API
// paths that keep their JSON 404, traversal in raw, encoded and symlinked
// spellings, and a missing UI dir.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "api/api.h"
#include "http/http.h"
#include "support/temp_dir.h"

namespace mlforge::api {
namespace {

namespace fs = std::filesystem;
using ::mlforge::testing::TempDir;

void WriteFile(const fs::path& path, std::string_view text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

constexpr std::string_view kIndex = "<!doctype html><title>mlforge</title><div id=app></div>";
constexpr std::string_view kScript = "console.log('ui')";
constexpr std::string_view kSecret = "not for the browser";

class UiHandlersTest : public ::testing::Test {
 protected:
  // A UI dir at <tmp>/ui/dist and a secret file beside it, outside the dir.
  void SetUp() override {
    ui_dir_ = dir_.path() / "ui" / "dist";
    WriteFile(ui_dir_ / "index.html", kIndex);
    WriteFile(ui_dir_ / "assets" / "index-abc123.js", kScript);
    WriteFile(ui_dir_ / "assets" / "index-abc123.css", "body{}");
    WriteFile(ui_dir_ / "favicon.svg", "<svg/>");
    WriteFile(dir_.path() / "ui" / "secret.txt", kSecret);
    WriteFile(dir_.path() / "secret.txt", kSecret);
  }

  void StartServer(fs::path ui_dir) {
    http::Router router;
    router.Add(http::Method::kGet, "/api/2.0/mlflow/experiments/search",
               [](http::Request&, http::Response& r) { r.SetJson(R"({"experiments":[]})"); });
    router.Add(http::Method::kGet, "/health", [](http::Request&, http::Response& r) {
      r.content_type = "text/plain";
      r.body = "OK";
    });
    RegisterUiRoutes(router, UiContext{.dir = std::move(ui_dir)});
    http::ServerOptions options;
    options.port = 0;
    options.threads = 1;
    auto server = http::Server::Start(options, std::move(router));
    ASSERT_TRUE(server.has_value()) << server.error().ToString();
    server_ = std::move(*server);
    client_ = std::make_unique<http::Client>("127.0.0.1", server_->port());
  }

  void TearDown() override {
    client_.reset();
    if (server_) server_->Stop();
  }

  http::ClientResponse Get(std::string_view target) { return Send(http::Method::kGet, target); }
  http::ClientResponse Send(http::Method method, std::string_view target) {
    auto r = client_->Send(method, target);
    EXPECT_TRUE(r.has_value()) << target;
    return r ? *r : http::ClientResponse{};
  }

  TempDir dir_;
  fs::path ui_dir_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<http::Client> client_;
};

TEST_F(UiHandlersTest, IndexIsServedWithNoCache) {
  StartServer(ui_dir_);
  for (std::string_view target : {"/", "/index.html"}) {
    http::ClientResponse r = Get(target);
    EXPECT_EQ(r.status, 200) << target;
    EXPECT_EQ(r.body, kIndex) << target;
    EXPECT_EQ(r.Header("content-type"), "text/html; charset=utf-8") << target;
    EXPECT_EQ(r.Header("cache-control"), "no-cache") << target;
  }
}

TEST_F(UiHandlersTest, HashedAssetsAreImmutableWithTheirContentType) {
  StartServer(ui_dir_);
  http::ClientResponse js = Get("/assets/index-abc123.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.body, kScript);
  // A module script must not be text/plain (MLflow's artifact table says so for .js).
  EXPECT_EQ(js.Header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(js.Header("cache-control"), "public, max-age=31536000, immutable");
  http::ClientResponse css = Get("/assets/index-abc123.css");
  EXPECT_EQ(css.Header("content-type"), "text/css; charset=utf-8");
  EXPECT_EQ(css.Header("cache-control"), "public, max-age=31536000, immutable");
  // Unhashed files outside assets/ revalidate.
  http::ClientResponse svg = Get("/favicon.svg");
  EXPECT_EQ(svg.status, 200);
  EXPECT_EQ(svg.Header("content-type"), "image/svg+xml; charset=utf-8");
  EXPECT_EQ(svg.Header("cache-control"), "no-cache");
  // HEAD: the same headers, no body.
  http::ClientResponse head = Send(http::Method::kHead, "/assets/index-abc123.js");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("cache-control"), "public, max-age=31536000, immutable");
  EXPECT_TRUE(head.body.empty());
}

TEST_F(UiHandlersTest, DeepLinksFallBackToIndex) {
  StartServer(ui_dir_);
  for (std::string_view target :
       {"/experiments", "/experiments/1/runs/abc?tab=metrics", "/models/churn.v2/versions/3",
        "/compare?runs=a,b", "/models/a%20b", "/favicon.svg/x", "/assets"}) {
    http::ClientResponse r = Get(target);
    EXPECT_EQ(r.status, 200) << target;
    EXPECT_EQ(r.body, kIndex) << target;
    EXPECT_EQ(r.Header("cache-control"), "no-cache") << target;
  }
  // A missing hashed asset is a 404, never HTML the browser would run as a script.
  http::ClientResponse missing = Get("/assets/index-old999.js");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body.find("<!doctype"), std::string::npos);
}

TEST_F(UiHandlersTest, ServerPathsKeepTheirJsonErrors) {
  StartServer(ui_dir_);
  EXPECT_EQ(Get("/api/2.0/mlflow/experiments/search").body, R"({"experiments":[]})");
  EXPECT_EQ(Get("/health").body, "OK");
  for (std::string_view target :
       {"/api/2.0/mlflow/nope", "/ajax-api/2.0/mlflow/nope", "/v2/models/x", "/metrics",
        "/version", "/deployments/d/invocations", "/%61pi/2.0/mlflow/nope", "/get-artifact"}) {
    http::ClientResponse r = Get(target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_NE(r.body.find("ENDPOINT_NOT_FOUND"), std::string::npos) << target << ": " << r.body;
  }
  // Other methods are not the UI's either.
  http::ClientResponse post = Send(http::Method::kPost, "/experiments");
  EXPECT_EQ(post.status, 404);
  EXPECT_NE(post.body.find("ENDPOINT_NOT_FOUND"), std::string::npos);
  // A path matched by another method still answers 405, not the UI.
  EXPECT_EQ(Send(http::Method::kPost, "/health").status, 405);
}

TEST_F(UiHandlersTest, TraversalIsRefused) {
  StartServer(ui_dir_);
  for (std::string_view target :
       {"/../secret.txt", "/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/%2e%2e/secret.txt",
        "/assets/..%2f..%2fsecret.txt", "/assets/%2e%2e/%2e%2e/secret.txt", "/./index.html",
        "/..%5csecret.txt", "/x/%00/index.html"}) {
    http::ClientResponse r = Get(target);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(r.body.find(kSecret), std::string::npos) << target;
  }
  // Absolute paths and doubled slashes stay inside the UI dir.
  for (std::string_view target : {"//etc/passwd", "/%2fetc/passwd", "//" "secret.txt"}) {
    http::ClientResponse r = Get(target);
    EXPECT_EQ(r.body.find(kSecret), std::string::npos) << target;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << target;
  }
  // A malformed escape is a 400 too.
  EXPECT_EQ(Get("/%zz").status, 400);
}

TEST_F(UiHandlersTest, SymlinksOutOfTheDirAreRefused) {
  fs::create_symlink(dir_.path() / "secret.txt", ui_dir_ / "leak.txt");
  fs::create_directory_symlink(dir_.path() / "ui", ui_dir_ / "up");
  WriteFile(ui_dir_ / "inner.txt", "inside");
  fs::create_symlink(ui_dir_ / "inner.txt", ui_dir_ / "alias.txt");
  StartServer(ui_dir_);
  for (std::string_view target : {"/leak.txt", "/up/secret.txt"}) {
    http::ClientResponse r = Get(target);
    EXPECT_EQ(r.status, 403) << target;
    EXPECT_EQ(r.body.find(kSecret), std::string::npos) << target;
  }
  // A link that stays inside is an ordinary file.
  http::ClientResponse inside = Get("/alias.txt");
  EXPECT_EQ(inside.status, 200);
  EXPECT_EQ(inside.body, "inside");
}

TEST_F(UiHandlersTest, MissingUiDirSaysSoInPlainText) {
  StartServer(dir_.path() / "no-such-dir");
  http::ClientResponse root = Get("/");
  EXPECT_EQ(root.status, 200);
  EXPECT_TRUE(root.Header("content-type").starts_with("text/plain"));
  EXPECT_NE(root.body.find("not built"), std::string::npos) << root.body;
  http::ClientResponse deep = Get("/experiments/1");
  EXPECT_EQ(deep.status, 404);
  EXPECT_NE(deep.body.find("not built"), std::string::npos);
  // The API is untouched.
  EXPECT_EQ(Get("/health").body, "OK");
}

TEST_F(UiHandlersTest, UiBuiltAfterStartIsPickedUp) {
  fs::path later = dir_.path() / "later";
  StartServer(later);
  EXPECT_NE(Get("/").body.find("not built"), std::string::npos);
  WriteFile(later / "index.html", kIndex);
  EXPECT_EQ(Get("/").body, kIndex);
}

}  // namespace
}  // namespace mlforge::api

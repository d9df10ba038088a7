#include "api/api_test_env.h"

#include <stdlib.h>

#include <stdexcept>

#include "api/api.h"

namespace mlforge::api::testing {

ApiTestEnv::ApiTestEnv(EnvOptions options) : ids_(MakeSequentialIdGenerator(42)) {
  auto db = sql::Database::Open("sqlite:///" + (dir_.path() / "db.sqlite").string());
  if (!db) {
    error_ = "database: " + db.error().ToString();
    return;
  }
  db_ = std::move(*db);
  auto tracking = tracking::TrackingService::Open(*db_, clock_, *ids_);
  if (!tracking) {
    error_ = "tracking: " + tracking.error().ToString();
    return;
  }
  tracking_ = std::move(*tracking);
  auto artifacts = blob::ArtifactStore::Open(dir_.path() / "artifacts");
  if (!artifacts) {
    error_ = "artifacts: " + artifacts.error().ToString();
    return;
  }
  artifacts_ = std::move(*artifacts);
  auto registry = registry::RegistryService::Open(
      *db_, clock_, *tracking_, options.serve_artifacts ? artifacts_.get() : nullptr);
  if (!registry) {
    error_ = "registry: " + registry.error().ToString();
    return;
  }
  registry_ = std::move(*registry);

  http::Router router;
  MlflowContext context;
  context.tracking = tracking_.get();
  context.artifacts = options.serve_artifacts ? artifacts_.get() : nullptr;
  context.serve_artifacts = options.serve_artifacts;
  context.registry = registry_.get();
  context.version = options.version;
  RegisterMlflowRoutes(router, context);
  RegisterLineageRoutes(router, LineageContext{.tracking = tracking_.get(),
                                               .registry = registry_.get()});

  http::ServerOptions server_options;
  server_options.host = "127.0.0.1";
  server_options.port = 0;
  server_options.threads = 2;
  server_options.max_body_bytes = options.max_body_bytes;
  server_options.spool_dir = dir_.path() / "spool";
  std::filesystem::create_directories(server_options.spool_dir);
  auto server = http::Server::Start(server_options, std::move(router));
  if (!server) {
    error_ = "server: " + server.error().ToString();
    return;
  }
  server_ = std::move(*server);
  client_ = std::make_unique<http::Client>("127.0.0.1", server_->port());
}

ApiTestEnv::~ApiTestEnv() {
  client_.reset();
  if (server_) server_->Stop();
}

http::ClientResponse ApiTestEnv::Send(http::Method method, std::string_view target,
                                      std::string_view body,
                                      std::vector<std::pair<std::string, std::string>> headers) {
  auto r = client_->Send(method, target, body, std::move(headers));
  if (!r) {
    http::ClientResponse failed;
    failed.body = r.error().ToString();
    return failed;
  }
  return std::move(*r);
}

http::ClientResponse ApiTestEnv::Get(std::string_view target) {
  return Send(http::Method::kGet, target, {});
}

http::ClientResponse ApiTestEnv::Post(std::string_view target, std::string_view json) {
  return Send(http::Method::kPost, target, json, {{"content-type", "application/json"}});
}

json::Value Json(const http::ClientResponse& response) {
  auto parsed = json::Parse(response.body);
  return parsed ? std::move(*parsed) : json::Value();
}

std::string StringAt(const json::Value& v, std::string_view key) {
  const json::Value* member = v.Find(key);
  return member && member->is_string() ? member->as_string() : std::string();
}

}  // namespace mlforge::api::testing

// An in-process MLflow server for endpoint tests: SQLite in a temp dir, the
// real TrackingService and ArtifactStore, RegisterMlflowRoutes, and an
// http::Server on 127.0.0.1 port 0. A fake clock and sequential ids keep
// the stack deterministic.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/ids.h"
#include "base/json.h"
#include "blob/blob.h"
#include "http/http.h"
#include "registry/registry.h"
#include "sql/sql.h"
#include "support/temp_dir.h"
#include "tracking/tracking.h"

namespace mlforge::api::testing {

using ::mlforge::testing::TempDir;


struct EnvOptions {
  bool serve_artifacts = true;
  size_t max_body_bytes = 1 << 20;
  std::string version = "2.12.1+mlforge.test";
};

// Owns the whole stack. Construction failures are reported through ok()
// and error() so fixtures can ASSERT on them.
class ApiTestEnv {
 public:
  explicit ApiTestEnv(EnvOptions options = {});
  ~ApiTestEnv();

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  uint16_t port() const { return server_ ? server_->port() : 0; }
  http::Client& client() { return *client_; }
  tracking::TrackingService& tracking() { return *tracking_; }
  blob::ArtifactStore& artifacts() { return *artifacts_; }
  FakeClock& clock() { return clock_; }
  const std::filesystem::path& dir() const { return dir_.path(); }

  // Convenience requests; a transport failure becomes status 0.
  http::ClientResponse Get(std::string_view target);
  http::ClientResponse Post(std::string_view target, std::string_view json);
  http::ClientResponse Send(http::Method method, std::string_view target, std::string_view body,
                            std::vector<std::pair<std::string, std::string>> headers = {});

 private:
  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<IdGenerator> ids_;
  std::unique_ptr<sql::Database> db_;
  std::unique_ptr<tracking::TrackingService> tracking_;
  std::unique_ptr<blob::ArtifactStore> artifacts_;
  std::unique_ptr<registry::RegistryService> registry_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<http::Client> client_;
  std::string error_;
};

// The response body parsed as JSON (null Value if it is not JSON).
json::Value Json(const http::ClientResponse& response);
// Shorthand for a JSON string member, "" if absent.
std::string StringAt(const json::Value& v, std::string_view key);

}  // namespace mlforge::api::testing

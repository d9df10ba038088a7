// HTTP/1.1 server and client (Boost.Beast stays inside src/http/*.cc).
// Knows no domain types: handlers get a Request and fill a Response.
//
// Errors the layer itself produces (404 no route, 405, 408 timeout, 413 too
// large, 400 unparseable) use MLflow's shape:
//   {"error_code": "ENDPOINT_NOT_FOUND", "message": "..."}
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace mlforge::http {

enum class Method { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions, kOther };
std::string_view MethodName(Method m);

// Percent-decodes once ('+' stays '+' unless plus_as_space). Fails on a
// malformed escape.
Result<std::string> PercentDecode(std::string_view s, bool plus_as_space = false);
std::string PercentEncode(std::string_view s);  // RFC 3986 unreserved kept

struct Request {
  Method method = Method::kGet;
  std::string target;      // raw request target: path + '?' + query
  std::string path;        // raw path (not decoded)
  std::string query;       // raw query string (after '?', not decoded)
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::vector<std::pair<std::string, std::string>> query_params;  // decoded, in order
  // Path parameters from the route pattern, percent-decoded once.
  std::map<std::string, std::string, std::less<>> path_params;
  std::string body;                      // in-memory body (BodyMode::kMemory)
  std::filesystem::path body_file;       // spooled body (BodyMode::kSpoolToFile); removed after the response
  std::string request_id;                // X-Request-Id from the client, or generated
  std::string remote_address;

  // First header with that (case-insensitive) name, or empty.
  std::string_view Header(std::string_view name) const;
  // First decoded query parameter with that name, or nullptr.
  const std::string* QueryParam(std::string_view name) const;
  std::vector<std::string> QueryParams(std::string_view name) const;
  const std::string* PathParam(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // If set, the body is streamed from this file instead of `body`.
  std::filesystem::path body_file;

  void SetHeader(std::string name, std::string value);
  // MLflow error shape, e.g. (404, "RESOURCE_DOES_NOT_EXIST", "Run 'x' not found").
  void SetError(int http_status, std::string_view error_code, std::string_view message);
  void SetJson(std::string json, int http_status = 200);
};

// Handlers run on the server's worker threads and may block (database,
// disk); they must be thread-safe.
using Handler = std::function<void(Request&, Response&)>;

enum class BodyMode {
  kMemory,       // read into Request::body, up to ServerOptions::max_body_bytes
  kSpoolToFile,  // stream into a temp file (Request::body_file), up to max_spooled_body_bytes
};

// Maps (method, path) to handlers. Patterns: literal segments, "{name}" for
// one segment, and a final "{name...}" for the rest of the path (may contain
// '/'). Literal routes win over parameter routes. Build it before Start();
// afterwards it is immutable and read concurrently.
class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  void Add(Method method, std::string_view pattern, Handler handler,
           BodyMode body_mode = BodyMode::kMemory);
  // A handler for every method/path no route matched (e.g. UI static files);
  // without it such requests get 404 ENDPOINT_NOT_FOUND.
  void SetFallback(Handler handler);

  struct Match {
    const Handler* handler = nullptr;
    BodyMode body_mode = BodyMode::kMemory;
    std::map<std::string, std::string, std::less<>> params;  // raw (not decoded)
    bool path_matched_other_method = false;  // for 405
  };
  Match Find(Method method, std::string_view path) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 5000;  // 0 picks a free port; see Server::port()
  int threads = 0;       // 0 = one per core
  size_t max_body_bytes = 64 << 20;             // BodyMode::kMemory routes
  uint64_t max_spooled_body_bytes = 8ull << 30;  // BodyMode::kSpoolToFile routes
  std::filesystem::path spool_dir;              // default: system temp dir
  std::chrono::milliseconds header_timeout{10'000};  // to receive the full header
  std::chrono::milliseconds body_timeout{60'000};    // per body read of progress
  std::chrono::milliseconds idle_timeout{60'000};    // keep-alive idle
  bool access_log = false;
  // CORS: off when empty; "*" or a comma-separated origin list.
  std::string cors_allowed_origins;
  std::string server_header = "mlforge";
};

// Thread-safe. Stop() is graceful: stops accepting, lets in-flight requests
// finish (up to drain_timeout), then closes connections.
class Server {
 public:
  static Result<std::unique_ptr<Server>> Start(ServerOptions options, Router router);
  virtual ~Server() = default;
  virtual uint16_t port() const = 0;
  virtual void Stop(std::chrono::milliseconds drain_timeout = std::chrono::seconds(10)) = 0;
  // Blocks until Stop() has completed (from another thread or a signal).
  virtual void Wait() = 0;
};

// Installs SIGINT/SIGTERM handling that calls server.Stop() once. Call from main.
void StopOnSignals(Server& server);

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
  std::string_view Header(std::string_view name) const;
};

// Blocking HTTP/1.1 client with one keep-alive connection (reconnects when
// the server closed it). For the CLI, tests and benchmarks. Externally synchronized.
class Client {
 public:
  Client(std::string host, uint16_t port,
         std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~Client();
  Result<ClientResponse> Send(Method method, std::string_view target, std::string_view body = {},
                              std::vector<std::pair<std::string, std::string>> headers = {});
  Result<ClientResponse> Get(std::string_view target) { return Send(Method::kGet, target); }
  Result<ClientResponse> PostJson(std::string_view target, std::string_view json) {
    return Send(Method::kPost, target, json, {{"content-type", "application/json"}});
  }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mlforge::http

// HTTP/1.1 server and client (Boost.Beast stays inside src/http/*.cc).
// Knows no domain types: handlers get a Request and fill a Response.
//
// Errors the layer itself produces use MLflow's shape
//   {"error_code": "ENDPOINT_NOT_FOUND", "message": "..."}
// with codes MLflow clients know:
//   404 ENDPOINT_NOT_FOUND       no route for the path
//   405 BAD_REQUEST              path has routes for other methods (+ Allow)
//   400 INVALID_PARAMETER_VALUE  malformed percent-escape in a path/query param
//   400 BAD_REQUEST              unparseable HTTP (connection then closed)
//   408 DEADLINE_EXCEEDED        request not received in time (then closed)
//   413 PAYLOAD_TOO_LARGE        body over the route's limit (then closed)
//   431 BAD_REQUEST              header over max_header_bytes (then closed)
//   500 INTERNAL_ERROR           the handler threw
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
std::string_view MethodName(Method m);  // "GET", ...; kOther -> "OTHER"

// Percent-decodes once ('+' stays '+' unless plus_as_space). Fails on a
// malformed escape.
Result<std::string> PercentDecode(std::string_view s, bool plus_as_space = false);
std::string PercentEncode(std::string_view s);  // RFC 3986 unreserved kept

struct Request {
  Method method = Method::kGet;
  std::string target;  // raw request target: path + '?' + query
  std::string path;    // raw path (not decoded)
  std::string query;   // raw query string (after '?', not decoded)
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  // Decoded ('+' is a space), in order; "a" without '=' has an empty value.
  std::vector<std::pair<std::string, std::string>> query_params;
  // Path parameters from the route pattern, percent-decoded once.
  std::map<std::string, std::string, std::less<>> path_params;
  std::string body;  // in-memory body (BodyMode::kMemory)
  // Spooled body (BodyMode::kSpoolToFile), a unique file in the spool dir.
  // The server removes it once the handler has returned; a handler that wants
  // to keep the bytes renames it (same filesystem as the spool dir). It may
  // also be returned as Response::body_file.
  std::filesystem::path body_file;
  std::string request_id;      // X-Request-Id from the client, or generated
  std::string remote_address;  // peer "ip:port" ("[v6]:port")

  // First header with that (case-insensitive) name, or empty.
  std::string_view Header(std::string_view name) const;
  // First decoded query parameter with that name, or nullptr.
  const std::string* QueryParam(std::string_view name) const;
  std::vector<std::string> QueryParams(std::string_view name) const;
  const std::string* PathParam(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";  // SetHeader("Content-Type") sets this
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // If set, the body is streamed from this file instead of `body`. A file
  // that cannot be opened turns the response into 404 (missing) or 500.
  std::filesystem::path body_file;

  // Replaces a header of that (case-insensitive) name or adds it. The server
  // owns framing: Content-Length, Transfer-Encoding and Connection set here
  // are ignored.
  void SetHeader(std::string name, std::string value);
  // MLflow error shape, e.g. (404, "RESOURCE_DOES_NOT_EXIST", "Run 'x' not found").
  void SetError(int http_status, std::string_view error_code, std::string_view message);
  void SetJson(std::string json, int http_status = 200);
};

// Handlers run on the server's worker threads and may block (database,
// disk); they must be thread-safe. A handler that throws gets a 500
// INTERNAL_ERROR response (the exception is logged, the server keeps going).
using Handler = std::function<void(Request&, Response&)>;

namespace internal {
// Where an asynchronous response goes (the connection). Thread-safe.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // `self` is the caller's reference, handed over so that the sink can drop
  // it where it is safe: a Responder sending from another thread must not
  // hold the last reference after the connection has finished.
  virtual void Complete(Response response, std::shared_ptr<ResponseSink> self) = 0;
};
}  // namespace internal

// The completion of an asynchronous request: Send() it once, from any
// thread, whenever the response is ready; the connection then writes it (on
// its own strand). The Request handed to the handler stays valid until
// Send. A Responder destroyed without Send answers 500 INTERNAL_ERROR, so a
// dropped request never hangs its connection. Move-only; externally
// synchronized (one owner at a time).
class Responder {
 public:
  Responder() = default;
  explicit Responder(std::shared_ptr<internal::ResponseSink> sink) : sink_(std::move(sink)) {}
  Responder(Responder&&) noexcept = default;
  Responder& operator=(Responder&& other) noexcept;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder();

  bool valid() const { return sink_ != nullptr; }
  // REQUIRES: valid(). Afterwards !valid().
  void Send(Response response);

 private:
  std::shared_ptr<internal::ResponseSink> sink_;
};

// An asynchronous handler: it runs on a worker thread like a Handler but
// may return before the response exists, handing the Responder to other
// threads (e.g. a batch queue). It must not block. Sending from inside the
// handler itself is fine and costs nothing extra. A handler that throws is
// logged; its Responder, if dropped unsent, answers 500.
using AsyncHandler = std::function<void(Request&, Responder)>;

enum class BodyMode {
  kMemory,       // read into Request::body, up to ServerOptions::max_body_bytes
  kSpoolToFile,  // stream into a temp file (Request::body_file), up to max_spooled_body_bytes
};

// Maps (method, path) to handlers. Patterns: literal segments, "{name}" for
// one segment, and a final "{name...}" for the rest of the path (may contain
// '/'). Literal routes win over parameter routes. Matching runs on the raw
// (still percent-encoded) path split on '/', so "%2F" stays inside its
// segment. "{name}" matches a non-empty segment; "{name...}" matches the
// rest after the previous '/', possibly empty. A HEAD request uses the GET
// route of the path when there is no HEAD route. Build it before Start();
// afterwards it is immutable and read concurrently. Externally synchronized
// while being built.
class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  // A malformed pattern or a second route for the same method and shape is
  // a programmer error: logged, then abort().
  void Add(Method method, std::string_view pattern, Handler handler,
           BodyMode body_mode = BodyMode::kMemory);
  // Same rules as Add, for an asynchronous handler (one route per method
  // and shape in total, synchronous or not).
  void AddAsync(Method method, std::string_view pattern, AsyncHandler handler,
                BodyMode body_mode = BodyMode::kMemory);
  // Same rules as Add, but the handler runs on the router's own pool of
  // blocking threads instead of an I/O thread: for handlers that wait on a
  // database commit or a disk (the control plane: registry, deployments,
  // monitors). A handler on an I/O thread holds up every connection that
  // thread serves, inference included, for as long as it waits.
  void AddBlocking(Method method, std::string_view pattern, Handler handler,
                   BodyMode body_mode = BodyMode::kMemory);
  // A handler for every method/path no route matched (e.g. UI static files);
  // without it such requests get 404 ENDPOINT_NOT_FOUND.
  void SetFallback(Handler handler);

  struct Match {
    const Handler* handler = nullptr;             // a synchronous route, or
    const AsyncHandler* async_handler = nullptr;  // an asynchronous one
    BodyMode body_mode = BodyMode::kMemory;
    std::map<std::string, std::string, std::less<>> params;  // raw (not decoded)
    bool path_matched_other_method = false;                  // for 405
    std::vector<Method> allowed_methods;  // when path_matched_other_method (Allow header)
  };
  Match Find(Method method, std::string_view path) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 5000;                          // 0 picks a free port; see Server::port()
  int threads = 0;                               // 0 = one per core
  size_t max_body_bytes = 64 << 20;              // BodyMode::kMemory routes (and 404/405 bodies)
  uint64_t max_spooled_body_bytes = 8ull << 30;  // BodyMode::kSpoolToFile routes
  std::filesystem::path spool_dir;               // default: system temp dir
  // Slowloris defense: from accept (first request) or from the first byte of
  // a keep-alive request until the header is complete.
  std::chrono::milliseconds header_timeout{10'000};
  // Longest wait for any progress while reading a body or writing a response.
  std::chrono::milliseconds body_timeout{60'000};
  std::chrono::milliseconds idle_timeout{60'000};  // keep-alive idle
  uint32_t max_header_bytes = 64 << 10;            // request line + fields; else 431
  bool access_log = false;                         // one log::Info line per request
  // CORS: off when empty; "*" or a comma-separated origin list.
  std::string cors_allowed_origins;
  std::string server_header = "mlforge";
};

// Thread-safe. Stop() is graceful: stops accepting, closes idle keep-alive
// connections, lets in-flight requests finish and their responses be written
// (up to drain_timeout; then the remaining connections are closed), and
// joins the worker threads. A handler still running after drain_timeout
// delays the join until it returns. Stop() called from a handler (or a
// signal) starts the stop and returns at once; Wait() blocks until it is done.
// Start() never throws: a bind failure is kTemporarilyUnavailable (address in
// use) or kInternalError.
class Server {
 public:
  static Result<std::unique_ptr<Server>> Start(ServerOptions options, Router router);
  virtual ~Server() = default;
  virtual uint16_t port() const = 0;
  virtual void Stop(std::chrono::milliseconds drain_timeout = std::chrono::seconds(10)) = 0;
  // Blocks until Stop() has completed (from another thread or a signal).
  // Must not be called from a handler.
  virtual void Wait() = 0;
};

// Installs SIGINT/SIGTERM handling that calls server.Stop() once (the first
// signal starts a graceful stop; the handling is then removed, so a second
// signal gets the default action and ends the process). Call from main;
// the handling lives as long as the server.
void StopOnSignals(Server& server);

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
  std::string_view Header(std::string_view name) const;
};

// Blocking HTTP/1.1 client with one keep-alive connection (reconnects when
// the server closed it). For the CLI, tests and benchmarks. Connection
// failures and timeouts (timeout covers one whole Send) are
// kTemporarilyUnavailable; HTTP error statuses are ordinary responses.
// Content-Length is computed from `body`; a "host" header overrides the
// default. Externally synchronized.
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

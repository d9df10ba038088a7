// HTTP/1.1 server: Asio sockets, Beast's request parser. Beast stays in this
// file and client.cc.
//
// One io_context is run by N worker threads; each connection lives on its own
// strand. Handlers run on the worker thread that finished reading the request:
// synchronous ones may block (database, disk); asynchronous ones hand their
// Responder elsewhere and the response is written when it is sent, on the
// connection's strand. Responses are
// serialized by hand (status line + fields) and written with gather writes;
// file bodies are streamed in large chunks.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <ctime>
#include <exception>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/file.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/file_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include "base/ids.h"
#include "base/log.h"
#include "http/http.h"
#include "http/text.h"

namespace mlforge::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

constexpr size_t kHeaderReadSize = 16 << 10;
// Bodies are read in chunks of up to 1 MiB: few syscalls for big uploads.
constexpr size_t kMinBodyReadSize = 16 << 10;
constexpr size_t kMaxBodyReadSize = 1 << 20;
constexpr size_t kChunkedReadSize = 256 << 10;
// After a big body the read buffer is given back, so idle connections stay small.
constexpr size_t kKeptBufferCapacity = 64 << 10;
constexpr size_t kFileChunkSize = 256 << 10;
// After an error response that closes the connection, unread request bytes
// are drained this long so the client sees the response rather than a reset.
constexpr std::chrono::seconds kLingerTime{2};
constexpr std::chrono::seconds kErrorWriteTimeout{5};
constexpr size_t kMaxRequestIdSize = 128;

std::string_view ToView(boost::beast::string_view s) { return {s.data(), s.size()}; }

// "Sun, 06 Nov 1994 08:49:37 GMT", formatted at most once a second per thread.
std::string_view HttpDate() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local char buf[32];
  thread_local std::time_t cached = -1;
  std::time_t now = std::time(nullptr);
  if (now != cached) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7],
                  tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    cached = now;
  }
  return buf;
}

std::string FormatEndpoint(const tcp::endpoint& ep) {
  const auto address = ep.address();
  if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(ep.port());
  return address.to_string() + ":" + std::to_string(ep.port());
}

bool IsSaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdSize) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// Splits a raw query into decoded pairs ("a=1&b&c=x+y"), in order.
Status ParseQuery(std::string_view query, std::vector<std::pair<std::string, std::string>>& out) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (piece.empty()) continue;
    size_t eq = piece.find('=');
    auto key = PercentDecode(piece.substr(0, eq), /*plus_as_space=*/true);
    if (!key) return Status(key.error().code(), "Query string: " + key.error().message());
    std::string value;
    if (eq != std::string_view::npos) {
      auto decoded = PercentDecode(piece.substr(eq + 1), /*plus_as_space=*/true);
      if (!decoded)
        return Status(decoded.error().code(), "Query string: " + decoded.error().message());
      value = std::move(*decoded);
    }
    out.emplace_back(std::move(*key), std::move(value));
  }
  return Status::Ok();
}

std::string JoinMethods(const std::vector<Method>& methods) {
  std::string out;
  for (Method m : methods) {
    if (!out.empty()) out += ", ";
    out += MethodName(m);
  }
  return out;
}

class Connection;

// The Server behind Server::Start. Thread-safe; see Server.
class ServerImpl final : public Server {
 public:
  ServerImpl(ServerOptions options, Router router, int threads);
  ~ServerImpl() override;

  Status Listen();
  Status Run();

  uint16_t port() const override { return port_; }
  void Stop(std::chrono::milliseconds drain_timeout) override;
  void Wait() override;
  void InstallSignalHandler();

  // Used by connections (any thread).
  const ServerOptions& options() const { return options_; }
  const Router& router() const { return router_; }
  bool stopping() const { return stopping_.load(); }
  std::string NewRequestId() {
    return fmt::format("{}{:016x}", id_prefix_, counter_.fetch_add(1, std::memory_order_relaxed));
  }
  std::filesystem::path NewSpoolPath() {
    return spool_dir_ / fmt::format("mlforge-body-{}-{:x}.tmp", id_prefix_,
                                    counter_.fetch_add(1, std::memory_order_relaxed));
  }
  // The Access-Control-Allow-Origin value for a request's Origin, or empty.
  std::string_view AllowedOrigin(std::string_view origin) const;
  bool cors_enabled() const { return cors_any_ || !cors_origins_.empty(); }
  void Register(const std::shared_ptr<Connection>& connection);
  void Unregister(Connection* connection);
  // A Responder's thread posting a response: the post's executor copies die
  // on that thread after the post, possibly after the connection finished,
  // so Stop() waits for these before the io_context may be destroyed.
  void BeginForeignPost() { foreign_posts_.fetch_add(1); }
  void EndForeignPost() { foreign_posts_.fetch_sub(1); }

 private:
  void DoAccept();
  void OnAccept(error_code ec, tcp::socket socket);
  void RunStop(std::chrono::milliseconds drain_timeout);
  void WorkerLoop();
  void CancelSignals();
  std::vector<std::shared_ptr<Connection>> LiveConnections();

  const ServerOptions options_;
  const Router router_;
  const int thread_count_;
  std::string id_prefix_;  // random per server, so ids differ across restarts
  std::atomic<uint64_t> counter_{1};
  std::filesystem::path spool_dir_;
  bool cors_any_ = false;
  std::vector<std::string> cors_origins_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> foreign_posts_{0};

  // Guards conns_: every live connection, so Stop() can reach them.
  std::mutex conns_mu_;
  std::condition_variable conns_cv_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> conns_;

  // Guards the stop state machine: not started -> started -> stopped.
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_started_ = false;
  bool stopped_ = false;
  std::thread stopper_;  // runs RunStop when Stop() was called on a worker

  // Declared after the registry: destroying the io_context destroys pending
  // handlers, hence connections, which unregister themselves.
  net::io_context ioc_;
  tcp::acceptor acceptor_;                // on its own strand
  net::steady_timer accept_retry_timer_;  // same strand

  std::mutex signals_mu_;  // guards signals_ (installed from main, cancelled by Stop)
  std::optional<net::signal_set> signals_;

  std::vector<std::thread> workers_;
};

thread_local const ServerImpl* tls_worker_of = nullptr;
// The connection whose asynchronous handler is running on this thread: a
// Responder sent from inside the handler is taken without a post.
thread_local const void* tls_inline_sink = nullptr;

// One client connection. Thread-compatible: every member is used only on the
// connection's strand (the socket's executor).
class Connection : public std::enable_shared_from_this<Connection>, public internal::ResponseSink {
 public:
  Connection(ServerImpl* server, tcp::socket socket)
      : server_(server),
        options_(server->options()),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()) {}

  ~Connection() {
    CloseFile();
    RemoveSpool();
    server_->Unregister(this);
  }

  void Start() {
    net::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->OnStart(); });
  }
  // Server is stopping: an idle connection closes now, a busy one after its response.
  void OnServerStop() {
    net::post(socket_.get_executor(), [self = shared_from_this()] {
      if (self->phase_ == Phase::kIdle || self->phase_ == Phase::kLingering) self->Close();
    });
  }
  void ForceClose() {
    net::post(socket_.get_executor(), [self = shared_from_this()] { self->Close(); });
  }

  // From a Responder, on any thread.
  // The caller's reference moves into the posted handler, so the last one
  // is dropped on an I/O thread: dropped on the sender's thread after the
  // response went out, ~Connection could run there while Stop() destroys
  // the io_context its socket and timer belong to.
  void Complete(Response response, std::shared_ptr<internal::ResponseSink> self) override {
    if (tls_inline_sink == this) {  // sent inside the handler: Dispatch writes it
      response_ = std::move(response);
      inline_done_ = true;
      return;
    }
    ServerImpl* server = server_;  // `this` may be gone right after the post
    server->BeginForeignPost();
    net::post(socket_.get_executor(),
              [this, self = std::move(self), response = std::move(response)]() mutable {
                OnAsyncResponse(std::move(response));
              });
    server->EndForeignPost();
  }

 private:
  enum class Phase { kIdle, kHeader, kBody, kHandling, kWriting, kLingering, kClosed };
  enum class AfterWrite { kKeepAlive, kClose, kLinger };

  void OnStart() {
    if (phase_ == Phase::kClosed) return;  // Stop() got here first
    error_code ec;
    auto peer = socket_.remote_endpoint(ec);
    if (!ec) remote_address_ = FormatEndpoint(peer);
    socket_.set_option(tcp::no_delay(true), ec);
    deadline_ = SteadyClock::now() + options_.header_timeout;
    timer_.expires_at(deadline_);
    timer_.async_wait([self = shared_from_this()](error_code e) { self->OnTimer(e); });
    BeginRequest();
  }

  // ---- Timeouts: one timer per connection chasing deadline_ ----

  void SetDeadline(SteadyClock::duration d) {
    deadline_ = SteadyClock::now() + d;
    // Later deadlines are picked up when the timer fires; an earlier one
    // needs the pending wait cut short (OnTimer then re-arms).
    if (deadline_ < timer_.expiry()) timer_.expires_at(deadline_);
  }

  void OnTimer(error_code) {
    if (phase_ == Phase::kClosed) return;
    if (SteadyClock::now() >= deadline_) {
      OnTimeout();
      if (phase_ == Phase::kClosed) return;
    }
    timer_.expires_at(deadline_);
    timer_.async_wait([self = shared_from_this()](error_code e) { self->OnTimer(e); });
  }

  void OnTimeout() {
    switch (phase_) {
      case Phase::kHeader:
      case Phase::kBody: {
        if (timed_out_) {  // the cancelled operation never reported back
          Close();
          break;
        }
        // The pending read completes with operation_aborted and answers 408.
        timed_out_ = true;
        deadline_ = SteadyClock::now() + kErrorWriteTimeout;
        error_code ec;
        socket_.cancel(ec);
        break;
      }
      default:  // idle keep-alive, stalled writer, lingering: just close
        Close();
    }
  }

  // ---- Reading ----

  void BeginRequest() {
    if (server_->stopping()) {
      Close();
      return;
    }
    request_ = Request{};
    response_ = Response{};
    match_ = Router::Match{};
    method_text_.clear();
    preflight_ = false;
    cors_origin_ = {};
    after_write_ = AfterWrite::kKeepAlive;
    keep_alive_ = false;
    timed_out_ = false;
    header_parser_.emplace();
    header_parser_->header_limit(options_.max_header_bytes);
    // Body limits are per route; Content-Length is checked in OnHeaderDone.
    header_parser_->body_limit(std::numeric_limits<uint64_t>::max());
    if (buffer_.size() > 0) {  // pipelined request already buffered
      phase_ = Phase::kHeader;
      SetDeadline(options_.header_timeout);
      ParseHeader();
      return;
    }
    phase_ = Phase::kIdle;
    if (!first_request_) SetDeadline(options_.idle_timeout);
    ReadSome(kHeaderReadSize);
  }

  void ReadSome(size_t size) {
    socket_.async_read_some(
        buffer_.prepare(size),
        [self = shared_from_this()](error_code ec, size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(error_code ec, size_t n) {
    buffer_.commit(n);
    if (phase_ == Phase::kClosed) return;
    if (phase_ == Phase::kLingering) {
      buffer_.consume(buffer_.size());
      if (ec) {
        Close();
      } else {
        ReadSome(kChunkedReadSize);
      }
      return;
    }
    // timed_out_ with a successful read: the data raced the timer; the
    // deadline is spent either way.
    if (ec || timed_out_) {
      OnReadError();
      return;
    }
    if (phase_ == Phase::kIdle) {
      phase_ = Phase::kHeader;
      // The first request's header clock started at accept.
      if (!first_request_) SetDeadline(options_.header_timeout);
    }
    if (phase_ == Phase::kHeader) {
      ParseHeader();
    } else if (phase_ == Phase::kBody) {
      ParseBody();
    }
  }

  void OnReadError() {
    if (timed_out_ && phase_ != Phase::kIdle) {
      const bool in_header = phase_ == Phase::kHeader;
      SendErrorAndClose(
          408, "DEADLINE_EXCEEDED",
          fmt::format("Request {} not received within {} ms",
                      in_header ? "header" : "body (no progress)",
                      (in_header ? options_.header_timeout : options_.body_timeout).count()));
      return;
    }
    // EOF, reset, or cancelled by Close(): the client is gone or we are closing.
    Close();
  }

  void ParseHeader() {
    error_code ec;
    size_t used = header_parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    if (ec == bhttp::error::need_more || (!ec && !header_parser_->is_header_done())) {
      ReadSome(kHeaderReadSize);
      return;
    }
    if (ec == bhttp::error::header_limit) {
      SendErrorAndClose(431, "BAD_REQUEST",
                        fmt::format("Request header exceeds {} bytes", options_.max_header_bytes));
      return;
    }
    if (ec) {
      SendErrorAndClose(400, "BAD_REQUEST", "Malformed HTTP request: " + ec.message());
      return;
    }
    OnHeaderDone();
  }

  void OnHeaderDone() {
    request_start_ = SteadyClock::now();
    const auto& msg = header_parser_->get();
    method_text_ = std::string(ToView(msg.method_string()));
    request_.method = internal::MethodFromName(method_text_);
    request_.target = std::string(ToView(msg.target()));
    request_.headers.reserve(16);
    for (const auto& field : msg) {
      request_.headers.emplace_back(internal::AsciiLowerCopy(ToView(field.name_string())),
                                    std::string(ToView(field.value())));
    }
    request_.remote_address = remote_address_;
    std::string_view client_id = request_.Header("x-request-id");
    request_.request_id =
        IsSaneRequestId(client_id) ? std::string(client_id) : server_->NewRequestId();
    keep_alive_ = header_parser_->keep_alive();
    http10_ = msg.version() < 11;

    const std::string& target = request_.target;
    if (target.empty() || target[0] != '/') {
      SendErrorAndClose(400, "BAD_REQUEST", "Request target must be an absolute path");
      return;
    }
    size_t qmark = target.find('?');
    request_.path = target.substr(0, qmark);
    if (qmark != std::string::npos) request_.query = target.substr(qmark + 1);

    cors_origin_ = server_->AllowedOrigin(request_.Header("origin"));
    preflight_ = server_->cors_enabled() && request_.method == Method::kOptions &&
                 !request_.Header("origin").empty() &&
                 !request_.Header("access-control-request-method").empty();
    if (!preflight_) match_ = server_->router().Find(request_.method, request_.path);

    if (header_parser_->is_done()) {  // no body
      header_parser_.reset();
      Dispatch();
      return;
    }
    const bool spool = !preflight_ &&
                       (match_.handler != nullptr || match_.async_handler != nullptr) &&
                       match_.body_mode == BodyMode::kSpoolToFile;
    const uint64_t limit = spool ? options_.max_spooled_body_bytes : options_.max_body_bytes;
    if (auto length = header_parser_->content_length(); length && *length > limit) {
      // Decided before reading a byte of the body.
      SendErrorAndClose(
          413, ErrorCodeName(ErrorCode::kPayloadTooLarge),
          fmt::format("Request body of {} bytes exceeds the limit of {} bytes", *length, limit));
      return;
    }
    const bool expect_continue =
        internal::EqualsIgnoreCase(request_.Header("expect"), "100-continue");
    if (spool) {
      spool_path_ = server_->NewSpoolPath();
      spool_parser_.emplace(std::move(*header_parser_));
      header_parser_.reset();
      error_code ec;
      spool_parser_->get().body().open(spool_path_.c_str(), beast::file_mode::write_new, ec);
      if (ec) {
        log::Error("http: cannot create spool file {}: {}", spool_path_.string(), ec.message());
        spool_path_.clear();
        SendErrorAndClose(500, "INTERNAL_ERROR", "Cannot store the request body");
        return;
      }
      spool_parser_->body_limit(limit);
      spool_parser_->eager(true);
    } else {
      memory_parser_.emplace(std::move(*header_parser_));
      header_parser_.reset();
      memory_parser_->body_limit(limit);
      memory_parser_->eager(true);
    }
    phase_ = Phase::kBody;
    SetDeadline(options_.body_timeout);
    if (expect_continue && !http10_ && buffer_.size() == 0) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(socket_, net::buffer(kContinue.data(), kContinue.size()),
                       [self = shared_from_this()](error_code ec, size_t) {
                         if (self->phase_ == Phase::kClosed) return;
                         if (ec) {
                           self->Close();
                           return;
                         }
                         self->ParseBody();
                       });
      return;
    }
    ParseBody();
  }

  void ParseBody() {
    if (memory_parser_) {
      ParseBodyWith(*memory_parser_);
    } else {
      ParseBodyWith(*spool_parser_);
    }
  }

  template <class Parser>
  void ParseBodyWith(Parser& parser) {
    error_code ec;
    while (buffer_.size() > 0 && !parser.is_done()) {
      size_t used = parser.put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == bhttp::error::need_more) {
        ec = {};
        break;
      }
      if (ec || used == 0) break;
    }
    if (ec) {
      OnBodyError(ec);
      return;
    }
    if (parser.is_done()) {
      OnBodyDone();
      return;
    }
    size_t want = kChunkedReadSize;
    if (auto remaining = parser.content_length_remaining()) {
      want =
          static_cast<size_t>(std::clamp<uint64_t>(*remaining, kMinBodyReadSize, kMaxBodyReadSize));
    }
    SetDeadline(options_.body_timeout);  // progress, not total time
    ReadSome(want);
  }

  void OnBodyError(error_code ec) {
    if (ec == bhttp::error::body_limit) {
      const uint64_t limit =
          spool_parser_ ? options_.max_spooled_body_bytes : options_.max_body_bytes;
      SendErrorAndClose(413, ErrorCodeName(ErrorCode::kPayloadTooLarge),
                        fmt::format("Request body exceeds the limit of {} bytes", limit));
    } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_chunk).category()) {
      SendErrorAndClose(400, "BAD_REQUEST", "Malformed request body: " + ec.message());
    } else {
      log::Error("http: writing spool file {}: {}", spool_path_.string(), ec.message());
      SendErrorAndClose(500, "INTERNAL_ERROR", "Cannot store the request body");
    }
  }

  void OnBodyDone() {
    if (memory_parser_) {
      request_.body = std::move(memory_parser_->get().body());
      memory_parser_.reset();
    } else {
      error_code ec;
      spool_parser_->get().body().file().close(ec);
      spool_parser_.reset();
      if (ec) {
        log::Error("http: closing spool file {}: {}", spool_path_.string(), ec.message());
        SendErrorAndClose(500, "INTERNAL_ERROR", "Cannot store the request body");
        return;
      }
      request_.body_file = spool_path_;
    }
    Dispatch();
  }

  // ---- Handling ----

  void Dispatch() {
    phase_ = Phase::kHandling;
    deadline_ = SteadyClock::time_point::max();  // handlers may take long
    if (preflight_) {
      AnswerPreflight();
    } else if (match_.handler == nullptr && match_.async_handler == nullptr) {
      if (match_.path_matched_other_method) {
        std::string allow = JoinMethods(match_.allowed_methods);
        if (request_.method == Method::kOptions) {
          response_.status = 204;
        } else {
          response_.SetError(405, "BAD_REQUEST",
                             fmt::format("Method {} is not allowed for {} (allowed: {})",
                                         method_text_, request_.path, allow));
        }
        response_.SetHeader("Allow", std::move(allow));
      } else {
        response_.SetError(404, "ENDPOINT_NOT_FOUND",
                           fmt::format("No API endpoint for {} {}", method_text_, request_.path));
      }
    } else if (DecodeParams()) {
      if (match_.async_handler != nullptr) {
        if (!RunAsyncHandler()) return;  // OnAsyncResponse takes it from here
      } else {
        RunHandler();
      }
    }
    StartResponse();
  }

  // Returns true when the handler sent its response before returning.
  bool RunAsyncHandler() {
    inline_done_ = false;
    tls_inline_sink = this;
    try {
      (*match_.async_handler)(request_, Responder(shared_from_this()));
    } catch (const std::exception& e) {
      log::Error("http: async handler for {} {} threw: {} (request id {})", method_text_,
                 request_.path, e.what(), request_.request_id);
    } catch (...) {
      log::Error("http: async handler for {} {} threw a non-std exception (request id {})",
                 method_text_, request_.path, request_.request_id);
    }
    tls_inline_sink = nullptr;
    if (!inline_done_) return false;
    CheckHandlerStatus();
    return true;
  }

  void OnAsyncResponse(Response response) {
    if (phase_ != Phase::kHandling) return;  // closed meanwhile (server stop)
    response_ = std::move(response);
    CheckHandlerStatus();
    StartResponse();
  }

  void CheckHandlerStatus() {
    if (response_.status >= 200 && response_.status <= 999) return;
    log::Error("http: handler for {} {} set invalid status {}", method_text_, request_.path,
               response_.status);
    response_ = Response{};
    response_.SetError(500, "INTERNAL_ERROR",
                       "Internal server error (request id " + request_.request_id + ")");
  }

  bool DecodeParams() {
    for (auto& [name, raw] : match_.params) {
      auto decoded = PercentDecode(raw);
      if (!decoded) {
        response_.SetError(400, "INVALID_PARAMETER_VALUE",
                           fmt::format("Path parameter '{}': {}", name, decoded.error().message()));
        return false;
      }
      request_.path_params.emplace(name, std::move(*decoded));
    }
    if (Status s = ParseQuery(request_.query, request_.query_params); !s.ok()) {
      response_.SetError(400, "INVALID_PARAMETER_VALUE", s.message());
      return false;
    }
    return true;
  }

  void RunHandler() {
    bool failed = false;
    try {
      (*match_.handler)(request_, response_);
      if (response_.status < 200 || response_.status > 999) {
        log::Error("http: handler for {} {} set invalid status {}", method_text_, request_.path,
                   response_.status);
        failed = true;
      }
    } catch (const std::exception& e) {
      log::Error("http: handler for {} {} threw: {} (request id {})", method_text_, request_.path,
                 e.what(), request_.request_id);
      failed = true;
    } catch (...) {
      log::Error("http: handler for {} {} threw a non-std exception (request id {})", method_text_,
                 request_.path, request_.request_id);
      failed = true;
    }
    if (failed) {
      response_ = Response{};
      response_.SetError(500, "INTERNAL_ERROR",
                         "Internal server error (request id " + request_.request_id + ")");
    }
  }

  void AnswerPreflight() {
    if (cors_origin_.empty()) {
      response_.SetError(403, "PERMISSION_DENIED", "CORS origin not allowed");
      return;
    }
    response_.status = 204;
    response_.SetHeader("Access-Control-Allow-Methods",
                        "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    std::string_view asked = request_.Header("access-control-request-headers");
    if (!asked.empty()) response_.SetHeader("Access-Control-Allow-Headers", std::string(asked));
    response_.SetHeader("Access-Control-Max-Age", "600");
  }

  void SendErrorAndClose(int status, std::string_view code, std::string_view message) {
    header_parser_.reset();
    memory_parser_.reset();
    spool_parser_.reset();
    if (request_.request_id.empty()) request_.request_id = server_->NewRequestId();
    if (request_start_ == SteadyClock::time_point()) request_start_ = SteadyClock::now();
    phase_ = Phase::kHandling;
    response_ = Response{};
    response_.SetError(status, code, message);
    keep_alive_ = false;
    after_write_ = AfterWrite::kLinger;
    StartResponse();
  }

  // ---- Writing ----

  void StartResponse() {
    const bool no_body_status = response_.status == 204 || response_.status == 304;
    const bool head_only = request_.method == Method::kHead;
    uint64_t content_length = response_.body.size();
    if (!response_.body_file.empty() && !no_body_status) {
      // Opened before the spool file is removed: it may be the same file.
      // On failure response_ now holds an error body.
      content_length = OpenResponseFile() ? file_remaining_ : response_.body.size();
    }
    RemoveSpool();
    if (server_->stopping()) keep_alive_ = false;
    if (!keep_alive_ && after_write_ == AfterWrite::kKeepAlive) after_write_ = AfterWrite::kClose;
    BuildHead(content_length, no_body_status);
    body_out_ =
        (head_only || no_body_status) ? std::string_view() : std::string_view(response_.body);
    // An empty file has nothing to read: send the header alone.
    if (head_only || no_body_status || (file_fd_ >= 0 && file_remaining_ == 0)) CloseFile();
    body_bytes_ = (head_only || no_body_status) ? 0 : content_length;
    if (file_fd_ >= 0 && !ReadFileChunk()) {  // first chunk rides with the header
      Close();
      return;
    }
    head_off_ = 0;
    body_off_ = 0;
    phase_ = Phase::kWriting;
    WriteMore();
  }

  bool OpenResponseFile() {
    int fd = ::open(response_.body_file.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd >= 0 && ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
      file_fd_ = fd;
      file_remaining_ = static_cast<uint64_t>(st.st_size);
      return true;
    }
    const int err = fd < 0 ? errno : EISDIR;
    if (fd >= 0) ::close(fd);
    log::Warn("http: cannot send file {}: {}", response_.body_file.string(), std::strerror(err));
    response_ = Response{};
    if (err == ENOENT) {
      response_.SetError(404, "RESOURCE_DOES_NOT_EXIST", "File not found");
    } else {
      response_.SetError(500, "INTERNAL_ERROR", "Cannot read the response file");
    }
    return false;
  }

  bool ReadFileChunk() {
    if (!file_buf_) file_buf_ = std::make_unique<char[]>(kFileChunkSize);
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kFileChunkSize, file_remaining_));
    ssize_t got;
    do {
      got = ::read(file_fd_, file_buf_.get(), want);
    } while (got < 0 && errno == EINTR);
    if (got <= 0) {
      // Content-Length is already promised; all we can do is cut the connection.
      log::Error("http: reading {} failed or it shrank: {}", response_.body_file.string(),
                 got < 0 ? std::strerror(errno) : "unexpected end of file");
      return false;
    }
    file_remaining_ -= static_cast<uint64_t>(got);
    body_out_ = std::string_view(file_buf_.get(), static_cast<size_t>(got));
    body_off_ = 0;
    if (file_remaining_ == 0) CloseFile();
    return true;
  }

  void AppendHeader(std::string_view name, std::string_view value) {
    head_.append(name).append(": ").append(value).append("\r\n");
  }

  void BuildHead(uint64_t content_length, bool no_body_status) {
    // Content-Type set through `headers` directly still counts.
    for (auto& [name, value] : response_.headers) {
      if (internal::EqualsIgnoreCase(name, "content-type")) response_.content_type = value;
    }
    head_.clear();
    const auto status = static_cast<unsigned>(response_.status);
    std::string_view reason = ToView(bhttp::obsolete_reason(bhttp::int_to_status(status)));
    if (bhttp::int_to_status(status) == bhttp::status::unknown) reason = "Unknown";
    head_.append("HTTP/1.1 ")
        .append(std::to_string(status))
        .append(" ")
        .append(reason)
        .append("\r\n");
    if (!options_.server_header.empty()) AppendHeader("Server", options_.server_header);
    AppendHeader("Date", HttpDate());
    if (!no_body_status) {
      if (!response_.content_type.empty() && internal::IsSafeHeaderValue(response_.content_type)) {
        AppendHeader("Content-Type", response_.content_type);
      }
      AppendHeader("Content-Length", std::to_string(content_length));
    }
    AppendHeader("X-Request-Id", request_.request_id);
    if (!cors_origin_.empty()) {
      AppendHeader("Access-Control-Allow-Origin", cors_origin_);
      AppendHeader("Access-Control-Expose-Headers", "X-Request-Id");
      if (cors_origin_ != "*") AppendHeader("Vary", "Origin");
    }
    if (!keep_alive_) {
      AppendHeader("Connection", "close");
    } else if (http10_) {
      AppendHeader("Connection", "keep-alive");
    }
    for (const auto& [name, value] : response_.headers) {
      if (internal::EqualsIgnoreCase(name, "content-type") ||
          internal::EqualsIgnoreCase(name, "content-length") ||
          internal::EqualsIgnoreCase(name, "transfer-encoding") ||
          internal::EqualsIgnoreCase(name, "connection")) {
        continue;
      }
      if (!internal::IsToken(name) || !internal::IsSafeHeaderValue(value)) {
        log::Warn("http: dropping invalid response header '{}'", name);
        continue;
      }
      AppendHeader(name, value);
    }
    head_.append("\r\n");
  }

  void WriteMore() {
    if (head_off_ == head_.size() && body_off_ == body_out_.size()) {
      if (file_fd_ >= 0) {
        if (!ReadFileChunk()) {
          Close();
          return;
        }
      } else {
        OnWriteDone();
        return;
      }
    }
    std::array<net::const_buffer, 2> buffers{
        net::buffer(head_.data() + head_off_, head_.size() - head_off_),
        net::buffer(body_out_.data() + body_off_, body_out_.size() - body_off_)};
    SetDeadline(after_write_ == AfterWrite::kLinger ? SteadyClock::duration(kErrorWriteTimeout)
                                                    : SteadyClock::duration(options_.body_timeout));
    socket_.async_write_some(
        buffers, [self = shared_from_this()](error_code ec, size_t n) { self->OnWrite(ec, n); });
  }

  void OnWrite(error_code ec, size_t n) {
    if (phase_ == Phase::kClosed) return;
    if (ec) {
      Close();
      return;
    }
    const size_t from_head = std::min(n, head_.size() - head_off_);
    head_off_ += from_head;
    body_off_ += n - from_head;
    WriteMore();
  }

  void OnWriteDone() {
    if (options_.access_log) {
      const double ms =
          std::chrono::duration<double, std::milli>(SteadyClock::now() - request_start_).count();
      log::Info("{} \"{} {}\" {} {} {:.3f}ms id={}", remote_address_,
                method_text_.empty() ? "-" : method_text_,
                request_.target.empty() ? "-" : request_.target, response_.status, body_bytes_, ms,
                request_.request_id);
    }
    CloseFile();
    file_buf_.reset();
    body_out_ = {};
    request_start_ = {};
    switch (after_write_) {
      case AfterWrite::kLinger:
        StartLinger();
        return;
      case AfterWrite::kClose:
        Close();
        return;
      case AfterWrite::kKeepAlive:
        break;
    }
    first_request_ = false;
    if (buffer_.capacity() > kKeptBufferCapacity) buffer_.shrink_to_fit();
    BeginRequest();
  }

  // Half-closes and discards what the client still sends, so it can read
  // our error response instead of getting a reset.
  void StartLinger() {
    phase_ = Phase::kLingering;
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) {
      Close();
      return;
    }
    buffer_.consume(buffer_.size());
    SetDeadline(kLingerTime);
    ReadSome(kChunkedReadSize);
  }

  void Close() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    timer_.cancel();
    header_parser_.reset();
    memory_parser_.reset();
    spool_parser_.reset();
    CloseFile();
    RemoveSpool();
  }

  void CloseFile() {
    if (file_fd_ >= 0) ::close(file_fd_);
    file_fd_ = -1;
  }

  void RemoveSpool() {
    if (spool_path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove(spool_path_, ec);  // a handler may have renamed it
    spool_path_.clear();
  }

  ServerImpl* const server_;
  const ServerOptions& options_;
  tcp::socket socket_;
  net::steady_timer timer_;
  SteadyClock::time_point deadline_;
  beast::flat_buffer buffer_;
  std::string remote_address_;

  Phase phase_ = Phase::kIdle;
  bool first_request_ = true;
  bool timed_out_ = false;

  // Per request.
  std::optional<bhttp::request_parser<bhttp::empty_body>> header_parser_;
  std::optional<bhttp::request_parser<bhttp::string_body>> memory_parser_;
  std::optional<bhttp::request_parser<bhttp::file_body>> spool_parser_;
  std::filesystem::path spool_path_;
  Request request_;
  Response response_;
  Router::Match match_;
  std::string method_text_;
  bool preflight_ = false;
  std::string_view cors_origin_;  // points into the request's header or the server's list
  bool keep_alive_ = false;
  bool http10_ = false;
  bool inline_done_ = false;  // an async handler sent its response before returning
  AfterWrite after_write_ = AfterWrite::kKeepAlive;
  SteadyClock::time_point request_start_;

  // Response being written: head_ then body_out_ (a view of response_.body
  // or of file_buf_), then further file chunks.
  std::string head_;
  size_t head_off_ = 0;
  std::string_view body_out_;
  size_t body_off_ = 0;
  uint64_t body_bytes_ = 0;
  int file_fd_ = -1;
  uint64_t file_remaining_ = 0;
  std::unique_ptr<char[]> file_buf_;
};

// ---- ServerImpl ----

ServerImpl::ServerImpl(ServerOptions options, Router router, int threads)
    : options_(std::move(options)),
      router_(std::move(router)),
      thread_count_(threads),
      ioc_(threads),
      acceptor_(net::make_strand(ioc_)),
      accept_retry_timer_(acceptor_.get_executor()) {
  id_prefix_ = MakeRandomIdGenerator()->NewHexId().substr(0, 16);
  spool_dir_ = options_.spool_dir;
  if (spool_dir_.empty()) {
    std::error_code ec;
    spool_dir_ = std::filesystem::temp_directory_path(ec);
    if (ec) spool_dir_ = "/tmp";
  }
  std::string_view origins = options_.cors_allowed_origins;
  while (!origins.empty()) {
    size_t comma = origins.find(',');
    std::string_view one = origins.substr(0, comma);
    origins = comma == std::string_view::npos ? std::string_view() : origins.substr(comma + 1);
    while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
    while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
    if (one == "*") {
      cors_any_ = true;
    } else if (!one.empty()) {
      cors_origins_.emplace_back(one);
    }
  }
}

ServerImpl::~ServerImpl() {
  Stop(std::chrono::seconds(10));
  if (stopper_.joinable()) stopper_.join();
}

std::string_view ServerImpl::AllowedOrigin(std::string_view origin) const {
  if (origin.empty()) return {};
  if (cors_any_) return "*";
  for (const auto& allowed : cors_origins_) {
    if (allowed == origin) return allowed;
  }
  return {};
}

Status ServerImpl::Listen() {
  error_code ec;
  tcp::endpoint endpoint;
  auto address = net::ip::make_address(options_.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, options_.port);
  } else {
    tcp::resolver resolver(ioc_);
    auto results = resolver.resolve(options_.host, std::to_string(options_.port), ec);
    if (ec || results.empty()) {
      return Internal(fmt::format("cannot resolve listen host '{}': {}", options_.host,
                                  ec ? ec.message() : "no address"));
    }
    endpoint = results.begin()->endpoint();
  }
  const std::string where = fmt::format("{}:{}", options_.host, options_.port);
  if (acceptor_.open(endpoint.protocol(), ec); ec) {
    return Internal(fmt::format("cannot open a socket for {}: {}", where, ec.message()));
  }
  if (acceptor_.set_option(tcp::acceptor::reuse_address(true), ec); ec) {
    return Internal(fmt::format("cannot set SO_REUSEADDR for {}: {}", where, ec.message()));
  }
  if (acceptor_.bind(endpoint, ec); ec) {
    std::string message = fmt::format("cannot bind {}: {}", where, ec.message());
    if (ec == net::error::address_in_use) return Unavailable(std::move(message));
    return Internal(std::move(message));
  }
  if (acceptor_.listen(net::socket_base::max_listen_connections, ec); ec) {
    return Internal(fmt::format("cannot listen on {}: {}", where, ec.message()));
  }
  port_ = acceptor_.local_endpoint(ec).port();
  if (ec) return Internal(fmt::format("cannot read the bound port of {}: {}", where, ec.message()));
  return Status::Ok();
}

Status ServerImpl::Run() {
  DoAccept();
  for (int i = 0; i < thread_count_; ++i) {
    try {
      workers_.emplace_back([this] { WorkerLoop(); });
    } catch (const std::system_error& e) {
      return Internal(std::string("cannot start HTTP worker threads: ") + e.what());
    }
  }
  return Status::Ok();
}

void ServerImpl::WorkerLoop() {
  tls_worker_of = this;
  while (true) {
    try {
      ioc_.run();
      return;
    } catch (const std::exception& e) {
      // Handler exceptions are caught per request; this is anything else.
      log::Error("http: worker caught an exception: {}", e.what());
    } catch (...) {
      log::Error("http: worker caught a non-std exception");
    }
  }
}

void ServerImpl::DoAccept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](error_code ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void ServerImpl::OnAccept(error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || stopping()) return;
  if (ec) {
    // E.g. out of file descriptors: back off instead of spinning.
    log::Warn("http: accept failed: {}", ec.message());
    accept_retry_timer_.expires_after(std::chrono::milliseconds(100));
    accept_retry_timer_.async_wait([this](error_code e) {
      if (!e && !stopping()) DoAccept();
    });
    return;
  }
  auto connection = std::make_shared<Connection>(this, std::move(socket));
  Register(connection);
  connection->Start();
  DoAccept();
}

void ServerImpl::Register(const std::shared_ptr<Connection>& connection) {
  std::lock_guard lock(conns_mu_);
  conns_.emplace(connection.get(), connection);
}

void ServerImpl::Unregister(Connection* connection) {
  std::lock_guard lock(conns_mu_);
  conns_.erase(connection);
  if (conns_.empty()) conns_cv_.notify_all();
}

std::vector<std::shared_ptr<Connection>> ServerImpl::LiveConnections() {
  std::vector<std::shared_ptr<Connection>> live;
  std::lock_guard lock(conns_mu_);
  live.reserve(conns_.size());
  for (auto& [ptr, weak] : conns_) {
    if (auto strong = weak.lock()) live.push_back(std::move(strong));
  }
  return live;
}

void ServerImpl::Stop(std::chrono::milliseconds drain_timeout) {
  std::unique_lock lock(stop_mu_);
  if (!stop_started_) {
    stop_started_ = true;
    if (tls_worker_of == this) {
      // Joining our own thread would deadlock: stop from a helper thread.
      try {
        stopper_ = std::thread([this, drain_timeout] { RunStop(drain_timeout); });
        return;
      } catch (const std::system_error& e) {
        log::Error("http: cannot start the stop thread: {}", e.what());
        stop_started_ = false;
        return;
      }
    }
    lock.unlock();
    RunStop(drain_timeout);
    return;
  }
  if (tls_worker_of == this) return;
  stop_cv_.wait(lock, [this] { return stopped_; });
}

void ServerImpl::Wait() {
  std::unique_lock lock(stop_mu_);
  stop_cv_.wait(lock, [this] { return stopped_; });
}

void ServerImpl::RunStop(std::chrono::milliseconds drain_timeout) {
  stopping_.store(true);
  net::post(acceptor_.get_executor(), [this] {
    error_code ec;
    acceptor_.close(ec);
    accept_retry_timer_.cancel();
  });
  CancelSignals();
  const auto deadline = SteadyClock::now() + drain_timeout;
  for (auto& connection : LiveConnections()) connection->OnServerStop();
  {
    std::unique_lock lock(conns_mu_);
    if (!conns_cv_.wait_until(lock, deadline, [this] { return conns_.empty(); })) {
      log::Warn("http: {} connection(s) still busy after the {} ms drain; closing them",
                conns_.size(), drain_timeout.count());
      lock.unlock();
      for (auto& connection : LiveConnections()) connection->ForceClose();
      lock.lock();
      if (!conns_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return conns_.empty(); })) {
        // Handlers still running: drop pending work; their threads exit when they return.
        ioc_.stop();
      }
    }
  }
  // With the acceptor, the signals and every connection closed the io_context
  // runs out of work and the workers return.
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  error_code ec;
  acceptor_.close(ec);  // in case ioc_.stop() dropped the posted close
  while (foreign_posts_.load() != 0) std::this_thread::yield();
  {
    std::lock_guard lock(stop_mu_);
    stopped_ = true;
  }
  stop_cv_.notify_all();
}

void ServerImpl::InstallSignalHandler() {
  std::lock_guard lock(signals_mu_);
  if (signals_ || stopping()) return;
  try {
    signals_.emplace(acceptor_.get_executor(), SIGINT, SIGTERM);
  } catch (const std::exception& e) {
    log::Error("http: cannot install signal handling: {}", e.what());
    signals_.reset();
    return;
  }
  signals_->async_wait([this](error_code ec, int signal_number) {
    if (ec) return;
    log::Info("http: signal {} received, stopping the server", signal_number);
    CancelSignals();  // a second signal gets the default action
    Stop(std::chrono::seconds(10));
  });
}

void ServerImpl::CancelSignals() {
  std::lock_guard lock(signals_mu_);
  if (!signals_) return;
  error_code ec;
  signals_->cancel(ec);
  signals_->clear(ec);  // restores the default disposition
}

}  // namespace

Result<std::unique_ptr<Server>> Server::Start(ServerOptions options, Router router) {
  int threads = options.threads > 0
                    ? options.threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::unique_ptr<ServerImpl> server;
  try {
    server = std::make_unique<ServerImpl>(std::move(options), std::move(router), threads);
  } catch (const std::exception& e) {
    return Err(Internal(std::string("cannot create the HTTP server: ") + e.what()));
  }
  RETURN_IF_ERROR(server->Listen());
  if (Status s = server->Run(); !s.ok()) {
    server->Stop(std::chrono::milliseconds(0));
    return Err(std::move(s));
  }
  return std::unique_ptr<Server>(std::move(server));
}

void StopOnSignals(Server& server) {
  auto* impl = dynamic_cast<ServerImpl*>(&server);
  if (impl == nullptr) {
    log::Error("http::StopOnSignals: not a server made by http::Server::Start");
    return;
  }
  impl->InstallSignalHandler();
}

}  // namespace mlforge::http

// Blocking HTTP/1.1 client. Asio async operations on a private one-thread
// io_context give every Send one deadline (Beast's sync calls have none);
// Beast's parser reads the response.
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

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

constexpr size_t kMinReadSize = 16 << 10;
constexpr size_t kMaxReadSize = 1 << 20;
constexpr size_t kUnknownLengthReadSize = 64 << 10;
constexpr uint32_t kMaxResponseHeaderBytes = 1 << 20;

std::string_view ToView(beast::string_view s) { return {s.data(), s.size()}; }

bool IsConnectionDrop(const error_code& ec) {
  return ec == net::error::eof || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == net::error::connection_aborted ||
         ec == bhttp::error::end_of_stream;
}

}  // namespace

// Externally synchronized, like Client.
struct Client::Impl {
  Impl(std::string host_in, uint16_t port_in, std::chrono::milliseconds timeout_in)
      : host(std::move(host_in)),
        port(port_in),
        timeout(timeout_in),
        ioc(1),
        socket(ioc),
        timer(ioc) {
    host_header = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    host_header += ":" + std::to_string(port);
  }

  Result<ClientResponse> Send(Method method, std::string_view target, std::string_view body,
                              const std::vector<std::pair<std::string, std::string>>& headers);

  // Runs queued operations until they finish or `deadline` passes; on the
  // deadline the socket is closed, which completes them with an error.
  // REQUIRES: the operations' completions set op_done (and cancel the timer).
  void RunUntil(SteadyClock::time_point deadline) {
    timed_out = false;
    op_done = false;
    timer.expires_at(deadline);
    timer.async_wait([this](error_code ec) {
      if (ec || op_done) return;  // op_done: the deadline raced a finished request
      timed_out = true;
      error_code ignored;
      socket.close(ignored);
    });
    ioc.restart();
    ioc.run();
  }

  Status Connect(SteadyClock::time_point deadline);
  void CloseSocket() {
    error_code ignored;
    socket.close(ignored);
    connected = false;
    buffer.clear();
  }
  // True if the server has closed (or sent stray bytes on) the idle connection.
  bool PeerClosed() {
    char c;
    ssize_t r = ::recv(socket.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r < 0) return !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
    return true;  // 0: orderly close; > 0: unsolicited bytes, e.g. a 408 before closing
  }
  Status BuildHead(Method method, std::string_view target, std::string_view body,
                   const std::vector<std::pair<std::string, std::string>>& headers);
  void ReadStep();
  void Finish(error_code ec) {
    read_ec = ec;
    op_done = true;
    timer.cancel();
  }

  const std::string host;
  const uint16_t port;
  const std::chrono::milliseconds timeout;
  std::string host_header;
  net::io_context ioc;
  tcp::socket socket;
  net::steady_timer timer;
  bool timed_out = false;
  bool op_done = false;
  bool connected = false;
  std::optional<tcp::resolver::results_type> endpoints;  // resolved once

  // Reused across requests.
  beast::flat_buffer buffer;
  std::string head;

  // Per request.
  std::optional<bhttp::response_parser<bhttp::string_body>> parser;
  bool head_request = false;
  size_t bytes_received = 0;
  error_code read_ec;
};

Status Client::Impl::Connect(SteadyClock::time_point deadline) {
  if (!endpoints) {
    tcp::resolver resolver(ioc);
    error_code ec;
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      return Unavailable("cannot resolve " + host + ": " + (ec ? ec.message() : "no address"));
    }
    endpoints = std::move(results);
  }
  error_code connect_ec = net::error::would_block;
  net::async_connect(socket, *endpoints, [this, &connect_ec](error_code ec, const tcp::endpoint&) {
    connect_ec = ec;
    op_done = true;
    timer.cancel();
  });
  RunUntil(deadline);
  if (timed_out || connect_ec) {
    CloseSocket();
    return Unavailable("cannot connect to " + host_header + ": " +
                       (timed_out ? std::string("timed out") : connect_ec.message()));
  }
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  connected = true;
  buffer.clear();
  return Status::Ok();
}

Status Client::Impl::BuildHead(Method method, std::string_view target, std::string_view body,
                               const std::vector<std::pair<std::string, std::string>>& headers) {
  if (method == Method::kOther) return InvalidArgument("http::Client cannot send Method::kOther");
  if (target.empty()) target = "/";
  if (target.find_first_of(" \r\n\t") != std::string_view::npos || target[0] != '/') {
    return InvalidArgument("invalid request target '" + std::string(target) + "'");
  }
  head.clear();
  head.append(MethodName(method)).append(" ").append(target).append(" HTTP/1.1\r\n");
  bool has_host = false;
  bool has_user_agent = false;
  for (const auto& [name, value] : headers) {
    if (!internal::IsToken(name) || !internal::IsSafeHeaderValue(value)) {
      return InvalidArgument("invalid request header '" + name + "'");
    }
    if (internal::EqualsIgnoreCase(name, "content-length") ||
        internal::EqualsIgnoreCase(name, "transfer-encoding")) {
      continue;  // we frame the body
    }
    has_host |= internal::EqualsIgnoreCase(name, "host");
    has_user_agent |= internal::EqualsIgnoreCase(name, "user-agent");
    head.append(name).append(": ").append(value).append("\r\n");
  }
  if (!has_host) head.append("Host: ").append(host_header).append("\r\n");
  if (!has_user_agent) head.append("User-Agent: mlforge\r\n");
  if (!body.empty() || method == Method::kPost || method == Method::kPut ||
      method == Method::kPatch) {
    head.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  head.append("\r\n");
  return Status::Ok();
}

void Client::Impl::ReadStep() {
  error_code ec;
  while (buffer.size() > 0 && !parser->is_done()) {
    size_t used = parser->put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == bhttp::error::need_more) {
      ec = {};
      break;
    }
    if (ec || used == 0) break;
  }
  if (ec) return Finish(ec);
  if (parser->is_done()) {
    if (parser->get().result_int() / 100 != 1) return Finish({});
    // An interim 1xx response: the real one follows.
    parser.emplace();
    parser->body_limit(std::numeric_limits<uint64_t>::max());
    parser->header_limit(kMaxResponseHeaderBytes);
    if (head_request) parser->skip(true);
    return ReadStep();
  }
  size_t want = kUnknownLengthReadSize;
  if (parser->is_header_done()) {
    if (auto remaining = parser->content_length_remaining()) {
      want = static_cast<size_t>(std::clamp<uint64_t>(*remaining, kMinReadSize, kMaxReadSize));
    }
  }
  socket.async_read_some(buffer.prepare(want), [this](error_code read_error, size_t n) {
    buffer.commit(n);
    bytes_received += n;
    if (read_error == net::error::eof && parser->got_some()) {
      error_code eof_ec;
      parser->put_eof(eof_ec);  // body delimited by close
      if (!eof_ec && parser->is_done()) return Finish({});
      return Finish(eof_ec ? eof_ec : read_error);
    }
    if (read_error) return Finish(read_error);
    ReadStep();
  });
}

Result<ClientResponse> Client::Impl::Send(
    Method method, std::string_view target, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  RETURN_IF_ERROR(BuildHead(method, target, body, headers));
  const auto deadline = SteadyClock::now() + timeout;
  for (int attempt = 0;; ++attempt) {
    bool reused = connected;
    if (connected && PeerClosed()) {
      CloseSocket();
      reused = false;
    }
    if (!connected) RETURN_IF_ERROR(Connect(deadline));

    head_request = method == Method::kHead;
    parser.emplace();
    parser->body_limit(std::numeric_limits<uint64_t>::max());
    parser->header_limit(kMaxResponseHeaderBytes);
    if (head_request) parser->skip(true);
    bytes_received = 0;
    read_ec = net::error::would_block;
    error_code write_ec;
    std::array<net::const_buffer, 2> out{net::buffer(head), net::buffer(body.data(), body.size())};
    net::async_write(socket, out, [this, &write_ec](error_code ec, size_t) {
      write_ec = ec;
      if (ec) return Finish(ec);
      ReadStep();
    });
    RunUntil(deadline);

    if (!timed_out && !read_ec) {
      auto& msg = parser->get();
      ClientResponse response;
      response.status = static_cast<int>(msg.result_int());
      response.headers.reserve(16);
      for (const auto& field : msg) {
        response.headers.emplace_back(internal::AsciiLowerCopy(ToView(field.name_string())),
                                      std::string(ToView(field.value())));
      }
      const bool keep_alive = parser->keep_alive();
      response.body = std::move(msg.body());
      parser.reset();
      if (!keep_alive) CloseSocket();
      return response;
    }
    const error_code failure = write_ec ? write_ec : read_ec;
    CloseSocket();
    if (timed_out) {
      return Err(Unavailable("request to " + host_header + " timed out after " +
                             std::to_string(timeout.count()) + " ms"));
    }
    // A kept-alive connection the server closed before reading our request:
    // nothing was processed, so one retry on a fresh connection is safe.
    if (attempt == 0 && reused && bytes_received == 0 && IsConnectionDrop(failure)) continue;
    return Err(Unavailable("request to " + host_header + " failed: " + failure.message()));
  }
}

Client::Client(std::string host, uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(std::move(host), port, timeout)) {}

Client::~Client() = default;

Result<ClientResponse> Client::Send(Method method, std::string_view target, std::string_view body,
                                    std::vector<std::pair<std::string, std::string>> headers) {
  return impl_->Send(method, target, body, headers);
}

}  // namespace mlforge::http

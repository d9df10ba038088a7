#include "http/test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include <gtest/gtest.h>

namespace mlforge::http::testing {

RawConnection::RawConnection(uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::Send(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool RawConnection::ReadSome(std::string& out, std::chrono::milliseconds slice) {
  pollfd pfd{fd_, POLLIN, 0};
  int ready = ::poll(&pfd, 1, static_cast<int>(slice.count()));
  if (ready <= 0) return true;  // nothing yet
  char buf[64 * 1024];
  ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
  if (n < 0 && errno == EINTR) return true;
  if (n <= 0) {
    closed_ = true;
    return false;
  }
  out.append(buf, static_cast<size_t>(n));
  return true;
}

std::string RawConnection::ReadUntilClose(std::chrono::milliseconds limit) {
  std::string out = std::move(pending_);
  pending_.clear();
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (!ReadSome(out, std::chrono::milliseconds(50))) break;
  }
  return out;
}

std::string RawConnection::ReadResponse(std::chrono::milliseconds limit) {
  std::string data = std::move(pending_);
  pending_.clear();
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    size_t header_end = data.find("\r\n\r\n");
    if (header_end != std::string::npos) {
      size_t length = 0;
      std::string lower = data.substr(0, header_end);
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t pos = lower.find("\r\ncontent-length:");
      if (pos != std::string::npos) length = std::stoul(lower.substr(pos + 17));
      size_t total = header_end + 4 + length;
      if (data.size() >= total) {
        pending_ = data.substr(total);
        data.resize(total);
        return data;
      }
    }
    if (!ReadSome(data, std::chrono::milliseconds(50))) break;
  }
  return data;
}

ServerOptions TestOptions() {
  ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.threads = 4;
  return options;
}

std::unique_ptr<Server> StartServer(Router router, ServerOptions options) {
  auto server = Server::Start(std::move(options), std::move(router));
  EXPECT_TRUE(server.has_value()) << (server ? "" : server.error().ToString());
  if (!server) return nullptr;
  EXPECT_NE((*server)->port(), 0);
  return std::move(*server);
}

std::string PatternBytes(size_t size, uint32_t seed) {
  std::string out(size, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < size; ++i) {
    x = x * 1664525u + 1013904223u;
    out[i] = static_cast<char>(x >> 24);
  }
  return out;
}

}  // namespace mlforge::http::testing

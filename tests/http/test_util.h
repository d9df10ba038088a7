// Helpers for HTTP tests: a raw TCP socket for speaking (broken) HTTP by
// hand, a temporary directory, and server start-up with test options.
#pragma once

#include "support/temp_dir.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "http/http.h"

namespace mlforge::http::testing {

using ::mlforge::testing::TempDir;


// A blocking client socket to 127.0.0.1. Externally synchronized.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Sends everything; false if the peer closed or reset.
  bool Send(std::string_view data);
  // Reads until the server closes the connection (or `limit` passes).
  // closed() then says whether it was a close.
  std::string ReadUntilClose(std::chrono::milliseconds limit = std::chrono::seconds(20));
  // Reads one response with a Content-Length body (or none).
  std::string ReadResponse(std::chrono::milliseconds limit = std::chrono::seconds(20));
  bool closed() const { return closed_; }

 private:
  // Reads what is available within `slice`; false on close/error.
  bool ReadSome(std::string& out, std::chrono::milliseconds slice);
  int fd_ = -1;
  bool closed_ = false;
  std::string pending_;  // bytes read past the last response
};

// 127.0.0.1, port 0, 4 threads.
ServerOptions TestOptions();
// Starts the server or fails the test (ASSERT-style; returns nullptr then).
std::unique_ptr<Server> StartServer(Router router, ServerOptions options = TestOptions());

// Deterministic bytes for big-body tests.
std::string PatternBytes(size_t size, uint32_t seed = 1);

}  // namespace mlforge::http::testing

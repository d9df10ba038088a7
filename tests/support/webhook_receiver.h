// A webhook receiver for tests: an HTTP server from src/http on 127.0.0.1,
// port 0, that records the bodies POSTed to /hook.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "http/http.h"

namespace mlforge::testing {

// A webhook receiver on POST /hook: answers `fail_first` requests with 500,
// then 200 (or runs `handler` instead).
class Receiver {
 public:
  explicit Receiver(int fail_first = 0, http::Handler handler = {}) : fail_first_(fail_first) {
    http::Router router;
    if (!handler) {
      handler = [this](http::Request& req, http::Response& res) {
        std::lock_guard lock(mu_);
        ++requests_;
        if (requests_ <= fail_first_) {
          res.SetError(500, "INTERNAL_ERROR", "try again");
          return;
        }
        bodies_.push_back(req.body);
        res.SetJson("{}");
      };
    }
    router.Add(http::Method::kPost, "/hook", std::move(handler));
    http::ServerOptions options;
    options.port = 0;
    options.threads = 1;
    auto server = http::Server::Start(options, std::move(router));
    EXPECT_TRUE(server.has_value());
    if (server) server_ = std::move(*server);
  }
  ~Receiver() {
    if (server_) server_->Stop(std::chrono::milliseconds(100));
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/hook";
  }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  int requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  std::mutex mu_;
  int fail_first_;
  int requests_ = 0;
  std::vector<std::string> bodies_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace mlforge::testing

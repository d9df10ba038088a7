#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "http/http.h"
#include "http/test_util.h"

namespace mlforge::http {
namespace {

using namespace std::chrono_literals;
using testing::StartServer;
using testing::TestOptions;

TEST(Client, ConnectionFailureIsUnavailable) {
  uint16_t port;
  {
    auto server = StartServer(Router());
    ASSERT_NE(server, nullptr);
    port = server->port();
  }  // stopped and closed: nothing listens there now
  Client client("127.0.0.1", port, 2s);
  auto res = client.Get("/");
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code(), ErrorCode::kTemporarilyUnavailable);
  EXPECT_NE(res.error().message().find("cannot connect"), std::string::npos)
      << res.error().message();
}

TEST(Client, ReconnectsAfterTheServerClosedAnIdleConnection) {
  std::mutex mu;
  std::set<std::string> peers;
  Router router;
  router.Add(Method::kPost, "/p", [&](Request& req, Response& res) {
    std::lock_guard lock(mu);
    peers.insert(req.remote_address);
    res.body = req.body;
  });
  auto options = TestOptions();
  options.idle_timeout = 100ms;
  auto server = StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  ASSERT_EQ(client.PostJson("/p", "1")->body, "1");
  std::this_thread::sleep_for(500ms);  // let the server drop the idle connection
  auto res = client.PostJson("/p", "2");
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  EXPECT_EQ(res->body, "2");
  std::lock_guard lock(mu);
  EXPECT_EQ(peers.size(), 2u);
}

TEST(Client, TimeoutIsUnavailableAndTheClientRecovers) {
  Router router;
  router.Add(Method::kGet, "/slow", [](Request&, Response& res) {
    std::this_thread::sleep_for(1s);
    res.body = "slow";
  });
  router.Add(Method::kGet, "/fast", [](Request&, Response& res) { res.body = "fast"; });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port(), 200ms);
  auto res = client.Get("/slow");
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code(), ErrorCode::kTemporarilyUnavailable);
  EXPECT_NE(res.error().message().find("timed out"), std::string::npos) << res.error().message();
  res = client.Get("/fast");
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  EXPECT_EQ(res->body, "fast");
}

TEST(Client, RejectsWhatItCannotSend) {
  Client client("127.0.0.1", 1);
  auto res = client.Send(Method::kOther, "/");
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code(), ErrorCode::kInvalidParameterValue);
  res = client.Send(Method::kGet, "/a b");
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code(), ErrorCode::kInvalidParameterValue);
  res = client.Send(Method::kGet, "/", {}, {{"X-Evil", "a\r\nHost: b"}});
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code(), ErrorCode::kInvalidParameterValue);
}

TEST(Client, SendsHeadersAndEmptyBodies) {
  Router router;
  router.Add(Method::kPost, "/h", [](Request& req, Response& res) {
    res.body = std::string(req.Header("x-custom")) + "|" +
               std::string(req.Header("content-length")) + "|" + std::string(req.Header("host")) +
               "|" + req.body;
  });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  auto res = client.Send(Method::kPost, "/h", {}, {{"X-Custom", "v"}});
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->body, "v|0|127.0.0.1:" + std::to_string(server->port()) + "|");
  res = client.Send(Method::kPost, "/h", "xyz", {{"Host", "example"}});
  EXPECT_EQ(res->body, "|3|example|xyz");
}

}  // namespace
}  // namespace mlforge::http

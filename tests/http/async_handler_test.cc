// Asynchronous handlers (Router::AddAsync, Responder): the response may be
// sent later from any thread, inline from the handler, or never (500).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <stdexcept>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "base/json.h"
#include "http/http.h"
#include "http/test_util.h"

namespace mlforge::http {
namespace {

using namespace std::chrono_literals;
using testing::StartServer;

// Holds Responders and answers them from its own thread, newest first, so
// responses leave in another order than their requests arrived.
class LateResponder {
 public:
  LateResponder()
      : thread_([this](std::stop_token stop) {
          std::unique_lock lock(mu_);
          while (true) {
            cv_.wait(lock, stop, [this] { return !pending_.empty(); });
            if (stop.stop_requested() && pending_.empty()) return;
            std::this_thread::sleep_for(2ms);  // let more arrive
            while (!pending_.empty()) {
              auto [text, responder] = std::move(pending_.back());
              pending_.pop_back();
              lock.unlock();
              Response res;
              res.content_type = "text/plain";
              res.body = "late:" + text;
              responder.Send(std::move(res));
              lock.lock();
            }
          }
        }) {}
  ~LateResponder() {
    thread_.request_stop();
    cv_.notify_all();
  }
  void Add(std::string text, Responder responder) {
    {
      std::lock_guard lock(mu_);
      pending_.emplace_back(std::move(text), std::move(responder));
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<std::pair<std::string, Responder>> pending_;
  std::jthread thread_;  // last: stops before the queue goes away
};

TEST(AsyncHandler, ResponseSentLaterFromAnotherThread) {
  LateResponder late;
  Router router;
  router.AddAsync(Method::kPost, "/echo/{word}", [&late](Request& req, Responder responder) {
    late.Add(*req.PathParam("word") + ":" + req.body, std::move(responder));
  });
  router.Add(Method::kGet, "/sync", [](Request&, Response& res) { res.body = "sync"; });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);

  Client client("127.0.0.1", server->port());
  for (int i = 0; i < 3; ++i) {  // keep-alive: the same connection carries on
    auto res = client.Send(Method::kPost, "/echo/w" + std::to_string(i), "body");
    ASSERT_TRUE(res.has_value()) << res.error().ToString();
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, "late:w" + std::to_string(i) + ":body");
    EXPECT_EQ(res->Header("content-type"), "text/plain");
    EXPECT_FALSE(res->Header("x-request-id").empty());
  }
  auto sync = client.Get("/sync");
  ASSERT_TRUE(sync.has_value());
  EXPECT_EQ(sync->body, "sync");
}

TEST(AsyncHandler, ManyConnectionsAnsweredOutOfOrder) {
  LateResponder late;
  Router router;
  router.AddAsync(Method::kGet, "/n/{i}", [&late](Request& req, Responder responder) {
    late.Add(*req.PathParam("i"), std::move(responder));
  });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  std::atomic<int> wrong{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      Client client("127.0.0.1", server->port());
      for (int i = 0; i < 50; ++i) {
        std::string id = std::to_string(c * 1000 + i);
        auto res = client.Get("/n/" + id);
        if (!res || res->status != 200 || res->body != "late:" + id) wrong.fetch_add(1);
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(AsyncHandler, SentInsideTheHandler) {
  Router router;
  router.AddAsync(Method::kGet, "/inline", [](Request& req, Responder responder) {
    Response res;
    res.status = 201;
    res.SetHeader("X-Test", "yes");
    res.body = "inline " + req.request_id;
    responder.Send(std::move(res));
  });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  auto res = client.Send(Method::kGet, "/inline", {}, {{"x-request-id", "abc"}});
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 201);
  EXPECT_EQ(res->body, "inline abc");
  EXPECT_EQ(res->Header("x-test"), "yes");
  // HEAD uses the GET route and gets no body.
  auto head = client.Send(Method::kHead, "/inline");
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 201);
  EXPECT_TRUE(head->body.empty());
}

TEST(AsyncHandler, DroppedOrThrowingHandlerAnswers500AndServerGoesOn) {
  Router router;
  router.AddAsync(Method::kGet, "/drop", [](Request&, Responder) {});
  router.AddAsync(Method::kGet, "/throw",
                  [](Request&, Responder) { throw std::runtime_error("boom"); });
  router.AddAsync(Method::kGet, "/bad-status", [](Request&, Responder responder) {
    std::thread([r = std::move(responder)]() mutable {
      Response res;
      res.status = 42;
      r.Send(std::move(res));
    }).detach();
  });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  for (const char* path : {"/drop", "/throw", "/bad-status"}) {
    auto res = client.Get(path);
    ASSERT_TRUE(res.has_value()) << path;
    EXPECT_EQ(res->status, 500) << path;
    auto body = json::Parse(res->body);
    ASSERT_TRUE(body.has_value()) << res->body;
    EXPECT_EQ(body->Find("error_code")->as_string(), "INTERNAL_ERROR");
  }
}

TEST(AsyncHandler, GracefulStopWaitsForPendingResponses) {
  std::mutex mu;
  std::vector<Responder> pending;
  Router router;
  router.AddAsync(Method::kGet, "/slow", [&](Request&, Responder responder) {
    std::lock_guard lock(mu);
    pending.push_back(std::move(responder));
  });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->port();
  std::string body;
  std::thread client_thread([&] {
    Client client("127.0.0.1", port);
    auto res = client.Get("/slow");
    if (res) body = res->body;
  });
  auto wait_pending = [&] {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard lock(mu);
        if (!pending.empty()) return true;
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  };
  ASSERT_TRUE(wait_pending());
  std::thread stopper([&] { server->Stop(10s); });
  std::this_thread::sleep_for(50ms);  // the stop is now draining the busy connection
  {
    std::lock_guard lock(mu);
    Response res;
    res.body = "finished";
    pending.front().Send(std::move(res));
  }
  stopper.join();
  client_thread.join();
  EXPECT_EQ(body, "finished");
}

TEST(AsyncHandler, RouterReportsAsyncRoutes) {
  Router router;
  router.AddAsync(Method::kPost, "/a/{x}", [](Request&, Responder) {});
  auto m = router.Find(Method::kPost, "/a/1");
  EXPECT_EQ(m.handler, nullptr);
  ASSERT_NE(m.async_handler, nullptr);
  EXPECT_EQ(m.params.at("x"), "1");
  auto other = router.Find(Method::kGet, "/a/1");
  EXPECT_EQ(other.async_handler, nullptr);
  EXPECT_TRUE(other.path_matched_other_method);
}

// AddBlocking: the handler runs on the router's own threads, so a handler
// that waits does not hold up the I/O thread. With one I/O thread, the
// blocking handler below can only finish if another request is served while
// it waits.
TEST(BlockingHandler, WaitingHandlerDoesNotHoldTheIoThread) {
  std::promise<void> other_served;
  std::shared_future<void> served = other_served.get_future().share();
  Router router;
  router.AddBlocking(Method::kGet, "/wait", [served](Request&, Response& res) {
    const bool ok = served.wait_for(10s) == std::future_status::ready;
    res.content_type = "text/plain";
    res.body = ok ? "other request served meanwhile" : "timed out";
  });
  router.Add(Method::kGet, "/quick", [&other_served](Request&, Response& res) {
    other_served.set_value();
    res.content_type = "text/plain";
    res.body = "quick";
  });
  auto options = testing::TestOptions();
  options.threads = 1;
  auto server = StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  auto waiting = std::async(std::launch::async, [port = server->port()] {
    Client client("127.0.0.1", port);
    return client.Get("/wait");
  });
  std::this_thread::sleep_for(50ms);  // let /wait reach its handler first (not required)
  Client client("127.0.0.1", server->port());
  auto quick = client.Get("/quick");
  ASSERT_TRUE(quick.has_value()) << quick.error().ToString();
  EXPECT_EQ(quick->body, "quick");
  auto waited = waiting.get();
  ASSERT_TRUE(waited.has_value()) << waited.error().ToString();
  EXPECT_EQ(waited->status, 200);
  EXPECT_EQ(waited->body, "other request served meanwhile");
}

TEST(BlockingHandler, ThrowingHandlerIs500AndTheServerKeepsServing) {
  Router router;
  router.AddBlocking(Method::kPost, "/boom",
                     [](Request&, Response&) { throw std::runtime_error("boom"); });
  router.AddBlocking(Method::kGet, "/echo/{x}", [](Request& req, Response& res) {
    res.content_type = "text/plain";
    res.body = std::string(*req.PathParam("x")) + ":" + std::string(*req.QueryParam("q"));
  });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  auto res = client.Send(Method::kPost, "/boom", "{}");
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  EXPECT_EQ(res->status, 500);
  EXPECT_NE(res->body.find("INTERNAL_ERROR"), std::string::npos) << res->body;
  res = client.Get("/echo/a%20b?q=1");
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "a b:1");
}

TEST(BlockingHandler, SpooledBodyReachesTheHandlerAndIsRemovedAfterwards) {
  const std::string expected = testing::PatternBytes(3 << 20, 5);
  testing::TempDir spool;
  std::mutex mu;
  std::filesystem::path seen;
  Router router;
  router.AddBlocking(
      Method::kPut, "/blobs/{name}",
      [&](Request& req, Response& res) {
        std::string read;
        {
          std::ifstream in(req.body_file, std::ios::binary);
          read.assign(std::istreambuf_iterator<char>(in), {});
        }
        {
          std::lock_guard lock(mu);
          seen = req.body_file;
        }
        res.SetJson(req.body.empty() && read == expected ? "{\"same\":true}" : "{\"same\":false}");
      },
      BodyMode::kSpoolToFile);
  auto options = testing::TestOptions();
  options.spool_dir = spool.path();
  options.max_body_bytes = 1 << 20;  // the body only fits because it spools
  auto server = StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  auto res = client.Send(Method::kPut, "/blobs/x", expected);
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "{\"same\":true}");
  std::lock_guard lock(mu);
  EXPECT_FALSE(seen.empty());
  EXPECT_FALSE(std::filesystem::exists(seen));
}

}  // namespace
}  // namespace mlforge::http

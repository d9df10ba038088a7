// End-to-end server tests over loopback (port 0). Timeouts are set short;
// tests may wait for one, never assert on speed.
#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
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
using testing::PatternBytes;
using testing::RawConnection;
using testing::StartServer;
using testing::TempDir;
using testing::TestOptions;

std::string ErrorCodeOf(const ClientResponse& res) {
  auto parsed = json::Parse(res.body);
  if (!parsed) return "<not json: " + res.body + ">";
  const json::Value* code = parsed->Find("error_code");
  return code != nullptr && code->is_string() ? code->as_string() : "<no error_code>";
}

Handler Text(std::string body) {
  return [body](Request&, Response& res) {
    res.content_type = "text/plain";
    res.body = body;
  };
}

TEST(Server, RoutesLiteralsParamsAndRestOfPath) {
  Router router;
  router.Add(Method::kGet, "/api/runs/search", Text("literal"));
  router.Add(Method::kGet, "/api/runs/{id}",
             [](Request& req, Response& res) { res.body = "param:" + *req.PathParam("id"); });
  router.Add(Method::kGet, "/files/{path...}",
             [](Request& req, Response& res) { res.body = "rest:" + *req.PathParam("path"); });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());

  auto res = client.Get("/api/runs/search");
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "literal");
  EXPECT_EQ(res->Header("content-type"), "text/plain");
  EXPECT_EQ(res->Header("Server"), "mlforge");

  res = client.Get("/api/runs/abc");
  EXPECT_EQ(res->body, "param:abc");
  // Decoded once; "%2F" stayed inside the segment while matching.
  res = client.Get("/api/runs/a%2Fb%2520c");
  EXPECT_EQ(res->body, "param:a/b%20c");
  res = client.Get("/files/dir/sub/model.pkl");
  EXPECT_EQ(res->body, "rest:dir/sub/model.pkl");
  res = client.Get("/files/a%20b/c");
  EXPECT_EQ(res->body, "rest:a b/c");
}

TEST(Server, UnknownPathIs404EndpointNotFoundJson) {
  Router router;
  router.Add(Method::kGet, "/a", Text("a"));
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  auto res = client.Get("/nope?x=1");
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(res->Header("content-type"), "application/json");
  EXPECT_EQ(ErrorCodeOf(*res), "ENDPOINT_NOT_FOUND");
  // The connection survives an error response.
  res = client.Get("/a");
  EXPECT_EQ(res->status, 200);
}

TEST(Server, OtherMethodIs405WithAllow) {
  Router router;
  router.Add(Method::kGet, "/items", Text("list"));
  router.Add(Method::kPost, "/items", Text("created"));
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  auto res = client.Send(Method::kDelete, "/items");
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(ErrorCodeOf(*res), "BAD_REQUEST");
  EXPECT_EQ(res->Header("allow"), "GET, HEAD, POST");
  // OPTIONS without CORS answers with the allowed methods.
  res = client.Send(Method::kOptions, "/items");
  EXPECT_EQ(res->status, 204);
  EXPECT_EQ(res->Header("allow"), "GET, HEAD, POST");
  EXPECT_EQ(client.PostJson("/items", "{}")->body, "created");
}

TEST(Server, MalformedPathEscapeIs400InvalidParameterValue) {
  Router router;
  bool called = false;
  router.Add(Method::kGet, "/runs/{id}", [&called](Request&, Response&) { called = true; });
  router.Add(Method::kGet, "/q", Text("q"));
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  auto res = client.Get("/runs/bad%zzescape");
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(ErrorCodeOf(*res), "INVALID_PARAMETER_VALUE");
  res = client.Get("/q?a=%2");
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(ErrorCodeOf(*res), "INVALID_PARAMETER_VALUE");
  EXPECT_FALSE(called);
}

TEST(Server, QueryParamsAreDecodedInOrderWithRepeats) {
  Router router;
  router.Add(Method::kGet, "/q", [](Request& req, Response& res) {
    json::Writer w(&res.body);
    w.StartArray();
    for (const auto& [k, v] : req.query_params) w.StartArray().String(k).String(v).EndArray();
    w.EndArray();
    EXPECT_EQ(req.QueryParams("tag"), (std::vector<std::string>{"a b", "c+d", "e&f"}));
    EXPECT_EQ(req.query, "tag=a+b&x=1&tag=c%2Bd&flag&tag=e%26f&&sp%20ace=%7E");
    EXPECT_EQ(req.path, "/q");
  });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  auto res = client.Get("/q?tag=a+b&x=1&tag=c%2Bd&flag&tag=e%26f&&sp%20ace=%7E");
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body,
            R"([["tag","a b"],["x","1"],["tag","c+d"],["flag",""],["tag","e&f"],["sp ace","~"]])");
}

TEST(Server, KeepAliveServesManyRequestsOnOneConnection) {
  std::mutex mu;
  std::set<std::string> peers;
  Router router;
  router.Add(Method::kPost, "/echo", [&](Request& req, Response& res) {
    {
      std::lock_guard lock(mu);
      peers.insert(req.remote_address);
    }
    res.SetJson(std::move(req.body));
  });
  auto options = TestOptions();
  options.access_log = true;  // exercise the log line once per request
  auto server = StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  for (int i = 0; i < 300; ++i) {
    std::string body = "{\"i\":" + std::to_string(i) + "}";
    auto res = client.PostJson("/echo", body);
    ASSERT_TRUE(res.has_value()) << res.error().ToString();
    ASSERT_EQ(res->status, 200);
    ASSERT_EQ(res->body, body);
  }
  EXPECT_EQ(peers.size(), 1u);  // one TCP connection
}

TEST(Server, LargeBodyArrivesIntactInMemory) {
  const std::string expected = PatternBytes(20 << 20);
  Router router;
  router.Add(Method::kPost, "/upload", [&expected](Request& req, Response& res) {
    EXPECT_TRUE(req.body_file.empty());
    res.SetJson(req.body == expected ? "{\"same\":true}" : "{\"same\":false}");
  });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  for (int i = 0; i < 2; ++i) {  // twice: the connection stays usable
    auto res = client.Send(Method::kPost, "/upload", expected);
    ASSERT_TRUE(res.has_value()) << res.error().ToString();
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, "{\"same\":true}");
  }
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(Server, LargeBodySpoolsToAFileThatIsRemovedAfterwards) {
  const std::string expected = PatternBytes(20 << 20, 7);
  TempDir spool;
  std::mutex mu;
  std::filesystem::path seen;
  Router router;
  router.Add(
      Method::kPut, "/blobs/{name}",
      [&](Request& req, Response& res) {
        EXPECT_TRUE(req.body.empty());
        {
          std::lock_guard lock(mu);
          seen = req.body_file;
        }
        EXPECT_EQ(req.body_file.parent_path(), spool.path());
        res.SetJson(ReadFile(req.body_file) == expected ? "{\"same\":true}" : "{\"same\":false}");
      },
      BodyMode::kSpoolToFile);
  auto options = TestOptions();
  options.spool_dir = spool.path();
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
  EXPECT_EQ(spool.Count(), 0u);
}

TEST(Server, SpooledBodyCanBeKeptOrEchoedBack) {
  TempDir spool;
  TempDir keep;
  Router router;
  router.Add(
      Method::kPost, "/keep",
      [&](Request& req, Response& res) {
        std::filesystem::rename(req.body_file, keep.path() / "kept");
        res.SetJson("{}");
      },
      BodyMode::kSpoolToFile);
  router.Add(
      Method::kPost, "/echo",
      [](Request& req, Response& res) {
        res.content_type = "application/octet-stream";
        res.body_file = req.body_file;
      },
      BodyMode::kSpoolToFile);
  auto options = TestOptions();
  options.spool_dir = spool.path();
  auto server = StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  const std::string data = PatternBytes(3 << 20, 3);
  auto res = client.Send(Method::kPost, "/keep", data);
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(ReadFile(keep.path() / "kept"), data);
  res = client.Send(Method::kPost, "/echo", data);
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, data);
  EXPECT_EQ(spool.Count(), 0u);
}

TEST(Server, OversizeBodyByContentLengthIs413) {
  bool called = false;
  Router router;
  router.Add(Method::kPost, "/upload", [&called](Request&, Response&) { called = true; });
  router.Add(Method::kGet, "/ok", Text("ok"));
  auto options = TestOptions();
  options.max_body_bytes = 1 << 20;
  auto server = StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  auto res = client.Send(Method::kPost, "/upload", PatternBytes(2 << 20));
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(ErrorCodeOf(*res), "PAYLOAD_TOO_LARGE");
  EXPECT_EQ(res->Header("connection"), "close");
  EXPECT_FALSE(called);
  // At the limit is fine, and the client reconnects after the close.
  res = client.Send(Method::kPost, "/upload", PatternBytes(1 << 20));
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(client.Get("/ok")->body, "ok");
}

TEST(Server, OversizeChunkedBodyIs413) {
  bool called = false;
  TempDir spool;
  Router router;
  router.Add(Method::kPost, "/mem", [&called](Request&, Response&) { called = true; });
  router.Add(
      Method::kPost, "/spool", [&called](Request&, Response&) { called = true; },
      BodyMode::kSpoolToFile);
  auto options = TestOptions();
  options.max_body_bytes = 1 << 20;
  options.max_spooled_body_bytes = 1 << 20;
  options.spool_dir = spool.path();
  auto server = StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  for (std::string path : {"/mem", "/spool"}) {
    RawConnection conn(server->port());
    ASSERT_TRUE(conn.connected());
    std::string chunk = PatternBytes(256 << 10);
    std::string wire =
        "POST " + path + " HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 8; ++i) wire += "40000\r\n" + chunk + "\r\n";
    wire += "0\r\n\r\n";
    conn.Send(wire);  // may fail part-way once the server has answered
    std::string reply = conn.ReadUntilClose();
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 413 ")) << reply.substr(0, 200);
    EXPECT_NE(reply.find("PAYLOAD_TOO_LARGE"), std::string::npos);
    EXPECT_TRUE(conn.closed());
  }
  EXPECT_FALSE(called);
  EXPECT_EQ(spool.Count(), 0u);
}

TEST(Server, SpoolLimitByContentLengthIs413) {
  TempDir spool;
  Router router;
  router.Add(Method::kPut, "/s", Text("stored"), BodyMode::kSpoolToFile);
  auto options = TestOptions();
  options.max_body_bytes = 16;  // memory limit does not apply to spooled routes
  options.max_spooled_body_bytes = 1 << 20;
  options.spool_dir = spool.path();
  auto server = StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  EXPECT_EQ(client.Send(Method::kPut, "/s", PatternBytes(1000))->status, 200);
  auto res = client.Send(Method::kPut, "/s", PatternBytes((1 << 20) + 1));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(spool.Count(), 0u);
}

TEST(Server, HeaderTimeoutClosesASlowlorisConnectionWith408) {
  Router router;
  router.Add(Method::kGet, "/", Text("root"));
  auto options = TestOptions();
  options.header_timeout = 200ms;
  auto server = StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  RawConnection conn(server->port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.Send("GET / HTTP/1.1\r\nHost: t\r\nX-Slow: "));
  std::string reply = conn.ReadUntilClose();
  EXPECT_TRUE(conn.closed());
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 408 ")) << reply;
  EXPECT_NE(reply.find("DEADLINE_EXCEEDED"), std::string::npos);
  // Dribbling bytes does not extend the header deadline.
  RawConnection dribble(server->port());
  bool closed_while_sending = false;
  for (int i = 0; i < 100 && !closed_while_sending; ++i) {
    closed_while_sending = !dribble.Send("X-A: b\r\n");
    std::this_thread::sleep_for(20ms);
  }
  reply = dribble.ReadUntilClose();
  EXPECT_TRUE(closed_while_sending || dribble.closed());
  // A connection that sends nothing is closed without a response.
  RawConnection silent(server->port());
  EXPECT_EQ(silent.ReadUntilClose(), "");
  EXPECT_TRUE(silent.closed());
  // The server is fine.
  Client client("127.0.0.1", server->port());
  EXPECT_EQ(client.Get("/")->body, "root");
}

TEST(Server, StalledBodyGets408) {
  Router router;
  router.Add(Method::kPost, "/", Text("root"));
  auto options = TestOptions();
  options.body_timeout = 200ms;
  auto server = StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  RawConnection conn(server->port());
  ASSERT_TRUE(conn.Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789"));
  std::string reply = conn.ReadUntilClose();
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 408 ")) << reply;
  EXPECT_TRUE(conn.closed());
}

TEST(Server, IdleKeepAliveConnectionIsClosed) {
  Router router;
  router.Add(Method::kGet, "/", Text("root"));
  auto options = TestOptions();
  options.idle_timeout = 200ms;
  auto server = StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  RawConnection conn(server->port());
  ASSERT_TRUE(conn.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::string reply = conn.ReadResponse();
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200 ")) << reply;
  EXPECT_EQ(conn.ReadUntilClose(), "");  // closed quietly: no request was pending
  EXPECT_TRUE(conn.closed());
}

TEST(Server, HandlerExceptionIs500AndTheServerKeepsServing) {
  Router router;
  router.Add(Method::kGet, "/throw", [](Request&, Response&) { throw std::runtime_error("boom"); });
  router.Add(Method::kGet, "/throw-int", [](Request&, Response&) { throw 42; });
  router.Add(Method::kGet, "/ok", Text("ok"));
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  for (int i = 0; i < 3; ++i) {
    auto res = client.Get("/throw");
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->status, 500);
    EXPECT_EQ(ErrorCodeOf(*res), "INTERNAL_ERROR");
    EXPECT_EQ(res->body.find("boom"), std::string::npos);  // internals stay in the log
    res = client.Get("/throw-int");
    EXPECT_EQ(res->status, 500);
    EXPECT_EQ(client.Get("/ok")->body, "ok");
  }
}

TEST(Server, ConcurrentClientsAllSucceed) {
  Router router;
  std::atomic<int> handled{0};
  router.Add(Method::kPost, "/echo/{n}", [&handled](Request& req, Response& res) {
    handled.fetch_add(1);
    res.SetJson("{\"n\":\"" + *req.PathParam("n") + "\",\"body\":" + req.body + "}");
  });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  constexpr int kThreads = 8;
  constexpr int kRequests = 200;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client client("127.0.0.1", server->port());
      for (int i = 0; i < kRequests; ++i) {
        std::string n = std::to_string(t) + "-" + std::to_string(i);
        auto res = client.PostJson("/echo/" + n, "[" + std::to_string(i) + "]");
        if (res && res->status == 200 &&
            res->body == "{\"n\":\"" + n + "\",\"body\":[" + std::to_string(i) + "]}") {
          ok.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kRequests);
  EXPECT_EQ(handled.load(), kThreads * kRequests);
}

TEST(Server, GracefulStopFinishesTheInFlightRequest) {
  std::promise<void> entered;
  Router router;
  router.Add(Method::kGet, "/slow", [&entered](Request&, Response& res) {
    entered.set_value();
    std::this_thread::sleep_for(300ms);
    res.body = "done";
  });
  router.Add(Method::kGet, "/fast", Text("fast"));
  auto options = TestOptions();
  options.threads = 2;
  auto server = StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->port();

  Client idle("127.0.0.1", port);  // a keep-alive connection left idle
  ASSERT_EQ(idle.Get("/fast")->status, 200);

  std::future<Result<ClientResponse>> slow = std::async(std::launch::async, [port] {
    Client client("127.0.0.1", port);
    return client.Get("/slow");
  });
  entered.get_future().wait();
  std::thread waiter([&server] { server->Wait(); });
  server->Stop();
  waiter.join();  // Wait() returned after Stop()

  auto res = slow.get();
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "done");
  EXPECT_EQ(res->Header("connection"), "close");
  // Nothing is served after the stop.
  auto after = idle.Get("/fast");
  EXPECT_FALSE(after.has_value());
  server->Stop();  // a second Stop is a no-op
}

TEST(Server, StopFromAHandlerDoesNotDeadlock) {
  Server* self = nullptr;
  Router router;
  router.Add(Method::kPost, "/shutdown", [&self](Request&, Response& res) {
    self->Stop();
    res.body = "bye";
  });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  self = server.get();
  Client client("127.0.0.1", server->port());
  auto res = client.PostJson("/shutdown", "{}");
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  EXPECT_EQ(res->body, "bye");
  server->Wait();
}

TEST(Server, StopOnSignalsStopsOnSigterm) {
  Router router;
  router.Add(Method::kGet, "/", Text("root"));
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  StopOnSignals(*server);
  Client client("127.0.0.1", server->port());
  EXPECT_EQ(client.Get("/")->status, 200);
  std::raise(SIGTERM);
  server->Wait();
  EXPECT_FALSE(Client("127.0.0.1", server->port(), 2s).Get("/").has_value());
}

TEST(Server, StreamsFileBodiesAndHeadSendsNoBody) {
  TempDir dir;
  const std::string data = PatternBytes((5 << 20) + 123, 9);
  {
    std::ofstream out(dir.path() / "model.bin", std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  Router router;
  router.Add(Method::kGet, "/download/{name}", [&dir](Request& req, Response& res) {
    res.content_type = "application/octet-stream";
    res.body_file = dir.path() / *req.PathParam("name");
  });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  auto res = client.Get("/download/model.bin");
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->Header("content-type"), "application/octet-stream");
  EXPECT_EQ(res->Header("content-length"), std::to_string(data.size()));
  EXPECT_TRUE(res->body == data);

  res = client.Send(Method::kHead, "/download/model.bin");
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->Header("content-length"), std::to_string(data.size()));
  EXPECT_EQ(res->body, "");

  res = client.Get("/download/missing.bin");
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(ErrorCodeOf(*res), "RESOURCE_DOES_NOT_EXIST");
  EXPECT_EQ(client.Get("/download/model.bin")->body.size(), data.size());  // still in sync
}

TEST(Server, EmptyFileBodyIsAnEmptyResponseOnAKeptConnection) {
  TempDir dir;
  { std::ofstream out(dir.path() / "empty.txt"); }
  Router router;
  router.Add(Method::kGet, "/download/{name}", [&dir](Request& req, Response& res) {
    res.body_file = dir.path() / *req.PathParam("name");
  });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  for (int i = 0; i < 3; ++i) {  // the connection stays usable after each
    auto res = client.Get("/download/empty.txt");
    ASSERT_TRUE(res.has_value()) << res.error().ToString();
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->Header("content-length"), "0");
    EXPECT_EQ(res->body, "");
  }
}

TEST(Server, HeadOnAGetRouteHasLengthButNoBody) {
  Router router;
  router.Add(Method::kGet, "/hello", Text("hello world"));
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  auto res = client.Send(Method::kHead, "/hello");
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "");
  EXPECT_EQ(res->Header("content-length"), "11");
  EXPECT_EQ(client.Get("/hello")->body, "hello world");  // connection still framed right
}

TEST(Server, RequestIdIsEchoedWhenSaneElseGenerated) {
  Router router;
  router.Add(Method::kGet, "/id", [](Request& req, Response& res) { res.body = req.request_id; });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());

  auto res = client.Send(Method::kGet, "/id", {}, {{"X-Request-Id", "abc-123_XYZ"}});
  EXPECT_EQ(res->Header("x-request-id"), "abc-123_XYZ");
  EXPECT_EQ(res->body, "abc-123_XYZ");

  res = client.Get("/id");
  std::string generated(res->Header("x-request-id"));
  EXPECT_EQ(generated.size(), 32u);
  EXPECT_EQ(res->body, generated);
  EXPECT_NE(client.Get("/id")->Header("x-request-id"), generated);  // unique

  for (std::string bad : {std::string(129, 'a'), std::string("has space"), std::string("\x7f")}) {
    res = client.Send(Method::kGet, "/id", {}, {{"X-Request-Id", bad}});
    ASSERT_TRUE(res.has_value());
    EXPECT_NE(res->Header("x-request-id"), bad);
    EXPECT_EQ(res->Header("x-request-id").size(), 32u);
  }
  res = client.Send(Method::kGet, "/id", {}, {{"X-Request-Id", std::string(128, 'b')}});
  EXPECT_EQ(res->Header("x-request-id"), std::string(128, 'b'));
  // Error responses made by the server carry one too.
  EXPECT_EQ(client.Get("/missing")->Header("x-request-id").size(), 32u);
}

TEST(Server, MalformedHttpIs400AndClose) {
  Router router;
  router.Add(Method::kGet, "/", Text("root"));
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  {
    RawConnection conn(server->port());
    ASSERT_TRUE(conn.Send("THIS IS NOT HTTP\r\n\r\n"));
    std::string reply = conn.ReadUntilClose();
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 400 ")) << reply;
    EXPECT_NE(reply.find("BAD_REQUEST"), std::string::npos);
    EXPECT_TRUE(conn.closed());
  }
  {
    RawConnection conn(server->port());
    ASSERT_TRUE(conn.Send("GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n"));
    std::string reply = conn.ReadUntilClose();
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 400 ")) << reply;
    EXPECT_TRUE(conn.closed());
  }
  {
    RawConnection conn(server->port());
    ASSERT_TRUE(conn.Send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(100 << 10, 'x') +
                          "\r\n\r\n"));
    std::string reply = conn.ReadUntilClose();
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 431 ")) << reply.substr(0, 100);
  }
  {
    RawConnection conn(server->port());
    ASSERT_TRUE(conn.Send("GET http://example.com/ HTTP/1.1\r\nHost: t\r\n\r\n"));
    EXPECT_TRUE(conn.ReadUntilClose().starts_with("HTTP/1.1 400 "));
  }
  Client client("127.0.0.1", server->port());
  EXPECT_EQ(client.Get("/")->body, "root");
}

TEST(Server, PipelinedRequestsAreAnsweredInOrder) {
  Router router;
  router.Add(Method::kGet, "/{name}",
             [](Request& req, Response& res) { res.body = *req.PathParam("name"); });
  router.Add(Method::kPost, "/{name}", [](Request& req, Response& res) { res.body = req.body; });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  RawConnection conn(server->port());
  ASSERT_TRUE(
      conn.Send("GET /one HTTP/1.1\r\nHost: t\r\n\r\n"
                "POST /two HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
                "GET /three HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  std::string first = conn.ReadResponse();
  std::string second = conn.ReadResponse();
  std::string third = conn.ReadUntilClose();
  EXPECT_TRUE(first.ends_with("\r\n\r\none")) << first;
  EXPECT_TRUE(second.ends_with("\r\n\r\nhello")) << second;
  EXPECT_TRUE(third.ends_with("\r\n\r\nthree")) << third;
  EXPECT_NE(third.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(conn.closed());
}

TEST(Server, ExpectContinueGets100BeforeTheBody) {
  Router router;
  router.Add(Method::kPost, "/up", [](Request& req, Response& res) { res.body = req.body; });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  RawConnection conn(server->port());
  ASSERT_TRUE(conn.Send(
      "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  std::string interim = conn.ReadResponse();
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(conn.Send("abcde"));
  std::string reply = conn.ReadResponse();
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200 ")) << reply;
  EXPECT_TRUE(reply.ends_with("abcde"));
}

TEST(Server, Http10ClosesUnlessKeepAliveAsked) {
  Router router;
  router.Add(Method::kGet, "/", Text("root"));
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  RawConnection conn(server->port());
  ASSERT_TRUE(conn.Send("GET / HTTP/1.0\r\n\r\n"));
  std::string reply = conn.ReadUntilClose();
  EXPECT_TRUE(reply.ends_with("root"));
  EXPECT_TRUE(conn.closed());
  RawConnection keep(server->port());
  ASSERT_TRUE(keep.Send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  reply = keep.ReadResponse();
  EXPECT_NE(reply.find("Connection: keep-alive"), std::string::npos) << reply;
  ASSERT_TRUE(keep.Send("GET / HTTP/1.0\r\n\r\n"));
  EXPECT_TRUE(keep.ReadUntilClose().ends_with("root"));
}

TEST(Server, CorsIsOffByDefault) {
  Router router;
  router.Add(Method::kGet, "/", Text("root"));
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  auto res = client.Send(Method::kGet, "/", {}, {{"Origin", "https://ui.example"}});
  EXPECT_EQ(res->Header("access-control-allow-origin"), "");
  res = client.Send(Method::kOptions, "/", {},
                    {{"Origin", "https://ui.example"}, {"Access-Control-Request-Method", "GET"}});
  EXPECT_EQ(res->Header("access-control-allow-origin"), "");
}

TEST(Server, CorsAnswersPreflightForAllowedOrigins) {
  Router router;
  router.Add(Method::kPost, "/api", Text("api"));
  auto options = TestOptions();
  options.cors_allowed_origins = "https://ui.example, https://other.example";
  auto server = StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  auto res = client.Send(Method::kOptions, "/api", {},
                         {{"Origin", "https://other.example"},
                          {"Access-Control-Request-Method", "POST"},
                          {"Access-Control-Request-Headers", "content-type"}});
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 204);
  EXPECT_EQ(res->Header("access-control-allow-origin"), "https://other.example");
  EXPECT_NE(res->Header("access-control-allow-methods").find("POST"), std::string::npos);
  EXPECT_EQ(res->Header("access-control-allow-headers"), "content-type");

  res = client.Send(Method::kPost, "/api", "{}", {{"Origin", "https://ui.example"}});
  EXPECT_EQ(res->body, "api");
  EXPECT_EQ(res->Header("access-control-allow-origin"), "https://ui.example");
  EXPECT_EQ(res->Header("vary"), "Origin");

  res = client.Send(Method::kPost, "/api", "{}", {{"Origin", "https://evil.example"}});
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->Header("access-control-allow-origin"), "");
  res =
      client.Send(Method::kOptions, "/api", {},
                  {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(res->status, 403);
}

TEST(Server, FallbackHandlesUnmatchedPaths) {
  Router router;
  router.Add(Method::kGet, "/api/x", Text("x"));
  router.SetFallback([](Request& req, Response& res) {
    res.content_type = "text/html";
    res.body = "ui:" + req.path;
  });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  EXPECT_EQ(client.Get("/api/x")->body, "x");
  auto res = client.Get("/experiments/1?tab=runs");
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ui:/experiments/1");
}

TEST(Server, BindFailureIsAStatusNotAnException) {
  Router first_router;
  auto first = StartServer(std::move(first_router));
  ASSERT_NE(first, nullptr);
  auto options = TestOptions();
  options.port = first->port();
  auto second = Server::Start(options, Router());
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), ErrorCode::kTemporarilyUnavailable);
  EXPECT_NE(second.error().message().find("cannot bind"), std::string::npos)
      << second.error().message();

  options.port = 0;
  options.host = "192.0.2.1";  // TEST-NET-1: not an address of this machine
  auto third = Server::Start(options, Router());
  ASSERT_FALSE(third.has_value());
  EXPECT_EQ(third.error().code(), ErrorCode::kInternalError);
  EXPECT_NE(third.error().message().find("192.0.2.1"), std::string::npos);
}

TEST(Server, HandlerHeadersAreSentAndFramingHeadersIgnored) {
  Router router;
  router.Add(Method::kGet, "/h", [](Request&, Response& res) {
    res.SetHeader("Cache-Control", "no-store");
    res.SetHeader("Content-Length", "999");  // the server owns framing
    res.SetHeader("X-Bad", "a\r\nInjected: yes");
    res.headers.emplace_back("Content-Type", "text/csv");
    res.body = "a,b\n";
  });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Client client("127.0.0.1", server->port());
  auto res = client.Get("/h");
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->Header("cache-control"), "no-store");
  EXPECT_EQ(res->Header("content-length"), "4");
  EXPECT_EQ(res->Header("content-type"), "text/csv");
  EXPECT_EQ(res->Header("injected"), "");
  EXPECT_EQ(res->Header("x-bad"), "");
  EXPECT_EQ(res->body, "a,b\n");
}

}  // namespace
}  // namespace mlforge::http

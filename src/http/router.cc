// Router: a segment trie over raw paths (no Beast here).
#include <array>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/thread_priority.h"
#include "http/http.h"

namespace mlforge::http {
namespace {

constexpr size_t kMethodCount = static_cast<size_t>(Method::kOther) + 1;

size_t Index(Method m) { return static_cast<size_t>(m); }

struct Route {
  Handler handler;  // exactly one of handler and async_handler is set
  AsyncHandler async_handler;
  BodyMode body_mode = BodyMode::kMemory;
  // Names of the "{name}" segments in order, then the "{name...}" one if any.
  std::vector<std::string> param_names;
};

using RouteTable = std::array<std::optional<Route>, kMethodCount>;

struct Node {
  std::map<std::string, std::unique_ptr<Node>, std::less<>> literals;
  std::unique_ptr<Node> param;  // "{name}": any non-empty segment
  RouteTable exact;             // routes ending at this node
  RouteTable rest;              // routes "{name...}" taking the rest from here
};

// Splits "/a/b" into {"a", "b"}; "/" gives {""}. Views point into `path`.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  size_t start = 1;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      segments.push_back(path.substr(start));
      return segments;
    }
    segments.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

[[noreturn]] void BadRoute(std::string_view pattern, std::string_view why) {
  // Routes are fixed in code: a bad one is a programmer error caught at startup.
  log::Error("http::Router: bad route pattern '{}': {}", pattern, why);
  std::fprintf(stderr, "http::Router: bad route pattern '%.*s'\n", static_cast<int>(pattern.size()),
               pattern.data());
  std::abort();
}

// The threads AddBlocking's handlers run on, at background priority: on a
// busy core the control plane yields to the I/O threads serving inference
// (a hot swap's registry write must not show in the inference p99). Tasks
// still queued when the pool is destroyed are dropped: their Responders
// answer 500 to connections the server has already closed.
class BlockingPool {
 public:
  explicit BlockingPool(int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] {
        LowerThreadPriority();
        Work();
      });
    }
  }
  ~BlockingPool() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  void Post(std::move_only_function<void()> task) {
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

 private:
  void Work() {
    for (;;) {
      std::move_only_function<void()> task;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (stopping_) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mu_;  // guards tasks_ and stopping_
  std::condition_variable cv_;
  std::deque<std::move_only_function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Control-plane handlers mostly wait on commits; a few threads let one
// request's fsync overlap another's work without oversubscribing the cores.
constexpr int kBlockingThreads = 4;

}  // namespace

struct Router::Impl {
  Node root;
  Handler fallback;
  // Declared last: destroyed (joined) before the routes its tasks call.
  std::unique_ptr<BlockingPool> blocking;

  void Insert(Method method, std::string_view pattern, Route route);

  // Search state for one Find(). Candidates are visited in priority order
  // (literal, then parameter, then rest-of-path) so the first hit wins.
  struct Search {
    Method method;
    std::string_view path;
    const std::vector<std::string_view>* segments;
    std::vector<std::string_view> captures;
    Match* match;
    bool found = false;
    std::array<bool, kMethodCount> allowed{};
  };

  // Takes the route for the method from `table` if there is one.
  static void Consider(const RouteTable& table, Search& s) {
    const Route* route = nullptr;
    if (table[Index(s.method)]) {
      route = &*table[Index(s.method)];
    } else if (s.method == Method::kHead && table[Index(Method::kGet)]) {
      route = &*table[Index(Method::kGet)];
    }
    if (route != nullptr) {
      s.found = true;
      s.match->handler = route->handler ? &route->handler : nullptr;
      s.match->async_handler = route->async_handler ? &route->async_handler : nullptr;
      s.match->body_mode = route->body_mode;
      s.match->params.clear();
      for (size_t i = 0; i < route->param_names.size() && i < s.captures.size(); ++i) {
        s.match->params.emplace(route->param_names[i], std::string(s.captures[i]));
      }
      return;
    }
    for (size_t i = 0; i < kMethodCount; ++i) {
      if (table[i]) s.allowed[i] = true;
    }
  }

  static void Walk(const Node& node, size_t i, Search& s) {
    const auto& segments = *s.segments;
    if (i == segments.size()) {
      Consider(node.exact, s);
      return;
    }
    if (auto it = node.literals.find(segments[i]); it != node.literals.end()) {
      Walk(*it->second, i + 1, s);
      if (s.found) return;
    }
    if (node.param && !segments[i].empty()) {
      s.captures.push_back(segments[i]);
      Walk(*node.param, i + 1, s);
      if (s.found) return;
      s.captures.pop_back();
    }
    const std::string_view rest(
        segments[i].data(),
        static_cast<size_t>(s.path.data() + s.path.size() - segments[i].data()));
    s.captures.push_back(rest);
    Consider(node.rest, s);
    if (!s.found) s.captures.pop_back();
  }
};

Router::Router() : impl_(std::make_unique<Impl>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

void Router::Add(Method method, std::string_view pattern, Handler handler, BodyMode body_mode) {
  if (!handler) BadRoute(pattern, "empty handler");
  Route route;
  route.handler = std::move(handler);
  route.body_mode = body_mode;
  impl_->Insert(method, pattern, std::move(route));
}

void Router::AddAsync(Method method, std::string_view pattern, AsyncHandler handler,
                      BodyMode body_mode) {
  if (!handler) BadRoute(pattern, "empty handler");
  Route route;
  route.async_handler = std::move(handler);
  route.body_mode = body_mode;
  impl_->Insert(method, pattern, std::move(route));
}

void Router::AddBlocking(Method method, std::string_view pattern, Handler handler,
                         BodyMode body_mode) {
  if (!handler) BadRoute(pattern, "empty handler");
  if (!impl_->blocking) impl_->blocking = std::make_unique<BlockingPool>(kBlockingThreads);
  BlockingPool* pool = impl_->blocking.get();
  auto shared = std::make_shared<const Handler>(std::move(handler));
  AddAsync(
      method, pattern,
      [pool, shared](Request& request, Responder responder) {
        pool->Post([shared, &request, responder = std::move(responder)]() mutable {
          Response response;
          try {
            (*shared)(request, response);
          } catch (const std::exception& e) {
            log::Error("http: handler for {} threw: {} (request id {})", request.path, e.what(),
                       request.request_id);
            return;  // the dropped Responder answers 500
          } catch (...) {
            log::Error("http: handler for {} threw a non-std exception (request id {})",
                       request.path, request.request_id);
            return;
          }
          responder.Send(std::move(response));
        });
      },
      body_mode);
}

void Router::Impl::Insert(Method method, std::string_view pattern, Route route) {
  if (pattern.empty() || pattern[0] != '/') BadRoute(pattern, "must start with '/'");
  std::vector<std::string_view> segments = SplitPath(pattern);
  Node* node = &root;
  RouteTable* table = nullptr;
  for (size_t i = 0; i < segments.size(); ++i) {
    std::string_view seg = segments[i];
    bool is_param = !seg.empty() && seg.front() == '{';
    if (!is_param) {
      if (seg.find_first_of("{}") != std::string_view::npos) BadRoute(pattern, "stray brace");
      auto& child = node->literals[std::string(seg)];
      if (!child) child = std::make_unique<Node>();
      node = child.get();
      continue;
    }
    if (seg.back() != '}' || seg.size() < 3) BadRoute(pattern, "parameter must be '{name}'");
    std::string_view name = seg.substr(1, seg.size() - 2);
    bool is_rest = name.ends_with("...");
    if (is_rest) name.remove_suffix(3);
    if (name.empty() || name.find_first_of("{}./") != std::string_view::npos) {
      BadRoute(pattern, "bad parameter name");
    }
    for (const auto& existing : route.param_names) {
      if (existing == name) BadRoute(pattern, "parameter name used twice");
    }
    route.param_names.emplace_back(name);
    if (is_rest) {
      if (i + 1 != segments.size()) BadRoute(pattern, "'{name...}' must be the last segment");
      table = &node->rest;
      break;
    }
    if (!node->param) node->param = std::make_unique<Node>();
    node = node->param.get();
  }
  if (table == nullptr) table = &node->exact;
  auto& slot = (*table)[Index(method)];
  if (slot) BadRoute(pattern, "duplicate route for this method");
  slot = std::move(route);
}

void Router::SetFallback(Handler handler) { impl_->fallback = std::move(handler); }

Router::Match Router::Find(Method method, std::string_view path) const {
  Match match;
  if (path.empty() || path[0] != '/') return match;
  std::vector<std::string_view> segments = SplitPath(path);
  Impl::Search search{method, path, &segments, {}, &match};
  search.captures.reserve(segments.size());
  Impl::Walk(impl_->root, 0, search);
  if (search.found) return match;
  for (size_t i = 0; i < kMethodCount; ++i) {
    if (!search.allowed[i]) continue;
    match.path_matched_other_method = true;
    match.allowed_methods.push_back(static_cast<Method>(i));
    if (static_cast<Method>(i) == Method::kGet && !search.allowed[Index(Method::kHead)]) {
      match.allowed_methods.push_back(Method::kHead);  // HEAD is served by GET routes
    }
  }
  if (!match.path_matched_other_method && impl_->fallback) match.handler = &impl_->fallback;
  return match;
}

}  // namespace mlforge::http

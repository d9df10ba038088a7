// Private to src/data: a bounded fan-out over work items.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "base/status.h"

namespace mlforge::data {

// Threads to use when the caller asked for 0 ("one per core").
inline int ThreadsOrCores(int requested) {
  if (requested > 0) return requested;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// Runs fn(i) -- or fn(i, worker) with worker in [0, threads) naming the
// thread, for per-thread state -- for i in [0, n) on up to `threads` threads
// (the caller's thread is worker 0). Stops handing out items after the first error and
// returns it. fn must be thread-safe.
template <typename Fn>
Status ParallelFor(size_t n, int threads, Fn&& fn) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;  // guards first_error
  Status first_error;
  auto work = [&](int worker) {
    for (;;) {
      if (failed.load(std::memory_order_relaxed)) return;
      size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n) return;
      Status s;
      if constexpr (std::is_invocable_v<Fn, size_t, int>) {
        s = fn(i, worker);
      } else {
        s = fn(i);
      }
      if (!s.ok()) {
        std::lock_guard lock(error_mu);
        if (!failed.exchange(true)) first_error = std::move(s);
        return;
      }
    }
  };
  size_t extra = std::min<size_t>(n, static_cast<size_t>(std::max(1, threads))) - (n > 0 ? 1 : 0);
  {
    std::vector<std::jthread> pool;
    pool.reserve(extra);
    for (size_t t = 0; t < extra; ++t) pool.emplace_back(work, static_cast<int>(t + 1));
    work(0);
  }  // joins
  return first_error;
}

}  // namespace mlforge::data

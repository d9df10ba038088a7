// A bounded fan-out over work items, shared by the subsystems that split work
// across cores (data hashing and transfers, monitor's columns and CSV chunks).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/status.h"

namespace mlforge {

// Threads to use when the caller asked for 0 or less ("one per core").
inline int ThreadsOrCores(int requested) {
  if (requested > 0) return requested;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// Runs fn(i) -- or fn(i, worker) with worker in [0, threads) naming the
// thread, for per-thread state -- for i in [0, n) on up to `threads` threads
// (<= 0: one per core; the caller's thread is worker 0). fn returns void or
// Status; with Status, ParallelFor stops handing out items after the first
// error and returns it. fn must be thread-safe.
template <typename Fn>
auto ParallelFor(size_t n, int threads, Fn&& fn) {
  constexpr bool kWithWorker = std::is_invocable_v<Fn, size_t, int>;
  using R = std::conditional_t<kWithWorker, std::invoke_result<Fn, size_t, int>, std::invoke_result<Fn, size_t>>::type;
  constexpr bool kStatus = std::is_same_v<R, Status>;
  static_assert(kStatus || std::is_void_v<R>, "fn must return void or Status");
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;  // guards first_error
  Status first_error;
  auto work = [&](int worker) {
    for (;;) {
      if (kStatus && failed.load(std::memory_order_relaxed)) return;
      size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n) return;
      auto call = [&] {
        if constexpr (kWithWorker) {
          return fn(i, worker);
        } else {
          return fn(i);
        }
      };
      if constexpr (kStatus) {
        Status s = call();
        if (!s.ok()) {
          std::lock_guard lock(error_mu);
          if (!failed.exchange(true)) first_error = std::move(s);
          return;
        }
      } else {
        call();
      }
    }
  };
  size_t extra = std::min<size_t>(n, static_cast<size_t>(ThreadsOrCores(threads))) - (n > 0 ? 1 : 0);
  {
    std::vector<std::jthread> pool;
    pool.reserve(extra);
    for (size_t t = 0; t < extra; ++t) pool.emplace_back(work, static_cast<int>(t + 1));
    work(0);
  }  // joins
  if constexpr (kStatus) return first_error;
}

}  // namespace mlforge

// A bounded lock-free queue for handing work from request threads to a
// background thread that must never make them wait.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace mlforge {

// A bounded multi-producer multi-consumer ring (Vyukov): a push or pop is a
// CAS on a position and a sequence check, never a lock, so the request path
// cannot wait behind the worker. Capacity is rounded up to a power of two.
// Thread-safe.
template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) {
    size_t n = 2;
    while (n < capacity) n <<= 1;
    cells_ = std::make_unique<Cell[]>(n);
    mask_ = n - 1;
    for (size_t i = 0; i < n; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
  }

  size_t capacity() const { return mask_ + 1; }

  // Swaps value into a free cell (value gets the cell's old contents).
  bool TryPush(T& value) {
    size_t pos = push_pos_.load(std::memory_order_relaxed);
    Cell* cell;
    for (;;) {
      cell = &cells_[pos & mask_];
      const size_t seq = cell->seq.load(std::memory_order_acquire);
      const auto dif = static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos);
      if (dif == 0) {
        if (push_pos_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
      } else if (dif < 0) {
        return false;  // full
      } else {
        pos = push_pos_.load(std::memory_order_relaxed);
      }
    }
    std::swap(cell->value, value);
    cell->seq.store(pos + 1, std::memory_order_release);
    return true;
  }

  // Swaps the oldest value into out (the cell keeps out's old contents, so
  // buffers circulate between producers and the consumer).
  bool TryPop(T& out) {
    size_t pos = pop_pos_.load(std::memory_order_relaxed);
    Cell* cell;
    for (;;) {
      cell = &cells_[pos & mask_];
      const size_t seq = cell->seq.load(std::memory_order_acquire);
      const auto dif = static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos + 1);
      if (dif == 0) {
        if (pop_pos_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
      } else if (dif < 0) {
        return false;  // empty
      } else {
        pos = pop_pos_.load(std::memory_order_relaxed);
      }
    }
    std::swap(out, cell->value);
    cell->seq.store(pos + mask_ + 1, std::memory_order_release);
    return true;
  }

 private:
  struct Cell {
    std::atomic<size_t> seq{0};
    T value;
  };
  std::unique_ptr<Cell[]> cells_;
  size_t mask_ = 0;
  alignas(64) std::atomic<size_t> push_pos_{0};
  alignas(64) std::atomic<size_t> pop_pos_{0};
};

}  // namespace mlforge

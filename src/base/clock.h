// Time source, passed in so windows, schedules and retries are testable.
// Implementations are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

namespace mlforge {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch (MLflow's timestamp unit).
  virtual int64_t NowMillis() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMillis() const override;
  // A process-wide instance for app/ wiring; stateless, so sharing is safe.
  static const Clock& Get();
};

// Manually advanced clock for tests. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_millis = 1'700'000'000'000) : now_(start_millis) {}
  int64_t NowMillis() const override { return now_.load(); }
  void Advance(int64_t millis) { now_.fetch_add(millis); }
  void Set(int64_t millis) { now_.store(millis); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace mlforge

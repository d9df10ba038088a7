#include "base/clock.h"

#include <chrono>

namespace mlforge {

int64_t SystemClock::NowMillis() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const Clock& SystemClock::Get() {
  static const SystemClock clock;
  return clock;
}

}  // namespace mlforge

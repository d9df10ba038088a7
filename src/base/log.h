// Logging facade. spdlog stays behind log.cc; callers format with fmt.
// Thread-safe.
#pragma once

#include <fmt/core.h>

#include <string_view>

namespace mlforge::log {

enum class Level { kDebug, kInfo, kWarn, kError };

void SetLevel(Level level);
bool Enabled(Level level);
void Write(Level level, std::string_view message);

template <typename... Args>
void Info(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Warn(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kWarn)) Write(Level::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Error(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kError)) Write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Debug(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace mlforge::log

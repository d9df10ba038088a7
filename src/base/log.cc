#include "base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>

namespace mlforge::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};

spdlog::logger& Logger() {
  // Logs go to stderr so stdout stays clean for CLI output.
  static auto logger = spdlog::stderr_color_mt("mlforge");
  return *logger;
}

}  // namespace

void SetLevel(Level level) { g_level.store(level); }
bool Enabled(Level level) { return level >= g_level.load(std::memory_order_relaxed); }

void Write(Level level, std::string_view message) {
  switch (level) {
    case Level::kDebug: Logger().debug(message); break;
    case Level::kInfo: Logger().info(message); break;
    case Level::kWarn: Logger().warn(message); break;
    case Level::kError: Logger().error(message); break;
  }
}

}  // namespace mlforge::log

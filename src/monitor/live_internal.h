// Private to src/monitor: helpers shared by the live monitor's files.
#pragma once

#include <string>
#include <string_view>

#include "monitor/monitor.h"

namespace mlforge::monitor {

// The inverse of WriteWindowResult (profile_json is stored apart).
Result<WindowResult> ParseWindowResult(std::string_view text);

}  // namespace mlforge::monitor

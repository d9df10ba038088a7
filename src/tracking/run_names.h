// Friendly random run names ("adjective-noun-NNN"), as MLflow gives runs
// created without a name. Private to tracking.
#pragma once

#include <string>

#include "base/ids.h"

namespace mlforge::tracking {

// Derives the name from a fresh random id so tests can make it deterministic.
std::string GenerateRunName(IdGenerator& ids);

}  // namespace mlforge::tracking

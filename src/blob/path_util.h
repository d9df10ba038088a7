// Private to src/blob: helpers shared by path.cc and the stores.
#pragma once

#include <string>
#include <string_view>

namespace mlforge::blob {

// True if s is well-formed UTF-8: shortest forms only, no surrogates.
bool IsValidUtf8(std::string_view s);

// s made safe to quote in an error message: at most ~200 bytes, control and
// non-UTF-8 bytes escaped as \xNN.
std::string EchoForMessage(std::string_view s);

}  // namespace mlforge::blob

// Opaque page tokens for paginated searches: base64 of a small JSON object
// {"offset": N}. Clients must treat them as opaque; the server rejects
// anything it did not mint with kInvalidParameterValue.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace mlforge {

std::string Base64Encode(std::string_view bytes);
Result<std::string> Base64Decode(std::string_view text);

std::string EncodePageToken(int64_t offset);
// Empty token -> offset 0.
Result<int64_t> DecodePageToken(std::string_view token);

}  // namespace mlforge

#include "registry/validation.h"

#include <charconv>
#include <string>

#include "tracking/tracking.h"

namespace mlforge::registry {
namespace {

constexpr size_t kMaxEchoed = 250;

std::string Clip(std::string_view s, size_t max = kMaxEchoed) {
  if (s.size() <= max) return std::string(s);
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "...";
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool IsAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
// Bytes >= 0x80 belong to UTF-8 letters, which Python's \w accepts.
bool IsWordByte(char c) {
  return IsAsciiAlnum(c) || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}

Status LengthLimit(std::string_view what, size_t limit, std::string_view value) {
  size_t n = CodePoints(value);
  if (n <= limit) return Status::Ok();
  return InvalidArgument(std::string(what) + " '" + Clip(value) + "' had length " +
                         std::to_string(n) + ", which exceeded length limit of " +
                         std::to_string(limit));
}

}  // namespace

size_t CodePoints(std::string_view utf8) {
  size_t n = 0;
  for (char c : utf8) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

Status ValidateModelName(std::string_view name) {
  if (name.empty()) return InvalidArgument("Registered model name cannot be empty.");
  return LengthLimit("Registered model name", kMaxModelNameLength, name);
}

Result<int64_t> ParseVersion(std::string_view version) {
  int64_t n = 0;
  std::string_view digits = version;
  // Python's int() accepts surrounding blanks and a sign; MLflow's versions never have them.
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size()) {
    return Err(InvalidArgument("Model version must be an integer, got '" + Clip(version) + "'"));
  }
  return n;  // 0 and negatives are well-formed, and simply never found
}

Status ValidateAlias(std::string_view alias) {
  if (alias.empty()) return InvalidArgument("Registered model alias name cannot be empty.");
  for (char c : alias) {
    if (!IsWordByte(c) && c != '-') {
      return InvalidArgument("Invalid alias name: '" + Clip(alias) +
                             "'. Names may only contain alphanumerics, underscores (_), and "
                             "dashes (-).");
    }
  }
  RETURN_IF_ERROR(LengthLimit("Registered model alias name", kMaxAliasLength, alias));
  if (EqualsIgnoreCase(alias, "latest")) {
    return InvalidArgument("'latest' alias name (case insensitive) is reserved.");
  }
  if (alias.size() >= 2 && (alias[0] == 'v' || alias[0] == 'V')) {
    bool digits = true;
    for (char c : alias.substr(1)) digits = digits && c >= '0' && c <= '9';
    if (digits)
      return InvalidArgument("Version alias name '" + std::string(alias) + "' is reserved.");
  }
  return Status::Ok();
}

Status ValidateTagKey(std::string_view key) { return tracking::ValidateTagKey(key); }

Status ValidateTag(std::string_view entity, const Tag& tag) {
  RETURN_IF_ERROR(ValidateTagKey(tag.key));
  RETURN_IF_ERROR(LengthLimit(std::string(entity) + " key", kMaxTagKeyLength, tag.key));
  return LengthLimit(std::string(entity) + " value", kMaxTagValueLength, tag.value);
}

Status ValidateDescription(std::string_view description) {
  return LengthLimit("Description", kMaxDescriptionLength, description);
}

Result<std::string> CanonicalStage(std::string_view stage) {
  for (std::string_view s : {kStageNone, kStageStaging, kStageProduction, kStageArchived}) {
    if (EqualsIgnoreCase(stage, s)) return std::string(s);
  }
  return Err(InvalidArgument("Invalid Model Version stage: " + Clip(stage) +
                             ". Value must be one of None, Staging, Production, Archived."));
}

}  // namespace mlforge::registry

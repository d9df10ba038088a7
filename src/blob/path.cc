// NormalizeRelativePath: the single gate every client artifact path passes.
//
// The rules are deliberately a whitelist of shapes rather than a rewrite:
// anything odd is refused, never "fixed", so there is exactly one spelling of
// each stored name and no second decoder can disagree with ours.
#include <fmt/core.h>

#include <string>
#include <string_view>

#include "blob/blob.h"
#include "blob/path_util.h"

namespace mlforge::blob {
namespace {

// How much of a rejected path an error message may echo.
constexpr size_t kMaxEchoBytes = 200;

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Length of the UTF-8 sequence starting at s[i] if it is well formed
// (shortest form, no surrogates, <= U+10FFFF), else 0.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(i + 1) >= 0xA0) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xF0 && b(i + 1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(i + 1) >= 0x90) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;  // continuation byte, 0xC0/0xC1 (overlong ASCII, e.g. "\xC0\xAE" = '.'), 0xF5+
}

Status Reject(std::string_view path, std::string_view reason) {
  return InvalidArgument(
      fmt::format("Invalid artifact path '{}': {}", EchoForMessage(path), reason));
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string EchoForMessage(std::string_view path) {
  // Raw input goes into JSON error bodies and logs: cap it, and escape bytes
  // that are not printable ASCII or part of well-formed UTF-8.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    if (out.size() >= kMaxEchoBytes) {
      out += "...";
      break;
    }
    unsigned char c = static_cast<unsigned char>(path[i]);
    size_t n = Utf8SequenceLength(path, i);
    if (c >= 0x80 && n > 0) {
      out.append(path.substr(i, n));
      i += n;
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
      ++i;
    } else {
      out += static_cast<char>(c);
      ++i;
    }
  }
  return out;
}

Result<std::string> NormalizeRelativePath(std::string_view path, bool allow_empty) {
  if (path.size() > kMaxArtifactPathBytes) {
    return Err(Reject(path, fmt::format("path is longer than {} bytes", kMaxArtifactPathBytes)));
  }
  if (path.empty()) {
    if (allow_empty) return std::string();
    return Err(Reject(path, "path is empty"));
  }

  // Byte-level rules first: they hold wherever the byte sits.
  for (size_t i = 0; i < path.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(path[i]);
    if (c < 0x20 || c == 0x7f) {
      return Err(Reject(path, "control characters (including NUL) are not allowed"));
    }
    if (c == '\\') {
      // A separator on Windows and in some URL parsers; never a name byte here.
      return Err(Reject(path, "backslashes are not allowed"));
    }
    if (c == '%' && i + 2 < path.size() && IsHexDigit(path[i + 1]) && IsHexDigit(path[i + 2])) {
      // The HTTP layer decoded once; "%2e", "%2f", "%25..." here is a second
      // encoding layer that some later consumer might decode again.
      return Err(Reject(path,
                        "percent-encoded sequences are not allowed (the path was already "
                        "decoded once; '%XX' would be a second encoding layer)"));
    }
    if (c == '?' || c == '#') {
      // URI delimiters: a name holding them cannot round-trip through an
      // artifact URI, and layers that cut at them would see another path.
      return Err(Reject(path, "'?' and '#' are not allowed"));
    }
  }
  if (!IsValidUtf8(path)) {
    // Also catches overlong encodings of '.' and '/' ("\xC0\xAE", "\xC0\xAF").
    return Err(Reject(path, "path is not valid UTF-8"));
  }
  if (path.front() == '/') return Err(Reject(path, "absolute paths are not allowed"));

  std::string_view body = path;
  if (body.back() == '/') body.remove_suffix(1);  // the one thing we collapse

  bool first = true;
  for (std::string_view rest = body;;) {
    size_t slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    if (segment.empty()) {
      return Err(Reject(path, "empty path segments ('//') are not allowed"));
    }
    if (segment == "." || segment == "..") {
      return Err(Reject(path, "path traversal is not allowed"));
    }
    if (segment.size() > kMaxArtifactSegmentBytes) {
      return Err(Reject(
          path, fmt::format("a path segment is longer than {} bytes", kMaxArtifactSegmentBytes)));
    }
    if (first && segment.size() >= 2 && IsAsciiAlpha(segment[0]) && segment[1] == ':') {
      // "C:", "c:x": absolute or drive-relative on Windows, and a URI scheme
      // to anything that parses the path as a URI.
      return Err(Reject(path, "drive letters are not allowed"));
    }
    first = false;
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return std::string(body);
}

}  // namespace mlforge::blob

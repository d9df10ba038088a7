// Private helpers for src/http: ASCII case handling and method names.
#pragma once

#include <string>
#include <string_view>

#include "http/http.h"

namespace mlforge::http::internal {

inline char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

inline std::string AsciiLowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

// Method from its exact (case-sensitive, RFC 9110) token; kOther if unknown.
Method MethodFromName(std::string_view name);

// True if the value can go on a header line as is (no CR, LF or NUL).
inline bool IsSafeHeaderValue(std::string_view v) {
  for (char c : v) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// RFC 9110 token characters, for header names.
inline bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
    switch (c) {
      case '(':
      case ')':
      case ',':
      case '/':
      case ':':
      case ';':
      case '<':
      case '=':
      case '>':
      case '?':
      case '@':
      case '[':
      case '\\':
      case ']':
      case '{':
      case '}':
      case '"':
        return false;
      default:
        break;
    }
  }
  return true;
}

}  // namespace mlforge::http::internal

// Artifact path attack spellings shared by the blob tests.
#pragma once

#include <string>
#include <vector>

namespace mlforge::blob {

// Input as the HTTP layer hands it over: percent-decoded exactly once.
inline const std::vector<std::string>& AttackPaths() {
  using namespace std::string_literals;  // "x\0y"s keeps the embedded NUL
  static const std::vector<std::string> kAttacks = {
      // Parent traversal.
      "../x",
      "a/../../x",
      "a/..",
      "..",
      "../",
      "../../../../etc/passwd",
      "a/b/c/../../../../x",
      "..//x",
      ".../..",
      " /../x",
      // Current-directory segments and empty segments (nothing is collapsed).
      ".",
      "./a",
      "a/./b",
      "./",
      "a/.",
      "a//b",
      "a//",
      "//x",
      // Absolute paths.
      "/",
      "/etc/passwd",
      "/x/../y",
      "file:///etc/passwd",
      // Backslashes (Windows separators, URL-parser confusion).
      "..\\x",
      "a\\..\\b",
      "\\x",
      "\\\\server\\share",
      "a\\b",
      // A second encoding layer: single- and double-encoded dots, slashes, NUL.
      "%2e%2e/x",
      "%2E%2E/x",
      "..%2fx",
      "%2e%2e%2fx",
      "a/%2F/b",
      "%252e%252e/x",
      "%25%32%65/x",
      "..%5cx",
      "%00",
      "a%2fb",
      // NUL and control bytes.
      "x\0y"s,
      "a/b\0/../../x"s,
      "a\x01"s
      "b",
      "a\nb",
      "a\rb",
      "a\tb",
      "a\x7f",
      "\x1b[31m",
      // Windows drive letters.
      "C:/x",
      "c:\\x",
      "C:",
      "Z:x",
      "d:/windows/system32",
      // ';', '?', '#' tricks: parameter, query and fragment cuts.
      ";/../x",
      "a;/../../x",
      "a?/../x",
      "a#/../x",
      "a?b",
      "#",
      "a/b#c",
      // Overlong UTF-8 spellings of '.' and '/', and other invalid UTF-8.
      "\xc0\xae\xc0\xae/x",
      "\xe0\x80\xae\xe0\x80\xae/x",
      "a\xc0\xaf"
      "b",
      "\xff",
      "a\x80",
      "\xed\xa0\x80",
      // Empty (the root) is refused unless allowed.
      "",
  };
  return kAttacks;
}

}  // namespace mlforge::blob

#include "api/mime_types.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <tuple>
#include <utility>

namespace mlforge::api {
namespace {

// mlflow/utils/mime_type_utils.py get_text_extensions(); compared case-sensitively.
constexpr std::array<std::string_view, 25> kTextExtensions = {
    "txt",  "log",   "err",  "cfg",  "conf", "cnf",     "cf",       "ini", "properties",
    "prop", "hocon", "toml", "yaml", "yml",  "xml",     "json",     "js",  "py",
    "py3",  "csv",   "tsv",  "md",   "rst",  "MLmodel", "MLproject"};

// A subset of Python's mimetypes defaults (types_map), lower-case extensions.
constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
    {"avi", "video/x-msvideo"},
    {"bin", "application/octet-stream"},
    {"bmp", "image/bmp"},
    {"c", "text/plain"},
    {"css", "text/css"},
    {"csv", "text/csv"},
    {"doc", "application/msword"},
    {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"eps", "application/postscript"},
    {"gif", "image/gif"},
    {"h", "text/plain"},
    {"htm", "text/html"},
    {"html", "text/html"},
    {"ico", "image/vnd.microsoft.icon"},
    {"jar", "application/java-archive"},
    {"jpe", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript"},
    {"json", "application/json"},
    {"md", "text/markdown"},
    {"mjs", "text/javascript"},
    {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"mpeg", "video/mpeg"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"ppt", "application/vnd.ms-powerpoint"},
    {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    {"ps", "application/postscript"},
    {"py", "text/x-python"},
    {"rtf", "application/rtf"},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"tsv", "text/tab-separated-values"},
    {"txt", "text/plain"},
    {"wasm", "application/wasm"},
    {"wav", "audio/x-wav"},
    {"webm", "video/webm"},
    {"webp", "image/webp"},
    {"xls", "application/vnd.ms-excel"},
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"xml", "text/xml"},
    {"zip", "application/zip"},
};

// Python's suffix_map / encodings_map.
constexpr std::pair<std::string_view, std::string_view> kSuffixAliases[] = {
    {"tgz", "tar.gz"},   {"taz", "tar.gz"}, {"tz", "tar.gz"},
    {"tbz2", "tar.bz2"}, {"txz", "tar.xz"}, {"svgz", "svg.gz"},
};
constexpr std::string_view kEncodings[] = {"gz", "Z", "bz2", "xz", "br"};

std::string_view Basename(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// os.path.splitext: a leading dot does not start an extension (".bashrc").
std::pair<std::string_view, std::string_view> SplitExt(std::string_view name) {
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return {name, {}};
  size_t first_non_dot = name.find_first_not_of('.');
  if (first_non_dot == std::string_view::npos || dot < first_non_dot) return {name, {}};
  return {name.substr(0, dot), name.substr(dot + 1)};
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view LookupType(std::string_view ext) {
  std::string lower = Lower(ext);
  for (const auto& [e, type] : kTypes) {
    if (e == lower) return type;
  }
  return {};
}

// mimetypes.guess_type(name)[0], over our fixed tables.
std::string_view GuessType(std::string_view name) {
  std::string expanded;
  auto [base, ext] = SplitExt(name);
  for (const auto& [alias, full] : kSuffixAliases) {
    if (ext == alias) {
      expanded = std::string(base) + "." + std::string(full);
      name = expanded;
      std::tie(base, ext) = SplitExt(name);
      break;
    }
  }
  for (std::string_view enc : kEncodings) {
    if (ext == enc) {
      std::tie(base, ext) = SplitExt(base);
      break;
    }
  }
  if (ext.empty()) return {};
  return LookupType(ext);
}

bool IsTokenChar(unsigned char c) {
  return std::isalnum(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

}  // namespace

std::string GuessMimeType(std::string_view path) {
  std::string_view name = Basename(path);
  std::string_view ext = SplitExt(name).second;
  if (ext.empty()) ext = name;  // MLmodel, MLproject
  if (std::find(kTextExtensions.begin(), kTextExtensions.end(), ext) != kTextExtensions.end()) {
    return "text/plain";
  }
  std::string_view type = GuessType(name);
  return type.empty() ? "application/octet-stream" : std::string(type);
}

std::string WebMimeType(std::string_view path) {
  // Web types Python's table lacks.
  static constexpr std::pair<std::string_view, std::string_view> kWebTypes[] = {
      {"map", "application/json"}, {"woff", "font/woff"}, {"woff2", "font/woff2"},
      {"ttf", "font/ttf"},         {"otf", "font/otf"},   {"webmanifest", "application/manifest+json"},
  };
  std::string_view name = Basename(path);
  std::string ext = Lower(SplitExt(name).second);
  std::string_view type;
  for (const auto& [e, t] : kWebTypes) {
    if (e == ext) type = t;
  }
  if (type.empty() && !ext.empty()) type = LookupType(ext);
  if (type.empty()) return "application/octet-stream";
  bool text = type.starts_with("text/") || type == "application/json" ||
              type == "application/manifest+json" || type == "image/svg+xml";
  return text ? std::string(type) + "; charset=utf-8" : std::string(type);
}

std::string AttachmentDisposition(std::string_view path) {
  std::string_view name = Basename(path);
  bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return IsTokenChar(static_cast<unsigned char>(c));
  });
  if (token) return "attachment; filename=" + std::string(name);
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string ascii;
  std::string encoded;
  for (char ch : name) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      ascii.push_back(ch);
    } else if (c < 0x80) {
      ascii.push_back('_');
    } else if ((c & 0xC0) != 0x80) {
      ascii.push_back('_');  // one '_' per non-ASCII code point
    }
    if (IsTokenChar(c) && c != '%' && c != '\'' && c != '*') {
      encoded.push_back(ch);
    } else {
      encoded.push_back('%');
      encoded.push_back(kHex[c >> 4]);
      encoded.push_back(kHex[c & 0xf]);
    }
  }
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

}  // namespace mlforge::api

// The web UI's static files (docs/ui.md): a router fallback, so it runs only
// for requests no API route matched. GET/HEAD of a file under the UI dir
// serves it; any other path that is not a server prefix serves index.html
// (the UI's router then reads the deep link). Paths are decoded once and
// checked segment by segment, then resolved and checked again after
// symlinks, so no spelling of a path reads outside the UI dir.
#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "api/api.h"
#include "api/mime_types.h"
#include "base/status.h"
#include "http/http.h"

namespace mlforge::api {
namespace {

namespace fs = std::filesystem;

// Hashed build output (Vite's assets/<name>-<hash>.<ext>): the name changes
// with the content, so clients may keep it forever.
constexpr std::string_view kAssetsDir = "assets/";
constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";
// index.html and unhashed files: revalidate each time, so a new build shows at once.
constexpr std::string_view kNoCache = "no-cache";

// Paths the server owns: an unmatched request under them keeps the API's
// JSON 404 instead of turning into the UI's page.
constexpr std::array<std::string_view, 5> kServerPrefixes = {
    "/api/", "/ajax-api/", "/v2/", "/get-artifact", "/model-versions/get-artifact"};
constexpr std::array<std::string_view, 7> kServerPaths = {
    "/api", "/ajax-api", "/v2", "/metrics", "/health", "/version", "/ping"};

bool IsServerPath(std::string_view path) {
  for (std::string_view p : kServerPaths) {
    if (path == p) return true;
  }
  for (std::string_view p : kServerPrefixes) {
    if (path.starts_with(p)) return true;
  }
  return path.ends_with("/invocations");
}

void NotFoundEndpoint(const http::Request& request, http::Response& response) {
  response.SetError(404, "ENDPOINT_NOT_FOUND",
                    fmt::format("No API endpoint for {} {}", http::MethodName(request.method),
                                request.path));
}

// The decoded path's segments relative to the UI dir, or an error message
// for a path that could name something outside it.
Result<std::vector<std::string>> UiSegments(std::string_view decoded) {
  if (decoded.empty() || decoded.front() != '/') return Err(InvalidArgument("Invalid path"));
  if (decoded.find('\0') != std::string_view::npos || decoded.find('\\') != std::string_view::npos) {
    return Err(InvalidArgument("Invalid path"));
  }
  std::vector<std::string> segments;
  size_t pos = 1;
  while (pos <= decoded.size()) {
    size_t slash = decoded.find('/', pos);
    if (slash == std::string_view::npos) slash = decoded.size();
    std::string_view seg = decoded.substr(pos, slash - pos);
    if (seg == "." || seg == "..") return Err(InvalidArgument("Invalid path: '.' or '..' segment"));
    if (!seg.empty()) segments.emplace_back(seg);
    pos = slash + 1;
  }
  return segments;
}

bool Inside(const fs::path& root, const fs::path& p) {
  auto [r, q] = std::mismatch(root.begin(), root.end(), p.begin(), p.end());
  return r == root.end();
}

void SendFile(http::Response& response, const fs::path& file, std::string_view cache_control) {
  response.status = 200;
  response.body.clear();
  response.body_file = file;
  response.SetHeader("Content-Type", WebMimeType(file.filename().string()));
  response.SetHeader("Cache-Control", std::string(cache_control));
  response.SetHeader("X-Content-Type-Options", "nosniff");
}

void SendNotBuilt(const http::Request& request, http::Response& response) {
  response.status = request.path == "/" ? 200 : 404;
  response.content_type = "text/plain; charset=utf-8";
  response.SetHeader("Cache-Control", std::string(kNoCache));
  response.body =
      "mlforge: the web UI is not built, so there is nothing to show here.\n"
      "Build it with `make build` (it runs `npm ci` and `vite build` in ui/), or start the\n"
      "server with --ui-dir pointing at a built UI. The REST API is served under /api/2.0/.\n";
}

void ServeUi(const fs::path& configured_dir, http::Request& request, http::Response& response) {
  if (request.method != http::Method::kGet && request.method != http::Method::kHead) {
    return NotFoundEndpoint(request, response);
  }
  auto decoded = http::PercentDecode(request.path);
  if (!decoded) {
    return response.SetError(400, "INVALID_PARAMETER_VALUE", decoded.error().message());
  }
  if (IsServerPath(request.path) || IsServerPath(*decoded)) {
    return NotFoundEndpoint(request, response);
  }
  auto segments = UiSegments(*decoded);
  if (!segments) {
    return response.SetError(400, "INVALID_PARAMETER_VALUE", segments.error().message());
  }

  // Resolved per request, so a UI built (or rebuilt) while the server runs shows up.
  std::error_code ec;
  fs::path root = fs::canonical(configured_dir, ec);
  if (ec || !fs::is_directory(root, ec)) return SendNotBuilt(request, response);
  fs::path index = root / "index.html";
  if (!fs::is_regular_file(index, ec)) return SendNotBuilt(request, response);

  std::string relative;
  for (const std::string& s : *segments) relative += (relative.empty() ? "" : "/") + s;
  if (!relative.empty()) {
    fs::path candidate = root / relative;
    fs::path resolved = fs::canonical(candidate, ec);
    if (!ec) {
      if (!Inside(root, resolved)) {
        return response.SetError(403, "PERMISSION_DENIED", "Path leaves the UI directory");
      }
      if (fs::is_regular_file(resolved, ec)) {
        bool hashed = relative.starts_with(kAssetsDir);
        return SendFile(response, resolved, hashed ? kImmutable : kNoCache);
      }
    }
    // A missing build file must not turn into HTML: the browser would run
    // index.html as a script or style.
    if (relative.starts_with(kAssetsDir)) {
      return response.SetError(404, "RESOURCE_DOES_NOT_EXIST", "No such UI asset");
    }
  }
  SendFile(response, index, kNoCache);
}

}  // namespace

void RegisterUiRoutes(http::Router& router, const UiContext& context) {
  router.SetFallback([dir = context.dir](http::Request& request, http::Response& response) {
    ServeUi(dir, request, response);
  });
}

}  // namespace mlforge::api

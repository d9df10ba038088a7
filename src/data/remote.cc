// Push and pull over the datasets API (docs/data.md). Each worker thread has
// its own keep-alive connection.
#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <unordered_set>

#include "base/hash.h"
#include "base/json.h"
#include "base/parallel.h"
#include "blob/blob.h"
#include "data/data.h"
#include "http/http.h"

namespace mlforge::data {
namespace {

constexpr std::string_view kApi = "/api/2.0/mlforge/datasets";
// One object travels in one request; a big one may take a while on a slow link.
constexpr auto kTransferTimeout = std::chrono::minutes(30);

// A non-2xx response as a Status carrying the server's message.
Status RemoteError(const http::ClientResponse& r, std::string_view what) {
  std::string message = r.body.substr(0, 500);
  if (auto v = json::Parse(r.body); v.has_value() && v->is_object()) {
    if (const json::Value* m = v->Find("message"); m != nullptr && m->is_string()) {
      message = m->as_string();
    }
  }
  std::string text = fmt::format("{}: server answered {}: {}", what, r.status, message);
  if (r.status == 404) return NotFound(std::move(text));
  if (r.status >= 500) return Unavailable(std::move(text));
  return InvalidArgument(std::move(text));
}

std::unique_ptr<http::Client> Connect(const RemoteOptions& o) {
  return std::make_unique<http::Client>(o.host, o.port, kTransferTimeout);
}

// The hashes a version needs: its manifest and every object, each once.
std::vector<std::string> ObjectsOf(std::string_view version_id, const Manifest& manifest) {
  std::vector<std::string> out;
  std::unordered_set<std::string_view> seen;
  for (const ManifestEntry& e : manifest.entries) {
    if (seen.insert(e.sha256).second) out.push_back(e.sha256);
  }
  out.emplace_back(version_id);  // last: the version is usable once everything is there
  return out;
}

Result<std::vector<std::string>> RemoteMissing(http::Client& client,
                                               const std::vector<std::string>& hashes) {
  std::vector<std::string> missing;
  for (size_t start = 0; start < hashes.size(); start += kMaxMissingCheck) {
    size_t end = std::min(hashes.size(), start + static_cast<size_t>(kMaxMissingCheck));
    json::Writer w;
    w.StartObject().Key("sha256").StartArray();
    for (size_t i = start; i < end; ++i) w.String(hashes[i]);
    w.EndArray().EndObject();
    ASSIGN_OR_RETURN(http::ClientResponse r,
                     client.PostJson(fmt::format("{}/objects/missing", kApi), w.str()));
    if (r.status != 200) return Err(RemoteError(r, "existence check"));
    ASSIGN_OR_RETURN(json::Value v, json::Parse(r.body));
    const json::Value* list = v.Find("missing");
    if (list != nullptr && list->is_array()) {
      for (const json::Value& item : list->items()) {
        if (item.is_string()) missing.push_back(item.as_string());
      }
    }
  }
  return missing;
}

// Runs transfer(client, hash) for every hash on `connections` threads.
template <typename Fn>
Status TransferAll(const std::vector<std::string>& hashes, const RemoteOptions& options,
                   std::string_view phase, TransferResult& result, Fn&& transfer) {
  std::atomic<int64_t> done{0}, bytes{0};
  std::atomic<int64_t> started{0};
  const int threads = std::max(1, options.connections);
  std::vector<std::unique_ptr<http::Client>> clients(static_cast<size_t>(threads));
  Status s = ParallelFor(hashes.size(), threads, [&](size_t i, int worker) -> Status {
    if (options.abort_after_objects >= 0 &&
        started.fetch_add(1) >= options.abort_after_objects) {
      return Unavailable("transfer aborted (test hook)");
    }
    std::unique_ptr<http::Client>& client = clients[static_cast<size_t>(worker)];
    if (!client) client = Connect(options);
    ASSIGN_OR_RETURN(int64_t n, transfer(*client, hashes[i]));
    int64_t d = done.fetch_add(1) + 1;
    int64_t b = bytes.fetch_add(n) + n;
    if (options.progress) options.progress->Update(phase, d, static_cast<int64_t>(hashes.size()), b);
    return Status::Ok();
  });
  result.objects_transferred = done.load();
  result.bytes_transferred = bytes.load();
  if (options.progress) options.progress->Finish();
  return s;
}

}  // namespace

Result<RemoteOptions> ParseRemoteUri(std::string_view uri) {
  RemoteOptions o;
  std::string_view rest = uri;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return Err(InvalidArgument(fmt::format(
        "Remote '{}' is not an http:// URI (https is not supported by the data client yet)", uri)));
  }
  rest = rest.substr(0, rest.find('/'));
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) {
    o.host = std::string(rest);
    o.port = 80;
  } else {
    o.host = std::string(rest.substr(0, colon));
    std::string_view port = rest.substr(colon + 1);
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535) {
      return Err(InvalidArgument(fmt::format("Bad port in remote '{}'", uri)));
    }
    o.port = static_cast<uint16_t>(value);
  }
  if (o.host.empty()) return Err(InvalidArgument(fmt::format("No host in remote '{}'", uri)));
  return o;
}

Result<TransferResult> Push(Workspace& workspace, std::string_view dataset,
                            std::string_view version_id, const RemoteOptions& options) {
  RETURN_IF_ERROR(ValidateDatasetName(dataset));
  ASSIGN_OR_RETURN(Manifest manifest, workspace.LoadManifest(version_id));
  TransferResult result;
  result.version_id = std::string(version_id);
  std::vector<std::string> hashes = ObjectsOf(version_id, manifest);
  result.objects_total = static_cast<int64_t>(hashes.size());
  auto control = Connect(options);
  ASSIGN_OR_RETURN(std::vector<std::string> missing, RemoteMissing(*control, hashes));
  // Keep the manifest last among the uploads.
  std::stable_partition(missing.begin(), missing.end(),
                        [&](const std::string& h) { return h != version_id; });
  ObjectCache& cache = workspace.cache();
  RETURN_IF_ERROR(TransferAll(
      missing, options, "uploading", result,
      [&](http::Client& client, const std::string& sha) -> Result<int64_t> {
        ASSIGN_OR_RETURN(std::string bytes, cache.Read(sha));
        ASSIGN_OR_RETURN(http::ClientResponse r,
                         client.Send(http::Method::kPut, fmt::format("{}/objects/{}", kApi, sha),
                                     bytes, {{"content-type", "application/octet-stream"}}));
        if (r.status == 400 && r.body.find("hash mismatch") != std::string::npos) {
          return Err(Internal(fmt::format(
              "Cache object {} is corrupted (the server refused it); not pushed", sha)));
        }
        if (r.status != 200) return Err(RemoteError(r, "upload of " + sha));
        return static_cast<int64_t>(bytes.size());
      }));
  json::Writer w;
  w.StartObject().Field("name", dataset).Field("version_id", version_id).EndObject();
  ASSIGN_OR_RETURN(http::ClientResponse r,
                   control->PostJson(fmt::format("{}/versions/create", kApi), w.str()));
  if (r.status != 200) return Err(RemoteError(r, "creating the version"));
  if (auto v = json::Parse(r.body); v.has_value()) {
    if (const json::Value* version = v->Find("version")) {
      if (const json::Value* n = version->Find("version"); n != nullptr && n->is_int64()) {
        result.version_number = n->as_int64();
      }
    }
  }
  return result;
}

Result<TransferResult> Pull(Workspace& workspace, std::string_view version_id,
                            const RemoteOptions& options) {
  if (!IsSha256Hex(version_id)) return Err(InvalidArgument("Invalid version id"));
  ObjectCache& cache = workspace.cache();
  TransferResult result;
  result.version_id = std::string(version_id);
  // Verified on arrival: only bytes that hash to their name are stored.
  auto fetch = [&](http::Client& client, const std::string& sha) -> Result<int64_t> {
    ASSIGN_OR_RETURN(http::ClientResponse r,
                     client.Get(fmt::format("{}/objects/{}", kApi, sha)));
    if (r.status != 200) return Err(RemoteError(r, "download of " + sha));
    auto stored = cache.PutIfHashIs(r.body, sha);
    if (!stored.has_value()) {
      return Err(Internal(fmt::format("Object {} arrived corrupted ({}); refused", sha,
                                      stored.error().message())));
    }
    return static_cast<int64_t>(r.body.size());
  };
  if (!cache.Exists(version_id)) {
    auto client = Connect(options);
    ASSIGN_OR_RETURN(int64_t n, fetch(*client, std::string(version_id)));
    result.objects_transferred += 1;
    result.bytes_transferred += n;
  }
  ASSIGN_OR_RETURN(Manifest manifest, workspace.LoadManifest(version_id));
  std::vector<std::string> hashes = ObjectsOf(version_id, manifest);
  result.objects_total = static_cast<int64_t>(hashes.size());
  std::vector<std::string> missing;
  for (const std::string& h : hashes) {
    if (!cache.Exists(h)) missing.push_back(h);
  }
  TransferResult objects;
  Status s = TransferAll(missing, options, "downloading", objects, fetch);
  result.objects_transferred += objects.objects_transferred;
  result.bytes_transferred += objects.bytes_transferred;
  RETURN_IF_ERROR(s);
  return result;
}

}  // namespace mlforge::data

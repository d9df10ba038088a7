#include "app/server_client.h"

#include <fmt/core.h>

#include <cstdlib>

#include "http/http.h"

namespace mlforge::app {

Result<data::RemoteOptions> ServerFromFlagOrEnv(const std::string& flag_value,
                                                std::string_view flag_name,
                                                std::string_view fallback) {
  std::string uri = flag_value;
  for (const char* env : {"MLFORGE_TRACKING_URI", "MLFLOW_TRACKING_URI"}) {
    if (!uri.empty()) break;
    if (const char* v = std::getenv(env)) uri = v;
  }
  if (uri.empty()) uri = fallback;
  if (uri.empty()) {
    return Err(InvalidArgument(fmt::format(
        "No server: pass {} http://host:port or set MLFLOW_TRACKING_URI", flag_name)));
  }
  return data::ParseRemoteUri(uri);
}

Result<json::Value> GetJson(const data::RemoteOptions& server, const std::string& target) {
  return SendJson(server, http::Method::kGet, target, {});
}

Result<json::Value> SendJson(const data::RemoteOptions& server, http::Method method,
                             const std::string& target, std::string_view body) {
  http::Client client(server.host, server.port);
  std::vector<std::pair<std::string, std::string>> headers;
  if (!body.empty()) headers.emplace_back("content-type", "application/json");
  ASSIGN_OR_RETURN(http::ClientResponse r, client.Send(method, target, body, std::move(headers)));
  ASSIGN_OR_RETURN(json::Value v, json::Parse(r.body));
  if (r.status != 200) {
    const json::Value* m = v.Find("message");
    return Err(InvalidArgument(fmt::format("server answered {}: {}", r.status,
                                           m && m->is_string() ? m->as_string() : r.body)));
  }
  return v;
}

int64_t IntOf(const json::Value& v, std::string_view key) {
  const json::Value* f = v.Find(key);
  return f && f->is_int64() ? f->as_int64() : 0;
}

std::string StrOf(const json::Value& v, std::string_view key) {
  const json::Value* f = v.Find(key);
  return f && f->is_string() ? f->as_string() : std::string();
}

std::string BuildJson(const std::function<void(json::Writer&)>& fill) {
  json::Writer w;
  fill(w);
  return w.Take();
}

ServerApi::ServerApi(const data::RemoteOptions& server, std::chrono::milliseconds timeout)
    : url_(fmt::format("http://{}:{}", server.host, server.port)),
      client_(std::make_unique<http::Client>(server.host, server.port, timeout)) {}

ServerApi::~ServerApi() = default;

Result<Answer> ServerApi::Call(http::Method method, const std::string& target,
                               std::string_view body, std::string_view content_type,
                               std::vector<std::pair<std::string, std::string>> extra_headers) {
  std::vector<std::pair<std::string, std::string>> headers = std::move(extra_headers);
  if (!body.empty() || method != http::Method::kGet) {
    headers.emplace_back("content-type", std::string(content_type));
  }
  auto r = client_->Send(method, target, body, std::move(headers));
  if (!r) {
    return Err(Unavailable(
        fmt::format("cannot reach the tracking server at {}: {}", url_, r.error().message())));
  }
  Answer a{.status = r->status};
  if (r->status == 200 && r->body.empty()) return a;
  auto parsed = json::Parse(r->body);
  if (parsed) a.body = std::move(*parsed);
  return a;
}

Result<json::Value> ServerApi::Must(http::Method method, const std::string& target,
                                    std::string_view body, std::string_view content_type) {
  ASSIGN_OR_RETURN(Answer a, Call(method, target, body, content_type));
  if (!a.ok()) return Err(ServerError(target, a));
  return std::move(a.body);
}

Result<json::Value> ServerApi::Post(const std::string& target, std::string_view body) {
  return Must(http::Method::kPost, target, body);
}

Result<std::string> ServerApi::Bytes(const std::string& target) {
  auto r = client_->Get(target);
  if (!r) {
    return Err(Unavailable(
        fmt::format("cannot reach the tracking server at {}: {}", url_, r.error().message())));
  }
  if (r->status != 200) {
    Answer a{.status = r->status};
    if (auto parsed = json::Parse(r->body)) a.body = std::move(*parsed);
    return Err(ServerError(target, a));
  }
  return std::move(r->body);
}

Status ServerApi::ServerError(std::string_view target, const Answer& a) {
  std::string message = StrOf(a.body, "message");
  std::string path(target.substr(0, target.find('?')));
  return Status(
      a.status == 404 ? mlforge::ErrorCode::kResourceDoesNotExist
                      : mlforge::ErrorCode::kInvalidParameterValue,
      fmt::format("{} answered {}{}", path, a.status, message.empty() ? "" : ": " + message));
}

}  // namespace mlforge::app

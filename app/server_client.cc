#include "app/server_client.h"

#include <fmt/core.h>

#include <cstdlib>

#include "http/http.h"

namespace mlforge::app {

Result<data::RemoteOptions> ServerFromFlagOrEnv(const std::string& flag_value,
                                                std::string_view flag_name) {
  std::string uri = flag_value;
  for (const char* env : {"MLFORGE_TRACKING_URI", "MLFLOW_TRACKING_URI"}) {
    if (!uri.empty()) break;
    if (const char* v = std::getenv(env)) uri = v;
  }
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

}  // namespace mlforge::app

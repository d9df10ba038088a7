// What CLI verbs share to talk to an mlforge server over HTTP.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/status.h"
#include "data/data.h"

namespace mlforge::http {
enum class Method;
class Client;
}  // namespace mlforge::http

namespace mlforge::app {

// The server a verb talks to: the flag's URL, else $MLFORGE_TRACKING_URI,
// else $MLFLOW_TRACKING_URI, else `fallback` when not empty. Errors:
// kInvalidParameterValue naming the flag.
Result<data::RemoteOptions> ServerFromFlagOrEnv(const std::string& flag_value,
                                                std::string_view flag_name,
                                                std::string_view fallback = {});

// GET on the server; the parsed body of a 200, else an error with the
// server's message.
Result<json::Value> GetJson(const data::RemoteOptions& server, const std::string& target);
// The same for a request with a JSON body (POST, DELETE, ...).
Result<json::Value> SendJson(const data::RemoteOptions& server, http::Method method,
                             const std::string& target, std::string_view body);

// A member of a JSON object, or 0 / "" when absent or of another type.
int64_t IntOf(const json::Value& v, std::string_view key);
std::string StrOf(const json::Value& v, std::string_view key);

// The JSON text `fill` writes.
std::string BuildJson(const std::function<void(json::Writer&)>& fill);

// One JSON call's outcome: the HTTP status and the parsed body.
struct Answer {
  int status = 0;
  json::Value body;
  bool ok() const { return status == 200; }
  std::string ErrorCode() const { return StrOf(body, "error_code"); }
};

// The server's REST API over one keep-alive connection, for verbs that make
// many calls. Externally synchronized.
class ServerApi {
 public:
  explicit ServerApi(const data::RemoteOptions& server,
                     std::chrono::milliseconds timeout = std::chrono::minutes(10));
  ~ServerApi();

  // "http://host:port"
  const std::string& url() const { return url_; }

  // Any answer the server gives; an error (kTemporarilyUnavailable) only when
  // it cannot be reached.
  Result<Answer> Call(http::Method method, const std::string& target, std::string_view body = {},
                      std::string_view content_type = "application/json",
                      std::vector<std::pair<std::string, std::string>> extra_headers = {});
  // A call that must answer 200; otherwise an error quoting the server.
  Result<json::Value> Must(http::Method method, const std::string& target,
                           std::string_view body = {},
                           std::string_view content_type = "application/json");
  Result<json::Value> Post(const std::string& target, std::string_view body);
  // Raw bytes of a GET that must answer 200.
  Result<std::string> Bytes(const std::string& target);

  // "<path> answered <status>: <the server's message>"; kResourceDoesNotExist
  // for a 404, else kInvalidParameterValue.
  static Status ServerError(std::string_view target, const Answer& a);

 private:
  std::string url_;
  std::unique_ptr<http::Client> client_;
};

}  // namespace mlforge::app

// What CLI verbs share to talk to an mlforge server over HTTP.
#pragma once

#include <string>
#include <string_view>

#include "base/json.h"
#include "base/status.h"
#include "data/data.h"

namespace mlforge::http {
enum class Method;
}

namespace mlforge::app {

// The server a verb talks to: the flag's URL, else $MLFORGE_TRACKING_URI,
// else $MLFLOW_TRACKING_URI. Errors: kInvalidParameterValue naming the flag.
Result<data::RemoteOptions> ServerFromFlagOrEnv(const std::string& flag_value,
                                                std::string_view flag_name);

// GET on the server; the parsed body of a 200, else an error with the
// server's message.
Result<json::Value> GetJson(const data::RemoteOptions& server, const std::string& target);
// The same for a request with a JSON body (POST, DELETE, ...).
Result<json::Value> SendJson(const data::RemoteOptions& server, http::Method method,
                             const std::string& target, std::string_view body);

// A member of a JSON object, or 0 / "" when absent or of another type.
int64_t IntOf(const json::Value& v, std::string_view key);
std::string StrOf(const json::Value& v, std::string_view key);

}  // namespace mlforge::app

// Request/Response helpers and percent-coding (no Beast here).
#include <string>
#include <string_view>

#include "base/json.h"
#include "http/http.h"
#include "http/text.h"

namespace mlforge::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string_view FindHeader(const std::vector<std::pair<std::string, std::string>>& headers,
                            std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (internal::EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

}  // namespace

std::string_view MethodName(Method m) {
  switch (m) {
    case Method::kGet:
      return "GET";
    case Method::kHead:
      return "HEAD";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kPatch:
      return "PATCH";
    case Method::kDelete:
      return "DELETE";
    case Method::kOptions:
      return "OPTIONS";
    case Method::kOther:
      return "OTHER";
  }
  return "OTHER";
}

namespace internal {
Method MethodFromName(std::string_view name) {
  if (name == "GET") return Method::kGet;
  if (name == "POST") return Method::kPost;
  if (name == "HEAD") return Method::kHead;
  if (name == "PUT") return Method::kPut;
  if (name == "PATCH") return Method::kPatch;
  if (name == "DELETE") return Method::kDelete;
  if (name == "OPTIONS") return Method::kOptions;
  return Method::kOther;
}
}  // namespace internal

Result<std::string> PercentDecode(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      int hi = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
      int lo = hi >= 0 ? HexValue(s[i + 2]) : -1;
      if (lo < 0) {
        return Err(InvalidArgument("Malformed percent-escape at offset " + std::to_string(i) +
                                   " in '" + std::string(s.substr(0, 200)) + "'"));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (IsUnreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string_view Request::Header(std::string_view name) const { return FindHeader(headers, name); }

const std::string* Request::QueryParam(std::string_view name) const {
  for (const auto& [k, v] : query_params) {
    if (k == name) return &v;
  }
  return nullptr;
}

std::vector<std::string> Request::QueryParams(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : query_params) {
    if (k == name) out.push_back(v);
  }
  return out;
}

const std::string* Request::PathParam(std::string_view name) const {
  auto it = path_params.find(name);
  return it == path_params.end() ? nullptr : &it->second;
}

void Response::SetHeader(std::string name, std::string value) {
  if (internal::EqualsIgnoreCase(name, "content-type")) {
    content_type = std::move(value);
    return;
  }
  for (auto& [k, v] : headers) {
    if (internal::EqualsIgnoreCase(k, name)) {
      v = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
}

void Response::SetError(int http_status, std::string_view error_code, std::string_view message) {
  status = http_status;
  content_type = "application/json";
  body.clear();
  body_file.clear();
  json::Writer w(&body);
  w.StartObject().Field("error_code", error_code).Field("message", message).EndObject();
}

void Response::SetJson(std::string json, int http_status) {
  status = http_status;
  content_type = "application/json";
  body = std::move(json);
  body_file.clear();
}

std::string_view ClientResponse::Header(std::string_view name) const {
  return FindHeader(headers, name);
}

namespace {
Response DroppedResponse() {
  Response response;
  response.SetError(500, "INTERNAL_ERROR", "The request was dropped without a response");
  return response;
}
}  // namespace

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    if (sink_) Send(DroppedResponse());  // an unsent request is never silently lost
    sink_ = std::move(other.sink_);
  }
  return *this;
}

Responder::~Responder() {
  if (sink_) Send(DroppedResponse());
}

void Responder::Send(Response response) {
  internal::ResponseSink* sink = sink_.get();
  sink->Complete(std::move(response), std::move(sink_));
}

}  // namespace mlforge::http

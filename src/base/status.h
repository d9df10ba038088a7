// Status and Result<T>: the error currency at every subsystem boundary.
//
// A Status is ok, or an error code + message. Codes are MLflow's error codes so
// an API handler can hand a Status straight to the client (see api/).
// Immutable value type; thread-compatible.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace mlforge {

enum class ErrorCode {
  kOk = 0,
  kInvalidParameterValue,   // 400: user input is wrong
  kBadRequest,              // 400: request shape is wrong
  kMalformedRequest,        // 400: body is not parseable
  kResourceAlreadyExists,   // 400 (MLflow semantics)
  kResourceDoesNotExist,    // 404
  kInvalidState,            // 400: e.g. run in a deleted experiment
  kPermissionDenied,        // 403
  kRequestLimitExceeded,    // 429
  kPayloadTooLarge,         // 413
  kNotImplemented,          // 501
  kTemporarilyUnavailable,  // 503
  kInternalError,           // 500: our bug or an unexpected backend failure
};

// MLflow's error_code string, e.g. "INVALID_PARAMETER_VALUE".
std::string_view ErrorCodeName(ErrorCode code);
// HTTP status MLflow uses for the code.
int ErrorCodeHttpStatus(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  // Lets RETURN_IF_ERROR / ASSIGN_OR_RETURN work in functions returning Status.
  Status(std::unexpected<Status> error) : Status(std::move(error).error()) {}  // NOLINT

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string msg) {
  return Status(ErrorCode::kInvalidParameterValue, std::move(msg));
}
inline Status NotFound(std::string msg) {
  return Status(ErrorCode::kResourceDoesNotExist, std::move(msg));
}
inline Status AlreadyExists(std::string msg) {
  return Status(ErrorCode::kResourceAlreadyExists, std::move(msg));
}
inline Status InvalidState(std::string msg) { return Status(ErrorCode::kInvalidState, std::move(msg)); }
inline Status Internal(std::string msg) { return Status(ErrorCode::kInternalError, std::move(msg)); }
inline Status Unavailable(std::string msg) {
  return Status(ErrorCode::kTemporarilyUnavailable, std::move(msg));
}

// Result<T>: a value or an error Status. Shaped like std::expected.
template <typename T>
using Result = std::expected<T, Status>;

inline std::unexpected<Status> Err(Status s) { return std::unexpected<Status>(std::move(s)); }

// The Status of a Result, dropping its value (std::expected::error_or is C++23
// library support that g++ 12 lacks).
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.has_value() ? Status::Ok() : r.error();
}

}  // namespace mlforge

#define MLFORGE_CONCAT_INNER(a, b) a##b
#define MLFORGE_CONCAT(a, b) MLFORGE_CONCAT_INNER(a, b)

// RETURN_IF_ERROR(expr): expr yields a Status; return it from the enclosing
// function (which returns Status or Result<T>) when it is not ok.
#define RETURN_IF_ERROR(expr)                                       \
  do {                                                              \
    ::mlforge::Status mlforge_status_ = (expr);                     \
    if (!mlforge_status_.ok()) return ::mlforge::Err(std::move(mlforge_status_)); \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): expr yields Result<T>; on error return its
// Status, else move the value into lhs (which may be a declaration).
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(MLFORGE_CONCAT(mlforge_result_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)               \
  auto tmp = (expr);                                        \
  if (!tmp.has_value()) return ::mlforge::Err(std::move(tmp).error()); \
  lhs = std::move(*tmp)

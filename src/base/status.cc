#include "base/status.h"

namespace mlforge {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "OK";
    case ErrorCode::kInvalidParameterValue: return "INVALID_PARAMETER_VALUE";
    case ErrorCode::kBadRequest: return "BAD_REQUEST";
    case ErrorCode::kMalformedRequest: return "MALFORMED_REQUEST";
    case ErrorCode::kResourceAlreadyExists: return "RESOURCE_ALREADY_EXISTS";
    case ErrorCode::kResourceDoesNotExist: return "RESOURCE_DOES_NOT_EXIST";
    case ErrorCode::kInvalidState: return "INVALID_STATE";
    case ErrorCode::kPermissionDenied: return "PERMISSION_DENIED";
    case ErrorCode::kRequestLimitExceeded: return "REQUEST_LIMIT_EXCEEDED";
    case ErrorCode::kPayloadTooLarge: return "PAYLOAD_TOO_LARGE";
    case ErrorCode::kNotImplemented: return "NOT_IMPLEMENTED";
    case ErrorCode::kTemporarilyUnavailable: return "TEMPORARILY_UNAVAILABLE";
    case ErrorCode::kInternalError: return "INTERNAL_ERROR";
  }
  return "INTERNAL_ERROR";
}

int ErrorCodeHttpStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return 200;
    case ErrorCode::kInvalidParameterValue:
    case ErrorCode::kBadRequest:
    case ErrorCode::kMalformedRequest:
    case ErrorCode::kResourceAlreadyExists:
    case ErrorCode::kInvalidState: return 400;
    case ErrorCode::kPermissionDenied: return 403;
    case ErrorCode::kResourceDoesNotExist: return 404;
    case ErrorCode::kPayloadTooLarge: return 413;
    case ErrorCode::kRequestLimitExceeded: return 429;
    case ErrorCode::kNotImplemented: return 501;
    case ErrorCode::kTemporarilyUnavailable: return 503;
    case ErrorCode::kInternalError: return 500;
  }
  return 500;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(ErrorCodeName(code_)) + ": " + message_;
}

}  // namespace mlforge

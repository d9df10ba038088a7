#include "base/status.h"

#include <gtest/gtest.h>

namespace mlforge {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Err(InvalidArgument("odd"));
  return x / 2;
}

Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  RETURN_IF_ERROR(Half(x).has_value() ? Status::Ok() : InvalidArgument("not even"));
  return Status::Ok();
}

TEST(Status, CodesMapToMlflowNamesAndHttp) {
  EXPECT_EQ(ErrorCodeName(ErrorCode::kInvalidParameterValue), "INVALID_PARAMETER_VALUE");
  EXPECT_EQ(ErrorCodeHttpStatus(ErrorCode::kResourceDoesNotExist), 404);
  EXPECT_EQ(ErrorCodeHttpStatus(ErrorCode::kResourceAlreadyExists), 400);
  EXPECT_EQ(ErrorCodeHttpStatus(ErrorCode::kPayloadTooLarge), 413);
}

TEST(Status, MacrosPropagate) {
  EXPECT_EQ(*Quarter(8), 2);
  ASSERT_FALSE(Quarter(6).has_value());
  EXPECT_EQ(Quarter(6).error().message(), "odd");
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(3).code(), ErrorCode::kInvalidParameterValue);
}

}  // namespace
}  // namespace mlforge

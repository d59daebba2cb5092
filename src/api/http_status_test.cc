#include "api/http_status.h"

#include <gtest/gtest.h>

namespace facet::api {
namespace {

TEST(HttpStatusTest, MapsEveryDocumentedCode) {
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kFailedPrecondition), 409);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kUnavailable), 503);
}

TEST(HttpStatusTest, EverythingElseIsInternal) {
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kInternal), 500);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kDataLoss), 500);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kUnknown), 500);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kOk), 500);
}

}  // namespace
}  // namespace facet::api

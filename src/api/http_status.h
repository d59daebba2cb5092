// Mapping of Facet's status codes to HTTP, done once, here (see STYLE.md §3).
#pragma once

#include "absl/status/status.h"

namespace facet::api {

// The HTTP status for a failed call: InvalidArgument 400, Unauthenticated
// 401, PermissionDenied 403, NotFound 404, AlreadyExists and
// FailedPrecondition 409, ResourceExhausted 429, Unavailable 503, anything
// else (including OK, which is not an error) 500.
int HttpStatusFromCode(absl::StatusCode code);

}  // namespace facet::api

// The route table of the REST API and the decoding of paths and queries.
// Pure functions, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "api/metrics.h"  // kUnmatchedRoute
#include "ingest/tracking_parser.h"

namespace facet::api {

enum class RouteId {
  kHealthz,
  kMetrics,
  kIngest,
  kPerson,
  kPersonEvents,
  kPersonMerges,
  kUndoMerge,
  kEvent,
  kStats,
  kQuarantine,
  // Tags, segments and memberships (AudienceRoutes).
  kListTags,
  kGetTag,
  kPutTag,
  kDeleteTag,
  kTagMembers,
  kAddTagMembers,
  kRemoveTagMembers,
  kTagChanges,
  kPreviewSegment,
  kSegmentOverlap,
  kListSegments,
  kGetSegment,
  kPutSegment,
  kDeleteSegment,
  kSegmentMembers,
  kSegmentChanges,
  kPersonMemberships,
};

// True for the routes AudienceRoutes serves.
bool IsAudienceRoute(RouteId id);

// Methods of the ingest endpoints (OPTIONS for CORS preflight).
inline constexpr std::string_view kIngestMethods = "POST, OPTIONS";

struct RouteMatch {
  RouteId id = RouteId::kHealthz;
  std::string_view route;           // template, e.g. "/v1/persons/{ns}/{value}"
  std::vector<std::string> params;  // decoded path parameters, in order
  bool method_allowed = false;
  std::string_view allow;                                // methods accepted, for 405's Allow header
  ingest::Endpoint endpoint = ingest::Endpoint::kBatch;  // kIngest only
};

// Matches `raw_path` (percent-encoded, without the query) against the route
// table. nullopt when no route has this path; InvalidArgument when a path
// parameter is not a valid percent-encoding of UTF-8 text. Ingest endpoints
// are labelled by their long form ("/v1/t" -> "/v1/track"). Where several
// routes share a path (GET, PUT and DELETE of /v1/tags/{name}), the one for
// `method` wins; a literal segment beats a parameter for the same method
// (POST /v1/segments/preview), and a parameter route still serves the other
// methods (PUT /v1/segments/preview defines a segment named "preview").
absl::StatusOr<std::optional<RouteMatch>> MatchRoute(std::string_view method, std::string_view raw_path);

// The template of the route `raw_path` belongs to, or kUnmatchedRoute.
std::string_view RouteTemplate(std::string_view raw_path);

// Every route template once (not kUnmatchedRoute), for Metrics.
std::vector<std::string> AllRouteTemplates();

// Decodes %XX escapes ("+" stays "+"). InvalidArgument for a malformed
// escape, a NUL byte, or a result that is not valid UTF-8.
absl::StatusOr<std::string> PercentDecode(std::string_view s);

// True if `s` is well-formed UTF-8 (no overlong forms, surrogates or code
// points past U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Parses "a=1&b=x%20y" into decoded pairs, in order ("+" stays "+", so that
// opaque cursors survive unencoded). InvalidArgument for malformed escapes.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(std::string_view query);

}  // namespace facet::api

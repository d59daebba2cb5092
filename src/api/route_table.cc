#include "api/route_table.h"

#include <algorithm>
#include <cstdint>

namespace facet::api {
namespace {

struct RouteSpec {
  RouteId id;
  std::string_view pattern;
  std::string_view method;
  std::string_view allow;  // every method of the pattern, for 405's Allow header
};

// Literal patterns come before parameter patterns of the same shape.
constexpr RouteSpec kRoutes[] = {
    {RouteId::kHealthz, "/healthz", "GET", "GET"},
    {RouteId::kMetrics, "/metrics", "GET", "GET"},
    {RouteId::kStats, "/v1/stats", "GET", "GET"},
    {RouteId::kQuarantine, "/v1/quarantine", "GET", "GET"},
    {RouteId::kPerson, "/v1/persons/{ns}/{value}", "GET", "GET"},
    {RouteId::kPersonEvents, "/v1/persons/{ns}/{value}/events", "GET", "GET"},
    {RouteId::kPersonMerges, "/v1/persons/{ns}/{value}/merges", "GET", "GET"},
    {RouteId::kPersonMemberships, "/v1/persons/{ns}/{value}/segments", "GET", "GET"},
    {RouteId::kUndoMerge, "/v1/merges/{id}/undo", "POST", "POST"},
    {RouteId::kEvent, "/v1/events/{messageId}", "GET", "GET"},
    {RouteId::kListTags, "/v1/tags", "GET", "GET"},
    {RouteId::kGetTag, "/v1/tags/{name}", "GET", "GET, PUT, DELETE"},
    {RouteId::kPutTag, "/v1/tags/{name}", "PUT", "GET, PUT, DELETE"},
    {RouteId::kDeleteTag, "/v1/tags/{name}", "DELETE", "GET, PUT, DELETE"},
    {RouteId::kTagMembers, "/v1/tags/{name}/members", "GET", "GET, POST, DELETE"},
    {RouteId::kAddTagMembers, "/v1/tags/{name}/members", "POST", "GET, POST, DELETE"},
    {RouteId::kRemoveTagMembers, "/v1/tags/{name}/members", "DELETE", "GET, POST, DELETE"},
    {RouteId::kTagChanges, "/v1/tags/{name}/changes", "GET", "GET"},
    {RouteId::kListSegments, "/v1/segments", "GET", "GET"},
    {RouteId::kPreviewSegment, "/v1/segments/preview", "POST", "POST"},
    {RouteId::kSegmentOverlap, "/v1/segments/overlap", "POST", "POST"},
    {RouteId::kGetSegment, "/v1/segments/{name}", "GET", "GET, PUT, DELETE"},
    {RouteId::kPutSegment, "/v1/segments/{name}", "PUT", "GET, PUT, DELETE"},
    {RouteId::kDeleteSegment, "/v1/segments/{name}", "DELETE", "GET, PUT, DELETE"},
    {RouteId::kSegmentMembers, "/v1/segments/{name}/members", "GET", "GET"},
    {RouteId::kSegmentChanges, "/v1/segments/{name}/changes", "GET", "GET"},
};

// Metric labels of the ingest endpoints; short forms count as their long form.
std::string_view IngestTemplate(ingest::Endpoint e) {
  switch (e) {
    case ingest::Endpoint::kBatch:
      return "/v1/batch";
    case ingest::Endpoint::kIdentify:
      return "/v1/identify";
    case ingest::Endpoint::kTrack:
      return "/v1/track";
    case ingest::Endpoint::kPage:
      return "/v1/page";
    case ingest::Endpoint::kScreen:
      return "/v1/screen";
    case ingest::Endpoint::kGroup:
      return "/v1/group";
    case ingest::Endpoint::kAlias:
      return "/v1/alias";
  }
  return kUnmatchedRoute;
}

constexpr ingest::Endpoint kAllEndpoints[] = {
    ingest::Endpoint::kBatch,  ingest::Endpoint::kIdentify, ingest::Endpoint::kTrack, ingest::Endpoint::kPage,
    ingest::Endpoint::kScreen, ingest::Endpoint::kGroup,    ingest::Endpoint::kAlias};

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return out;
  path.remove_prefix(1);
  for (;;) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// Matches raw segments against a pattern; fills `params` with the raw
// (still encoded) parameter segments.
bool MatchPattern(std::string_view pattern, const std::vector<std::string_view>& segments,
                  std::vector<std::string_view>* params) {
  std::vector<std::string_view> want = SplitPath(pattern);
  if (want.size() != segments.size()) return false;
  params->clear();
  for (size_t i = 0; i < want.size(); ++i) {
    if (!want[i].empty() && want[i].front() == '{') {
      params->push_back(segments[i]);
    } else if (want[i] != segments[i]) {
      return false;
    }
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool IsAudienceRoute(RouteId id) {
  switch (id) {
    case RouteId::kListTags:
    case RouteId::kGetTag:
    case RouteId::kPutTag:
    case RouteId::kDeleteTag:
    case RouteId::kTagMembers:
    case RouteId::kAddTagMembers:
    case RouteId::kRemoveTagMembers:
    case RouteId::kTagChanges:
    case RouteId::kPreviewSegment:
    case RouteId::kSegmentOverlap:
    case RouteId::kListSegments:
    case RouteId::kGetSegment:
    case RouteId::kPutSegment:
    case RouteId::kDeleteSegment:
    case RouteId::kSegmentMembers:
    case RouteId::kSegmentChanges:
    case RouteId::kPersonMemberships:
      return true;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------
// Paths and queries

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

absl::StatusOr<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) {
      return absl::InvalidArgumentError("malformed percent-encoding");
    }
    int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return absl::InvalidArgumentError("malformed percent-encoding");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  if (out.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("NUL byte in path");
  }
  if (!IsValidUtf8(out)) return absl::InvalidArgumentError("path is not valid UTF-8");
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string_view key = part.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    absl::StatusOr<std::string> k = PercentDecode(key);
    if (!k.ok()) return k.status();
    absl::StatusOr<std::string> v = PercentDecode(value);
    if (!v.ok()) return absl::InvalidArgumentError("query parameter " + *k + ": " + std::string(v.status().message()));
    out.emplace_back(std::move(*k), std::move(*v));
  }
  return out;
}

absl::StatusOr<std::optional<RouteMatch>> MatchRoute(std::string_view method, std::string_view raw_path) {
  if (std::optional<ingest::Endpoint> e = ingest::EndpointFromPath(raw_path)) {
    RouteMatch m;
    m.id = RouteId::kIngest;
    m.route = IngestTemplate(*e);
    m.endpoint = *e;
    m.allow = kIngestMethods;
    m.method_allowed = method == "POST" || method == "OPTIONS";
    return std::optional<RouteMatch>(std::move(m));
  }
  std::vector<std::string_view> segments = SplitPath(raw_path);
  std::vector<std::string_view> raw_params;
  const RouteSpec* found = nullptr;
  std::vector<std::string_view> found_params;
  for (const RouteSpec& spec : kRoutes) {
    if (!MatchPattern(spec.pattern, segments, &raw_params)) continue;
    if (found == nullptr || (spec.method == method && found->method != method)) {
      found = &spec;
      found_params = raw_params;
    }
    if (found->method == method) break;
  }
  if (found == nullptr) return std::optional<RouteMatch>();
  RouteMatch m;
  m.id = found->id;
  m.route = found->pattern;
  m.allow = found->allow;
  m.method_allowed = found->method == method;
  for (std::string_view p : found_params) {
    absl::StatusOr<std::string> decoded = PercentDecode(p);
    if (!decoded.ok()) return decoded.status();
    m.params.push_back(std::move(*decoded));
  }
  return std::optional<RouteMatch>(std::move(m));
}

std::string_view RouteTemplate(std::string_view raw_path) {
  if (std::optional<ingest::Endpoint> e = ingest::EndpointFromPath(raw_path)) {
    return IngestTemplate(*e);
  }
  std::vector<std::string_view> segments = SplitPath(raw_path);
  std::vector<std::string_view> params;
  for (const RouteSpec& spec : kRoutes) {
    if (MatchPattern(spec.pattern, segments, &params)) return spec.pattern;
  }
  return kUnmatchedRoute;
}

std::vector<std::string> AllRouteTemplates() {
  std::vector<std::string> out;
  for (const RouteSpec& spec : kRoutes) {
    if (std::find(out.begin(), out.end(), spec.pattern) == out.end()) out.emplace_back(spec.pattern);
  }
  for (ingest::Endpoint e : kAllEndpoints) out.emplace_back(IngestTemplate(e));
  return out;
}

}  // namespace facet::api

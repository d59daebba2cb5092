// AudienceRoutes: the REST routes of the tag system (标签体系) and of saved
// segments (人群包): definitions, manual members, previews, overlaps, member
// exports, membership changes and the memberships of one person. The shapes
// are documented in docs/api.md ("Tags and segments").
//
//   AudienceRoutes audiences(options, services);
//   if (IsAudienceRoute(match.id)) audiences.Handle(match, request, respond);
//
// Reads take the pipeline's read lock. Every change to the catalog runs
// through Pipeline::Execute, and its reply is sent once the change is
// durable. Member exports are checked and their members copied before the
// reply; the body is then streamed (Response::body_source), a page of
// persons at a time. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "api/route_table.h"
#include "api/server.h"

namespace facet::api {

struct Request;
struct Response;

class AudienceRoutes {
 public:
  // Receives the one response of a request, on any thread.
  using Respond = std::function<void(Response)>;

  // `services` must outlive the routes. `options.pii_keys` are the admin
  // keys that may export raw values of PII namespaces.
  AudienceRoutes(const ServerOptions& options, Services services);

  // Serves `request`, matched to `match` (IsAudienceRoute(match.id)); the
  // caller has authorised it as admin. `respond` is called exactly once,
  // before Handle returns or later from the committer's completion.
  void Handle(const RouteMatch& match, const Request& request, const Respond& respond) const;

  struct Counts {
    size_t tags = 0;
    size_t segments = 0;
    size_t bitmap_bytes = 0;  // heap bytes of the membership bitmaps
    uint64_t membership_changes = 0;
  };
  // Read under the pipeline's read lock.
  Counts counts() const;

  // The counts as Prometheus text (# HELP / # TYPE and one sample each).
  std::string MetricsText() const;

 private:
  void PutTag(const std::string& name, const Request& request, const Respond& respond) const;
  void DeleteDefinition(bool segment, const std::string& name, const Respond& respond) const;
  void PutSegment(const std::string& name, const Request& request, const Respond& respond) const;
  void ChangeMembers(const std::string& tag, const Request& request, bool add, const Respond& respond) const;
  Response ListTags() const;
  Response GetDefinition(bool segment, const std::string& name) const;
  Response ListSegments() const;
  Response ExportMembers(bool segment, const std::string& name, const Request& request) const;
  Response Changes(bool segment, const std::string& name, const Request& request) const;
  Response Preview(const Request& request) const;
  Response Overlap(const Request& request) const;
  Response PersonMemberships(const std::string& ns, const std::string& value) const;
  // Whether the request's admin key may read raw PII.
  bool MayReadRawPii(const Request& request) const;

  const std::vector<std::string> pii_keys_;
  Services services_;
};

}  // namespace facet::api

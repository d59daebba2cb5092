// Router: Facet's REST routes, independent of the transport. The server hands
// it one parsed request and a completion callback; the router authorises,
// dispatches and replies, possibly later and from another thread (ingest
// requests are answered when the pipeline acknowledges them).
//
//   Router router(options, services, metrics);
//   router.Handle(std::move(request), [](Response r) { ... write r ... });
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "api/audience_routes.h"
#include "api/auth.h"
#include "api/metrics.h"
#include "api/route_table.h"
#include "api/server.h"
#include "ingest/tracking_parser.h"

namespace facet::api {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // as sent, percent-encoded, without the query
  std::string query;   // after '?', without it; may be empty
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header named `name` (case-insensitive), or "" when absent.
  std::string_view Header(std::string_view name) const;
};

// A response body produced piece by piece, for bodies too large to hold at
// once (member exports). The server calls Next() one call at a time, on any
// of its threads, each time the previous piece has been sent, until it
// returns false or an error; then it destroys the source. Next() must not
// wait on the network. The source owns (or shares) everything it reads: the
// connection may end at any point, and the source with it.
class BodySource {
 public:
  virtual ~BodySource() = default;
  // Appends the next piece of the body to `*out` (which may hold earlier
  // pieces; the piece may be empty) and returns whether more pieces follow.
  // An error ends the body early: the status line has been sent, so the
  // client sees a truncated transfer.
  virtual absl::StatusOr<bool> Next(std::string* out) = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // When set, the body is `body` followed by the pieces `body_source`
  // produces, sent as they come (chunked transfer encoding) to HTTP/1.1
  // clients and collected into one body for HTTP/1.0 clients.
  std::unique_ptr<BodySource> body_source;
  std::vector<std::pair<std::string, std::string>> headers;
  // Route template for metrics, e.g. "/v1/persons/{ns}/{value}".
  std::string route{kUnmatchedRoute};
};

// Receives the response. Called exactly once per request, on any thread.
using Reply = std::function<void(Response)>;

class Router {
 public:
  // `services` and `metrics` must outlive the router.
  Router(const ServerOptions& options, Services services, Metrics& metrics);

  // Serves `request`; `reply` receives the response exactly once, either
  // before Handle returns or later from another thread. Never throws: an
  // exception inside a handler becomes a 500 response.
  void Handle(Request request, Reply reply);

 private:
  class Responder;
  void Dispatch(const RouteMatch& match, Request& request, const Responder& respond);
  void HandleIngest(ingest::Endpoint endpoint, Request& request, const Responder& respond);
  Response Healthz() const;
  Response MetricsText() const;
  Response Person(std::string_view ns, std::string_view value) const;
  Response PersonEvents(std::string_view ns, std::string_view value, const Request& request) const;
  Response PersonMerges(std::string_view ns, std::string_view value) const;
  void UndoMerge(std::string_view id, const Responder& respond);
  Response Event(std::string_view message_id) const;
  Response Stats() const;
  Response Quarantine(const Request& request) const;
  // The identifier named by a path, normalised (InvalidArgument if invalid).
  absl::StatusOr<identity::Identifier> ParseIdentifier(std::string_view ns, std::string_view value) const;
  // The current root of `atom`, kNoPerson if unknown; the caller holds the
  // read lock.
  PersonId CurrentRoot(PersonId atom) const;
  static Response PersonLookupError(const absl::Status& s);

  const size_t max_body_bytes_;
  const ingest::ParseOptions parse_options_;
  const KeyRing keys_;
  // The messageId scope of every configured key (Pipeline::MessageScope).
  std::vector<std::string> message_scopes_;
  Services services_;
  Metrics& metrics_;
  const AudienceRoutes audiences_;
};

}  // namespace facet::api

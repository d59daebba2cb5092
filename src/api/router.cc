#include "api/router.h"

#include <atomic>
#include <charconv>
#include <exception>
#include <memory>
#include <mutex>

#include <nlohmann/json.hpp>

#include "api/gzip.h"
#include "api/http_status.h"
#include "api/internal/header_text.h"
#include "api/json_render.h"
#include "base/log.h"
#include "identity/identifier.h"
#include "profiles/timeline.h"

namespace facet::api {

using nlohmann::json;

namespace {

constexpr size_t kDefaultLimit = 100;
constexpr size_t kMaxLimit = 1000;

using internal::EqualsIgnoreCase;
using internal::TrimSpaces;

void LogError(std::string_view what, std::string_view route) { log::Error("api: ", what, " (route ", route, ")"); }

std::string_view Message(const absl::Status& s) { return std::string_view(s.message().data(), s.message().size()); }

Response JsonResponse(int status, const json& body) {
  Response r;
  r.status = status;
  r.body = Dump(body);
  return r;
}

Response ErrorResponse(int status, std::string_view error, std::string_view field = {}, int index = -1) {
  return JsonResponse(status, ErrorJson(error, field, index));
}

Response StatusResponse(const absl::Status& s, std::string_view field = {}) {
  return ErrorResponse(HttpStatusFromCode(s.code()), Message(s), field);
}

// Parses ?limit=: 1..kMaxLimit, default kDefaultLimit.
absl::StatusOr<size_t> ParseLimit(const std::vector<std::pair<std::string, std::string>>& query) {
  size_t limit = kDefaultLimit;
  for (const auto& [key, value] : query) {
    if (key != "limit") continue;
    size_t v = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || end != value.data() + value.size() || v < 1 || v > kMaxLimit) {
      return absl::InvalidArgumentError("limit must be an integer from 1 to " + std::to_string(kMaxLimit));
    }
    limit = v;
  }
  return limit;
}

std::string_view QueryValue(const std::vector<std::pair<std::string, std::string>>& query, std::string_view key) {
  for (const auto& [k, v] : query) {
    if (k == key) return v;
  }
  return {};
}

void AddCors(Response* r) { r->headers.emplace_back("Access-Control-Allow-Origin", "*"); }

}  // namespace

std::string_view Request::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

// ---------------------------------------------------------------------------
// Router

// A copyable handle on the request's Reply that sends at most one response
// and stamps it with the route template. If every copy is dropped without a
// response (e.g. a completion callback that was never run), it answers 503
// so that the connection is not left waiting.
class Router::Responder {
 public:
  explicit Responder(Reply reply) : state_(std::make_shared<State>(std::move(reply))) {}

  void operator()(Response r) const { state_->Send(std::move(r)); }
  // Must be called before the first response.
  void set_route(std::string_view route) const { state_->route = std::string(route); }
  const std::string& route() const { return state_->route; }

 private:
  struct State {
    explicit State(Reply r) : reply(std::move(r)) {}
    ~State() {
      if (sent.load()) return;
      try {
        Send(ErrorResponse(503, "request was dropped before it completed"));
      } catch (const std::exception& e) {
        LogError(e.what(), route);
      }
    }
    void Send(Response r) {
      if (sent.exchange(true)) return;
      r.route = route;
      reply(std::move(r));
    }
    Reply reply;
    std::string route{kUnmatchedRoute};
    std::atomic<bool> sent{false};
  };
  std::shared_ptr<State> state_;
};

namespace {

// Runs `build` and sends its response; an exception becomes a 500.
template <typename Respond, typename Build>
void SendGuarded(const Respond& respond, std::string_view route, Build&& build) {
  try {
    respond(build());
  } catch (const std::exception& e) {
    LogError(e.what(), route);
    respond(ErrorResponse(500, "internal error"));
  }
}

Response IngestAckResponse(const ingest::IngestAck& ack, bool no_valid_event) {
  Response r;
  if (!ack.status.ok()) {
    r = ErrorResponse(503, "events were not stored: " + std::string(Message(ack.status)));
  } else {
    const std::vector<ingest::InputError>& rejections = ack.quarantined;
    if (no_valid_event && !rejections.empty()) {
      json j = ErrorJson(rejections.front());
      json errors = json::array();
      for (const ingest::InputError& e : rejections) errors.push_back(ErrorJson(e));
      // As in a 200 reply, `quarantined` lists the events kept in the quarantine.
      j["quarantined"] = errors;
      j["errors"] = std::move(errors);
      r = JsonResponse(400, j);
    } else if (rejections.empty() && ack.warnings.empty()) {
      // The common reply, written without a JSON document: it is built on
      // the pipeline's committer thread, once per request.
      r.status = 200;
      r.body = "{\"accepted\":" + std::to_string(ack.accepted) + ",\"duplicates\":" + std::to_string(ack.duplicates) +
               ",\"quarantined\":[],\"success\":true}";
    } else {
      json quarantined = json::array();
      for (const ingest::InputError& e : rejections) quarantined.push_back(ErrorJson(e));
      json j{{"success", true},
             {"accepted", ack.accepted},
             {"duplicates", ack.duplicates},
             {"quarantined", std::move(quarantined)}};
      if (!ack.warnings.empty()) j["warnings"] = ack.warnings;
      r = JsonResponse(200, j);
    }
  }
  AddCors(&r);
  return r;
}

}  // namespace

Router::Router(const ServerOptions& options, Services services, Metrics& metrics)
    : max_body_bytes_(options.max_body_bytes),
      parse_options_(options.parse),
      keys_(options.write_keys, options.admin_keys, options.server_write_keys),
      services_(services),
      metrics_(metrics),
      audiences_(options, services) {
  for (const auto* keys : {&options.server_write_keys, &options.write_keys, &options.admin_keys}) {
    for (const std::string& k : *keys) {
      if (!k.empty()) message_scopes_.push_back(services_.pipeline.MessageScope(k));
    }
  }
}

void Router::Handle(Request request, Reply reply) {
  Responder respond(std::move(reply));
  try {
    absl::StatusOr<std::optional<RouteMatch>> match = MatchRoute(request.method, request.path);
    if (!match.ok()) {
      respond.set_route(RouteTemplate(request.path));
      respond(ErrorResponse(400, Message(match.status()), "path"));
      return;
    }
    if (!match->has_value()) {
      respond(ErrorResponse(404, "no route for " + request.method + " " + request.path));
      return;
    }
    const RouteMatch& m = **match;
    respond.set_route(m.route);
    if (!m.method_allowed) {
      Response r = ErrorResponse(405, "method " + request.method + " not allowed");
      r.headers.emplace_back("Allow", std::string(m.allow));
      if (m.id == RouteId::kIngest) AddCors(&r);
      respond(std::move(r));
      return;
    }
    Dispatch(m, request, respond);
  } catch (const std::exception& e) {
    LogError(e.what(), respond.route());
    respond(ErrorResponse(500, "internal error"));
  } catch (...) {
    LogError("unknown exception", respond.route());
    respond(ErrorResponse(500, "internal error"));
  }
}

void Router::Dispatch(const RouteMatch& m, Request& request, const Responder& respond) {
  if (m.id == RouteId::kHealthz) {
    respond(Healthz());
    return;
  }
  if (m.id == RouteId::kIngest) {
    HandleIngest(m.endpoint, request, respond);
    return;
  }
  absl::Status auth = AuthorizeAdmin(keys_, request.Header("Authorization"));
  if (!auth.ok()) {
    bool unauthenticated = auth.code() == absl::StatusCode::kUnauthenticated;
    Response r = StatusResponse(auth, unauthenticated ? "Authorization" : "");
    if (unauthenticated) r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"facet\"");
    respond(std::move(r));
    return;
  }
  if (IsAudienceRoute(m.id)) {
    audiences_.Handle(m, request, respond);
    return;
  }
  switch (m.id) {
    case RouteId::kMetrics:
      respond(MetricsText());
      return;
    case RouteId::kPerson:
      respond(Person(m.params[0], m.params[1]));
      return;
    case RouteId::kPersonEvents:
      respond(PersonEvents(m.params[0], m.params[1], request));
      return;
    case RouteId::kPersonMerges:
      respond(PersonMerges(m.params[0], m.params[1]));
      return;
    case RouteId::kUndoMerge:
      UndoMerge(m.params[0], respond);
      return;
    case RouteId::kEvent:
      respond(Event(m.params[0]));
      return;
    case RouteId::kStats:
      respond(Stats());
      return;
    case RouteId::kQuarantine:
      respond(Quarantine(request));
      return;
    default:
      break;
  }
  respond(ErrorResponse(500, "unhandled route"));
}

void Router::HandleIngest(ingest::Endpoint endpoint, Request& request, const Responder& respond) {
  auto reply = [&respond](Response r) {
    AddCors(&r);
    respond(std::move(r));
  };
  if (request.method == "OPTIONS") {
    Response r;
    r.status = 204;
    r.content_type.clear();
    r.headers.emplace_back("Access-Control-Allow-Methods", std::string(kIngestMethods));
    r.headers.emplace_back("Access-Control-Allow-Headers", "Authorization, Content-Type, Content-Encoding");
    r.headers.emplace_back("Access-Control-Max-Age", "86400");
    reply(std::move(r));
    return;
  }

  // With an Authorization header, the key is checked before the body is
  // decompressed or parsed; without one, the body's writeKey is.
  const std::string_view authorization = request.Header("Authorization");
  std::optional<IngestSource> source;
  auto unauthorized = [&reply] {
    Response r = ErrorResponse(401, "unknown write key", "writeKey");
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"facet\"");
    reply(std::move(r));
  };
  if (!authorization.empty()) {
    absl::StatusOr<IngestSource> s = AuthorizeIngest(keys_, authorization, "");
    if (!s.ok()) return unauthorized();
    source = std::move(*s);
  }

  std::string body = std::move(request.body);
  std::string_view encoding = TrimSpaces(request.Header("Content-Encoding"));
  bool compressed = EqualsIgnoreCase(encoding, "gzip") || EqualsIgnoreCase(encoding, "x-gzip") ||
                    EqualsIgnoreCase(encoding, "deflate");
  if (!compressed && !encoding.empty() && !EqualsIgnoreCase(encoding, "identity")) {
    reply(ErrorResponse(415, "unsupported Content-Encoding " + std::string(encoding), "Content-Encoding"));
    return;
  }
  if (compressed || LooksGzipped(body)) {
    absl::StatusOr<std::string> inflated = Decompress(body, max_body_bytes_);
    if (!inflated.ok()) {
      bool too_large = inflated.status().code() == absl::StatusCode::kOutOfRange;
      reply(ErrorResponse(too_large ? 413 : 400, Message(inflated.status())));
      return;
    }
    body = std::move(*inflated);
  }

  ingest::RequestParse parse = ingest::ParseRequest(endpoint, body, services_.clock.NowMs(), parse_options_);
  if (!source) {
    absl::StatusOr<IngestSource> s = AuthorizeIngest(keys_, "", parse.write_key);
    if (!s.ok()) return unauthorized();
    source = std::move(*s);
  }
  parse.source_trust = source->trust;
  parse.source_key = std::move(source->key);
  if (parse.fatal) {
    reply(JsonResponse(parse.too_large ? 413 : 400, ErrorJson(*parse.fatal)));
    return;
  }
  if (parse.events.empty() && parse.rejected.empty()) {
    reply(IngestAckResponse(ingest::IngestAck{}, false));
    return;
  }
  bool no_valid_event = parse.events.empty();
  Responder done = respond;
  services_.pipeline.Submit(std::move(parse), [done, no_valid_event](ingest::IngestAck ack) {
    SendGuarded(done, done.route(), [&] { return IngestAckResponse(ack, no_valid_event); });
  });
}

Response Router::Healthz() const {
  // healthy() is lock-free; the kept error is read only once it is needed.
  if (!services_.pipeline.healthy()) {
    const absl::Status failed = services_.pipeline.background_error();
    return JsonResponse(503, json{{"status", "failed"}, {"error", Message(failed)}});
  }
  return JsonResponse(200, json{{"status", "ok"}});
}

Response Router::MetricsText() const {
  const ingest::PipelineCounters& c = services_.pipeline.counters();
  PipelineSnapshot s;
  s.events_accepted = c.events_accepted.load();
  s.events_rejected = c.events_rejected.load();
  s.events_deduplicated = c.events_deduplicated.load();
  s.group_commits = c.group_commits.load();
  s.persons = c.persons.load();
  s.identities = c.identities.load();
  s.merges = c.merges.load();
  s.merge_refusals = c.merge_refusals.load();
  s.events_stored = c.events_total.load();
  s.trait_paths_indexed = c.trait_paths_indexed.load();
  s.trait_paths_over_limit = c.trait_paths_over_limit.load();
  s.trait_paths_too_deep = c.trait_paths_too_deep.load();
  s.healthy = services_.pipeline.healthy();
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics_.Render(s);
  r.body += audiences_.MetricsText();
  return r;
}

absl::StatusOr<identity::Identifier> Router::ParseIdentifier(std::string_view ns, std::string_view value) const {
  if (ns.empty()) return absl::InvalidArgumentError("empty namespace");
  absl::StatusOr<std::string> normalized = identity::Normalize(ns, value, services_.graph.options());
  if (!normalized.ok()) return normalized.status();
  return identity::Identifier{std::string(ns), std::move(*normalized)};
}

Response Router::Person(std::string_view ns, std::string_view value) const {
  absl::StatusOr<identity::Identifier> id = ParseIdentifier(ns, value);
  if (!id.ok()) return ErrorResponse(400, Message(id.status()), ns.empty() ? "ns" : "value");
  json j;
  {
    auto lock = services_.pipeline.LockForRead();
    absl::StatusOr<PersonId> root = services_.graph.Find(*id);
    if (!root.ok()) return PersonLookupError(root.status());
    j = PersonJson(services_.graph, services_.profiles.View(*root), *root);
  }
  return JsonResponse(200, j);
}

Response Router::PersonEvents(std::string_view ns, std::string_view value, const Request& request) const {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> query = ParseQuery(request.query);
  if (!query.ok()) return ErrorResponse(400, Message(query.status()), "query");
  absl::StatusOr<size_t> limit = ParseLimit(*query);
  if (!limit.ok()) return ErrorResponse(400, Message(limit.status()), "limit");
  absl::StatusOr<identity::Identifier> id = ParseIdentifier(ns, value);
  if (!id.ok()) return ErrorResponse(400, Message(id.status()), ns.empty() ? "ns" : "value");

  std::vector<PersonId> members;
  {
    auto lock = services_.pipeline.LockForRead();
    absl::StatusOr<PersonId> root = services_.graph.Find(*id);
    if (!root.ok()) return PersonLookupError(root.status());
    members = services_.graph.Members(*root);
  }
  absl::StatusOr<profiles::TimelinePage> page =
      profiles::ListEvents(services_.kv, members, *limit, QueryValue(*query, "cursor"));
  if (!page.ok()) {
    if (page.status().code() == absl::StatusCode::kInvalidArgument) {
      return ErrorResponse(400, Message(page.status()), "cursor");
    }
    return StatusResponse(page.status());
  }
  std::vector<PersonId> roots;
  roots.reserve(page->events.size());
  {
    auto lock = services_.pipeline.LockForRead();
    for (const profiles::Event& e : page->events) roots.push_back(CurrentRoot(e.person));
  }
  json events = json::array();
  for (size_t i = 0; i < page->events.size(); ++i) {
    events.push_back(EventJson(page->events[i], roots[i]));
  }
  return JsonResponse(
      200, json{{"events", std::move(events)}, {"next", page->next.empty() ? json(nullptr) : json(page->next)}});
}

Response Router::PersonMerges(std::string_view ns, std::string_view value) const {
  absl::StatusOr<identity::Identifier> id = ParseIdentifier(ns, value);
  if (!id.ok()) return ErrorResponse(400, Message(id.status()), ns.empty() ? "ns" : "value");
  json merges = json::array();
  {
    auto lock = services_.pipeline.LockForRead();
    absl::StatusOr<PersonId> root = services_.graph.Find(*id);
    if (!root.ok()) return PersonLookupError(root.status());
    for (const identity::MergeRecord& m : services_.graph.MergesOf(*root)) {
      merges.push_back(MergeJson(m));
    }
  }
  return JsonResponse(200, json{{"merges", std::move(merges)}});
}

void Router::UndoMerge(std::string_view id_text, const Responder& respond) {
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  if (ec != std::errc() || end != id_text.data() + id_text.size()) {
    respond(ErrorResponse(400, "merge id must be a non-negative integer", "id"));
    return;
  }
  Responder done = respond;
  services_.pipeline.UndoMerge(id, [done, id](absl::StatusOr<identity::UndoResult> result) {
    SendGuarded(done, done.route(), [&] {
      if (!result.ok()) return StatusResponse(result.status());
      return JsonResponse(200,
                          json{{"undone", id}, {"survivor", result->survivor_root}, {"restored", result->restored}});
    });
  });
}

Response Router::Event(std::string_view message_id) const {
  // The id is looked up in every key's scope (first found), then as stored
  // before scoping.
  absl::StatusOr<profiles::MessageIdEntry> entry = absl::NotFoundError("event not found");
  for (const std::string& scope : message_scopes_) {
    entry = profiles::LookupMessageKey(services_.kv, profiles::MessageIdKey(scope, message_id));
    if (!absl::IsNotFound(entry.status())) break;
  }
  if (absl::IsNotFound(entry.status()) && services_.pipeline.has_unscoped_message_ids()) {
    entry = profiles::LookupMessageKey(services_.kv, message_id);
  }
  if (!entry.ok()) {
    if (absl::IsNotFound(entry.status())) return ErrorResponse(404, "event not found");
    return StatusResponse(entry.status());
  }
  absl::StatusOr<profiles::Event> event = profiles::ReadEvent(services_.kv, entry->seq);
  if (!event.ok()) {
    if (absl::IsNotFound(event.status())) return ErrorResponse(404, "event not found");
    return StatusResponse(event.status());
  }
  PersonId root;
  {
    auto lock = services_.pipeline.LockForRead();
    root = CurrentRoot(event->person);
  }
  return JsonResponse(200, EventJson(*event, root));
}

Response Router::Stats() const {
  const ingest::PipelineCounters& c = services_.pipeline.counters();
  const AudienceRoutes::Counts a = audiences_.counts();
  return JsonResponse(200, json{{"events", c.events_total.load()},
                                {"persons", c.persons.load()},
                                {"identities", c.identities.load()},
                                {"merges", c.merges.load()},
                                {"merge_refusals", c.merge_refusals.load()},
                                {"accepted", c.events_accepted.load()},
                                {"rejected", c.events_rejected.load()},
                                {"deduplicated", c.events_deduplicated.load()},
                                {"tags", a.tags},
                                {"segments", a.segments},
                                {"audience_bitmap_bytes", a.bitmap_bytes}});
}

Response Router::Quarantine(const Request& request) const {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> query = ParseQuery(request.query);
  if (!query.ok()) return ErrorResponse(400, Message(query.status()), "query");
  absl::StatusOr<size_t> limit = ParseLimit(*query);
  if (!limit.ok()) return ErrorResponse(400, Message(limit.status()), "limit");
  absl::StatusOr<std::vector<ingest::QuarantineEntry>> entries = services_.pipeline.ListQuarantine(*limit);
  if (!entries.ok()) return StatusResponse(entries.status());
  json out = json::array();
  for (const ingest::QuarantineEntry& q : *entries) out.push_back(QuarantineJson(q));
  return JsonResponse(200, json{{"quarantined", std::move(out)}});
}

PersonId Router::CurrentRoot(PersonId atom) const {
  if (atom == kNoPerson || !services_.graph.Exists(atom)) return kNoPerson;
  return services_.graph.Root(atom);
}

Response Router::PersonLookupError(const absl::Status& s) {
  if (absl::IsNotFound(s)) return ErrorResponse(404, "person not found");
  if (absl::IsInvalidArgument(s)) return ErrorResponse(400, Message(s), "ns");
  return StatusResponse(s);
}

}  // namespace facet::api

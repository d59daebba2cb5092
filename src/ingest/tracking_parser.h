// Parser for the Segment HTTP Tracking API: turns a request body into
// validated, normalised events and per-event rejections.
//
//   ParseOptions options;
//   RequestParse r = ParseRequest(Endpoint::kBatch, body, now, options);
//   if (r.fatal) -> 400/413 with r.fatal
//   else r.events go to the pipeline, r.rejected to the quarantine.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/types.h"
#include "identity/identifier.h"
#include "identity/identity_graph.h"
#include "profiles/event.h"

namespace facet::ingest {

enum class Endpoint { kBatch, kIdentify, kTrack, kPage, kScreen, kGroup, kAlias };

// Maps a path ("/v1/batch", "/v1/b", "/v1/track", "/v1/t", ...) to its
// endpoint, ignoring a trailing "/" and a query string; nullopt for other
// paths.
std::optional<Endpoint> EndpointFromPath(std::string_view path);

// An identifier taken from a configured place in the event, e.g.
// {"device_id", "context.device.id"} or {"wechat_openid", "traits.wechat_openid"}.
// Paths are dotted; the first segment is a top-level field of the message
// ("traits", "context", "properties"); "traits.x" also matches
// "context.traits.x", and "context.x" the request-level context. The value
// must be a string or a number; empty strings are ignored.
struct IdentifierSource {
  std::string ns;
  std::string path;
};

struct ParseOptions {
  size_t max_event_bytes = 32 * 1024;
  size_t max_batch_bytes = 500 * 1024;
  // Built-in sources are always used: userId -> user_id, anonymousId ->
  // anonymous_id, traits.email / context.traits.email -> email,
  // traits.phone / context.traits.phone -> phone, context.device.id ->
  // device_id. These are added to them; by default the WeChat ids
  // (traits.wechat_openid, traits.wechat_unionid, also under context.traits).
  std::vector<IdentifierSource> identifier_sources = {{"wechat_openid", "traits.wechat_openid"},
                                                      {"wechat_unionid", "traits.wechat_unionid"}};
  identity::IdentityOptions identity;  // normalisation of identifier values
  // Event times (after clock-skew correction) later than receivedAt plus
  // this are stored as receivedAt plus this, with a warning; earlier than
  // min_timestamp_ms (2000-01-01) they are refused.
  TimeMs max_future_skew_ms = 24LL * 3600 * 1000;
  TimeMs min_timestamp_ms = 946684800000;
  // Largest |revenue| (or |total|) accepted: larger amounts are refused, so
  // that no sum of them overflows.
  double max_revenue = 1e12;
};

// Why one input was refused. `index` is the position in the batch (0 for
// single-event endpoints, -1 for the request as a whole).
struct InputError {
  std::string error;
  std::string field;  // dotted path, e.g. "batch[3].event", "userId"; may be empty
  int index = -1;
};

struct ParsedEvent {
  profiles::Event event;  // seq and person unset
  // Identifiers, most trusted first, without duplicates: user_id; for alias,
  // `previousId` (matched as an anonymous_id, since Segment aliases usually
  // link an anonymous visitor to a user id); anonymous_id; email; phone;
  // device_id; then ParseOptions::identifier_sources in their order.
  // Normalised; an invalid value (e.g. a malformed email trait) is left out
  // and reported in `warnings`.
  std::vector<identity::Identifier> identifiers;
  std::vector<std::string> warnings;
  int index = 0;          // position in the batch (0 for single-event endpoints)
  bool in_batch = false;  // errors then name fields "batch[<index>].<field>"
};

struct RequestParse {
  // Set when the request as a whole is refused (malformed JSON, not an
  // object, batch not an array, body over max_batch_bytes): nothing is stored.
  std::optional<InputError> fatal;
  bool too_large = false;  // fatal because of size (HTTP 413)
  std::vector<ParsedEvent> events;
  std::vector<InputError> rejected;       // invalid events, by index
  std::vector<std::string> rejected_raw;  // their JSON text (truncated to 4 KiB), same order
  std::string write_key;                  // "writeKey" from the body, if any
  // Who sent it, once authenticated (set by the caller): how far its
  // identifiers are trusted, and the key that scopes its messageIds.
  identity::SourceTrust source_trust = identity::SourceTrust::kServer;
  std::string source_key;
};

// Parses and validates one request body. `received_at` is the server time.
// Never throws. Thread-safe; each calling thread keeps its parse buffers
// (sized by the largest body up to 1 MiB it has seen) for reuse.
//
// Body: for kBatch an object with a "batch" array (and optional request-level
// "writeKey", "sentAt", "context"), or a bare array of messages; for the
// other endpoints the message itself, whose `type` is implied by the
// endpoint ("type", if present, must match it).
//
// Validation per event, errors reported in this order: must be an object of
// at most max_event_bytes (compact JSON); `type` (batch items) one of
// identify, track, page, screen, group, alias; `messageId` when present a
// non-empty string of at most 256 bytes (a random UUID v4 when missing);
// `userId` or `anonymousId` present (string or number, non-empty); track
// needs a non-empty string `event`; page/screen `name` must be a string when
// present; alias needs `previousId` and `userId`; group needs `groupId`;
// `properties`, `traits` and `context` must be objects when present;
// `timestamp`, `originalTimestamp` and `sentAt` must be ISO-8601 strings; and
// the event must keep a valid user_id or anonymous_id after normalisation
// (alias: a valid user_id). A JSON null counts as absent everywhere. Errors
// name the field as "userId" for single endpoints and "batch[3].userId" for
// batch items (with InputError::index 3).
//
// Timestamps follow Segment: an explicit `timestamp` is used as is;
// otherwise with `originalTimestamp` and `sentAt` (the event's, else the
// batch's) the time is receivedAt - (sentAt - originalTimestamp); otherwise
// `originalTimestamp`; otherwise receivedAt. The result is then bounded:
// later than receivedAt + max_future_skew_ms is clamped to it (a warning
// says so); before min_timestamp_ms refuses the event.
//
// Filling the Event: a request-level `context` is merged under each event's
// context (shallow: the event's keys win). Event::traits holds identify's
// `traits` followed by the (merged) `context.traits` keys identify does not
// set, each key once. A group's `traits` describe the group, not the person:
// they become the event's properties when it has none. page takes
// `properties.name` when there is no top-level `name`. Numbers used as ids
// become their decimal text ("42", not "42.0").
RequestParse ParseRequest(Endpoint endpoint, std::string_view body, TimeMs received_at, const ParseOptions& options);

}  // namespace facet::ingest

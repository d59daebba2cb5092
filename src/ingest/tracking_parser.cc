#include "ingest/tracking_parser.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <exception>
#include <sstream>
#include <string>
#include <utility>

#include "base/json_string.h"
#include "base/time_format.h"
#include "ingest/internal/json_text.h"
#include "ingest/internal/message_id.h"
#include "ingest/internal/trait_list.h"

namespace facet::ingest {
namespace {

using profiles::EventType;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

constexpr size_t kMaxMessageIdBytes = 256;
constexpr size_t kMaxRawBytes = 4096;
// User text quoted in an error message is cut to this length.
constexpr size_t kMaxQuotedBytes = 64;
// Bodies above this size get a parser and buffer of their own, so that one
// unusual request does not pin its memory in a thread for good.
constexpr size_t kMaxCachedBodyBytes = 1 << 20;

// The top-level message fields the parser reads.
enum Field : uint8_t {
  kType,
  kUserId,
  kAnonymousId,
  kEventField,
  kName,
  kPreviousId,
  kGroupId,
  kProperties,
  kTraits,
  kContext,
  kMessageId,
  kTimestamp,
  kOriginalTimestamp,
  kSentAt,
  kFieldCount
};

constexpr std::array<std::string_view, kFieldCount> kFieldKeys = {
    "type",       "userId", "anonymousId", "event",     "name",      "previousId",        "groupId",
    "properties", "traits", "context",     "messageId", "timestamp", "originalTimestamp", "sentAt"};

int FieldOf(std::string_view key) {
  for (int i = 0; i < kFieldCount; ++i) {
    if (kFieldKeys[i] == key) return i;
  }
  return -1;
}

struct Rejection {
  std::string error;
  std::string field;  // relative to the message; empty for the message itself
};

std::string Quote(std::string_view s) {
  std::string out = "\"";
  out.append(internal::TruncateUtf8(s, kMaxQuotedBytes));
  if (s.size() > kMaxQuotedBytes) out.append("...");
  out.push_back('"');
  return out;
}

struct IdentifierPath {
  std::string_view ns;
  std::string_view path;
  std::vector<std::string_view> segments;
};

// State shared by every message of one request.
struct Scope {
  Scope(const ParseOptions& o, TimeMs now) : options(o), received_at(now) {}

  const ParseOptions& options;
  TimeMs received_at;
  std::optional<TimeMs> batch_sent_at;
  std::optional<object> batch_context;
  std::string batch_context_text;
  // (key, "\"key\":value") for each member of the batch context.
  std::vector<std::pair<std::string_view, std::string>> batch_context_members;
  std::vector<IdentifierPath> identifier_paths;
  std::string buf;  // compact text of the message being parsed
};

// One message's fields, and the compact text of each in Scope::buf. A field
// whose value is null counts as absent; of repeated keys the last wins, as
// in JSON.parse.
struct Message {
  object obj;
  std::array<element, kFieldCount> value;
  std::array<bool, kFieldCount> present{};
  std::array<std::pair<size_t, size_t>, kFieldCount> span{};  // [begin, end) in buf

  std::string_view Text(const std::string& buf, Field f) const {
    return std::string_view(buf).substr(span[f].first, span[f].second - span[f].first);
  }
};

// Writes the compact text of `obj` to `buf` and records the known fields.
void ReadMessage(object obj, std::string& buf, Message& m) {
  m.obj = obj;
  buf.clear();
  buf.push_back('{');
  bool first = true;
  for (const auto member : obj) {
    if (!first) buf.push_back(',');
    first = false;
    AppendJsonString(&buf, member.key);
    buf.push_back(':');
    const size_t begin = buf.size();
    internal::AppendJson(member.value, buf);
    const int f = FieldOf(member.key);
    if (f >= 0) {
      m.present[f] = member.value.type() != element_type::NULL_VALUE;
      m.value[f] = member.value;
      m.span[f] = {begin, buf.size()};
    }
  }
  buf.push_back('}');
}

enum class IdState { kAbsent, kPresent, kWrongType };

// Text of an id-like value: a string (empty = absent) or a number in decimal.
IdState IdText(element e, std::string& out) {
  switch (e.type()) {
    case element_type::NULL_VALUE:
      return IdState::kAbsent;
    case element_type::STRING: {
      const std::string_view s = e.get_string().value_unsafe();
      if (s.empty()) return IdState::kAbsent;
      out.assign(s);
      return IdState::kPresent;
    }
    default:
      if (auto text = internal::NumberText(e)) {
        out = std::move(*text);
        return IdState::kPresent;
      }
      return IdState::kWrongType;
  }
}

IdState FieldIdText(const Message& m, Field f, std::string& out) {
  if (!m.present[f]) return IdState::kAbsent;
  return IdText(m.value[f], out);
}

std::optional<Rejection> ReadTime(const Message& m, Field f, std::optional<TimeMs>& out) {
  if (!m.present[f]) return std::nullopt;
  const std::string name(kFieldKeys[f]);
  std::string_view text;
  if (m.value[f].get_string().get(text) != simdjson::SUCCESS) {
    return Rejection{name + " must be an ISO-8601 string", name};
  }
  auto t = ParseIso8601(text);
  if (!t.ok()) {
    return Rejection{name + " is not a valid ISO-8601 time: " + std::string(t.status().message()), name};
  }
  out = *t;
  return std::nullopt;
}

// A number, or a string holding a finite decimal number.
std::optional<double> Amount(element e) {
  if (auto d = internal::NumberValue(e)) return d;
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS || s.empty()) return std::nullopt;
  double d = 0;
  const auto res = std::from_chars(s.data(), s.data() + s.size(), d);
  if (res.ec != std::errc() || res.ptr != s.data() + s.size() || !std::isfinite(d)) {
    return std::nullopt;
  }
  return d;
}

std::optional<element> Member(object obj, std::string_view key) {
  element e;
  if (obj.at_key(key).get(e) != simdjson::SUCCESS) return std::nullopt;
  return e;
}

std::optional<element> Member(element parent, std::string_view key) {
  object obj;
  if (parent.get_object().get(obj) != simdjson::SUCCESS) return std::nullopt;
  return Member(obj, key);
}

std::optional<profiles::Location> ReadLocation(element loc) {
  object obj;
  if (loc.get_object().get(obj) != simdjson::SUCCESS) return std::nullopt;
  std::optional<double> lat, lon;
  std::string_view city, country;
  for (const auto member : obj) {
    if (member.key == "latitude") {
      lat = internal::NumberValue(member.value);
    } else if (member.key == "longitude") {
      lon = internal::NumberValue(member.value);
    } else if (member.key == "city") {
      if (member.value.get_string().get(city) != simdjson::SUCCESS) city = {};
    } else if (member.key == "country") {
      if (member.value.get_string().get(country) != simdjson::SUCCESS) country = {};
    }
  }
  const bool has_point = lat && lon && *lat >= -90 && *lat <= 90 && *lon >= -180 && *lon <= 180;
  if (!has_point && city.empty()) return std::nullopt;
  profiles::Location out;
  if (has_point) {
    out.latitude = *lat;
    out.longitude = *lon;
  }
  out.city.assign(city);
  out.country.assign(country);
  return out;
}

// Appends the normalised identifier unless it is already listed. An invalid
// value becomes a warning naming `where`. Returns the normalised value.
std::optional<std::string> AddIdentifier(std::string_view ns, std::string_view raw, std::string_view where,
                                         const ParseOptions& options, ParsedEvent& parsed) {
  auto value = identity::Normalize(ns, raw, options.identity);
  if (!value.ok()) {
    parsed.warnings.push_back(std::string(where) + ": " + std::string(value.status().message()));
    return std::nullopt;
  }
  identity::Identifier id{std::string(ns), *value};
  if (std::find(parsed.identifiers.begin(), parsed.identifiers.end(), id) == parsed.identifiers.end()) {
    parsed.identifiers.push_back(std::move(id));
  }
  return std::move(*value);
}

// Adds an identifier found at `where` (a string or number; empty and null
// values are ignored, other types are a warning).
void AddIdentifierValue(std::string_view ns, element e, std::string_view where, const ParseOptions& options,
                        ParsedEvent& parsed) {
  std::string raw;
  switch (IdText(e, raw)) {
    case IdState::kAbsent:
      return;
    case IdState::kWrongType:
      parsed.warnings.push_back(std::string(where) + ": identifier '" + std::string(ns) + "': not a string or number");
      return;
    case IdState::kPresent:
      AddIdentifier(ns, raw, where, options, parsed);
      return;
  }
}

// What validation takes from a message.
struct Checked {
  EventType type = EventType::kTrack;
  std::string_view message_id;  // empty when absent
  IdState user_state = IdState::kAbsent;
  IdState anon_state = IdState::kAbsent;
  std::string user_raw, anon_raw, previous_raw;
  std::optional<TimeMs> timestamp, original, sent_at;
};

// Applies the validation rules in the order their errors are reported.
// Sets ev.name (track, page, screen) and ev.group_id on the way.
std::optional<Rejection> Validate(const Message& m, std::optional<EventType> implied, Checked& c, profiles::Event& ev) {
  if (m.present[kType]) {
    std::string_view name;
    if (m.value[kType].get_string().get(name) != simdjson::SUCCESS) {
      return Rejection{"type must be a string", "type"};
    }
    const auto t = profiles::EventTypeFromName(name);
    if (!t) return Rejection{"unknown type " + Quote(name), "type"};
    if (implied && *t != *implied) {
      return Rejection{"type " + Quote(name) + " does not match the /v1/" +
                           std::string(profiles::EventTypeName(*implied)) + " endpoint",
                       "type"};
    }
    c.type = *t;
  } else if (implied) {
    c.type = *implied;
  } else {
    return Rejection{"type is required", "type"};
  }

  if (m.present[kMessageId] && (m.value[kMessageId].get_string().get(c.message_id) != simdjson::SUCCESS ||
                                c.message_id.empty() || c.message_id.size() > kMaxMessageIdBytes)) {
    return Rejection{"messageId must be a non-empty string of at most " + std::to_string(kMaxMessageIdBytes) + " bytes",
                     "messageId"};
  }

  c.user_state = FieldIdText(m, kUserId, c.user_raw);
  if (c.user_state == IdState::kWrongType) {
    return Rejection{"userId must be a string or a number", "userId"};
  }
  c.anon_state = FieldIdText(m, kAnonymousId, c.anon_raw);
  if (c.anon_state == IdState::kWrongType) {
    return Rejection{"anonymousId must be a string or a number", "anonymousId"};
  }
  if (c.user_state == IdState::kAbsent && c.anon_state == IdState::kAbsent) {
    return Rejection{"userId or anonymousId is required", "userId"};
  }

  switch (c.type) {
    case EventType::kTrack: {
      std::string_view name;
      if (!m.present[kEventField] || m.value[kEventField].get_string().get(name) != simdjson::SUCCESS || name.empty()) {
        return Rejection{"track needs a non-empty \"event\"", "event"};
      }
      ev.name.assign(name);
      break;
    }
    case EventType::kPage:
    case EventType::kScreen: {
      std::string_view name;
      if (m.present[kName] && m.value[kName].get_string().get(name) != simdjson::SUCCESS) {
        return Rejection{"name must be a string", "name"};
      }
      ev.name.assign(name);
      break;
    }
    case EventType::kAlias: {
      const IdState s = FieldIdText(m, kPreviousId, c.previous_raw);
      if (s == IdState::kWrongType) {
        return Rejection{"previousId must be a string or a number", "previousId"};
      }
      if (s == IdState::kAbsent) return Rejection{"previousId is required", "previousId"};
      if (c.user_state == IdState::kAbsent) return Rejection{"userId is required", "userId"};
      break;
    }
    case EventType::kGroup: {
      const IdState s = FieldIdText(m, kGroupId, ev.group_id);
      if (s == IdState::kWrongType) {
        return Rejection{"groupId must be a string or a number", "groupId"};
      }
      if (s == IdState::kAbsent) return Rejection{"groupId is required", "groupId"};
      break;
    }
    case EventType::kIdentify:
      break;
  }

  for (const Field f : {kProperties, kTraits, kContext}) {
    if (m.present[f] && m.value[f].type() != element_type::OBJECT) {
      const std::string name(kFieldKeys[f]);
      return Rejection{name + " must be an object", name};
    }
  }

  if (auto r = ReadTime(m, kTimestamp, c.timestamp)) return r;
  if (auto r = ReadTime(m, kOriginalTimestamp, c.original)) return r;
  if (auto r = ReadTime(m, kSentAt, c.sent_at)) return r;
  return std::nullopt;
}

// Normalises userId and anonymousId. The event must keep a valid one (alias:
// a valid userId); a second, invalid one becomes a warning.
std::optional<Rejection> NormalizePrimaryIds(const Checked& c, const ParseOptions& options,
                                             std::optional<std::string>& user_id, std::optional<std::string>& anon_id,
                                             ParsedEvent& parsed) {
  absl::Status user_error, anon_error;
  if (c.user_state == IdState::kPresent) {
    auto v = identity::Normalize(identity::kUserId, c.user_raw, options.identity);
    if (v.ok()) {
      user_id = std::move(*v);
    } else {
      user_error = v.status();
    }
  }
  if (c.anon_state == IdState::kPresent) {
    auto v = identity::Normalize(identity::kAnonymousId, c.anon_raw, options.identity);
    if (v.ok()) {
      anon_id = std::move(*v);
    } else {
      anon_error = v.status();
    }
  }
  if (!user_id && (c.type == EventType::kAlias || !anon_id)) {
    if (!user_error.ok()) return Rejection{std::string(user_error.message()), "userId"};
    return Rejection{std::string(anon_error.message()), "anonymousId"};
  }
  if (!user_error.ok()) parsed.warnings.push_back("userId: " + std::string(user_error.message()));
  if (!anon_error.ok()) {
    parsed.warnings.push_back("anonymousId: " + std::string(anon_error.message()));
  }
  return std::nullopt;
}

// The parts of a valid message that the event is filled from.
struct Sources {
  Sources(const Scope& s, const Message& msg) : scope(s), m(msg) {}

  // A member of the context after the shallow merge: the message's context
  // hides the batch's.
  std::optional<element> ContextMember(std::string_view key) const {
    if (context) {
      if (auto e = Member(*context, key)) return e;
    }
    if (scope.batch_context) return Member(*scope.batch_context, key);
    return std::nullopt;
  }

  const Scope& scope;
  const Message& m;
  std::optional<object> context;
  std::optional<object> properties;
  internal::TraitList traits;
};

void FillContext(const Sources& src, profiles::Event& ev) {
  const Scope& scope = src.scope;
  if (src.context && scope.batch_context) {
    const std::string_view own = src.m.Text(scope.buf, kContext);
    ev.context.assign(own.substr(0, own.size() - 1));  // without the closing brace
    bool empty = own.size() == 2;
    internal::KeyIndex keys;
    for (const auto member : *src.context) keys.Add(member.key);
    for (const auto& [key, text] : scope.batch_context_members) {
      if (keys.Find(key)) continue;
      if (!empty) ev.context.push_back(',');
      ev.context.append(text);
      empty = false;
    }
    ev.context.push_back('}');
  } else if (src.context) {
    ev.context.assign(src.m.Text(scope.buf, kContext));
  } else if (scope.batch_context) {
    ev.context = scope.batch_context_text;
  }
}

// Properties and what is derived from them: page name, revenue, currency.
void FillProperties(const Sources& src, profiles::Event& ev) {
  const Message& m = src.m;
  if (m.present[kProperties]) {
    ev.properties.assign(m.Text(src.scope.buf, kProperties));
  } else if (ev.type == EventType::kGroup && m.present[kTraits]) {
    ev.properties.assign(m.Text(src.scope.buf, kTraits));
  }
  if (!src.properties) return;
  const object properties = *src.properties;
  if (ev.type == EventType::kPage && !m.present[kName]) {
    if (auto name = Member(properties, "name")) {
      std::string_view s;
      if (name->get_string().get(s) == simdjson::SUCCESS) ev.name.assign(s);
    }
  }
  for (const std::string_view key : {"revenue", "total"}) {
    if (auto e = Member(properties, key)) {
      if ((ev.revenue = Amount(*e))) break;
    }
  }
  if (auto currency = Member(properties, "currency")) {
    std::string_view s;
    if (currency->get_string().get(s) == simdjson::SUCCESS) ev.currency.assign(s);
  }
}

void FillTraits(Sources& src, ParsedEvent& parsed) {
  const Message& m = src.m;
  if (parsed.event.type == EventType::kIdentify && m.present[kTraits]) {
    const object own = m.value[kTraits].get_object().value_unsafe();
    for (const auto member : own) src.traits.Add(member.key, member.value, /*own=*/true);
  }
  if (auto context_traits = src.ContextMember("traits")) {
    object obj;
    if (context_traits->get_object().get(obj) == simdjson::SUCCESS) {
      for (const auto member : obj) src.traits.Add(member.key, member.value, /*own=*/false);
    } else if (context_traits->type() != element_type::NULL_VALUE) {
      parsed.warnings.push_back("context.traits: not an object; ignored");
    }
  }
  auto& out = parsed.event.traits;
  out.reserve(src.traits.items().size());
  for (const auto& [key, value] : src.traits.items()) {
    out.emplace_back(std::string(key), internal::JsonText(value));
  }
}

// The value at a configured identifier path, if any.
std::optional<element> Resolve(const Sources& src, const std::vector<std::string_view>& seg) {
  std::optional<element> e;
  size_t next = 1;
  if (seg[0] == "traits" || seg[0] == "context") {
    if (seg.size() < 2) return std::nullopt;
    if (seg[0] == "context") {
      e = src.ContextMember(seg[1]);
    } else if (auto trait = src.traits.Find(seg[1])) {
      e = trait->first;
    }
    next = 2;
  } else if (const int f = FieldOf(seg[0]); f >= 0) {
    if (src.m.present[f]) e = src.m.value[f];
  } else {
    e = Member(src.m.obj, seg[0]);
  }
  for (size_t i = next; e && i < seg.size(); ++i) e = Member(*e, seg[i]);
  return e;
}

// Identifiers, most trusted first (see ParsedEvent::identifiers).
void AddIdentifiers(const Sources& src, const Checked& c, std::optional<std::string> user_id,
                    std::optional<std::string> anon_id, ParsedEvent& parsed) {
  const ParseOptions& options = src.scope.options;
  profiles::Event& ev = parsed.event;
  if (user_id) {
    ev.user_id = *user_id;
    parsed.identifiers.push_back({std::string(identity::kUserId), std::move(*user_id)});
  }
  if (c.type == EventType::kAlias) {
    if (auto previous = AddIdentifier(identity::kAnonymousId, c.previous_raw, "previousId", options, parsed)) {
      ev.previous_id = std::move(*previous);
    }
  }
  if (anon_id) {
    ev.anonymous_id = *anon_id;
    identity::Identifier id{std::string(identity::kAnonymousId), std::move(*anon_id)};
    if (std::find(parsed.identifiers.begin(), parsed.identifiers.end(), id) == parsed.identifiers.end()) {
      parsed.identifiers.push_back(std::move(id));
    }
  }
  for (const std::string_view ns : {identity::kEmail, identity::kPhone}) {
    if (auto trait = src.traits.Find(ns)) {
      const std::string where = (trait->second ? "context.traits." : "traits.") + std::string(ns);
      AddIdentifierValue(ns, trait->first, where, options, parsed);
    }
  }
  if (auto device = src.ContextMember("device")) {
    if (auto id = Member(*device, "id")) {
      AddIdentifierValue(identity::kDeviceId, *id, "context.device.id", options, parsed);
    }
  }
  for (const IdentifierPath& source : src.scope.identifier_paths) {
    if (auto e = Resolve(src, source.segments)) {
      AddIdentifierValue(source.ns, *e, source.path, options, parsed);
    }
  }
}

// Parses one message object into `parsed`, or says why it is refused.
// Scope::buf holds the message's compact text afterwards.
std::optional<Rejection> ParseMessage(Scope& scope, object obj, std::optional<EventType> implied, ParsedEvent& parsed) {
  Message m;
  ReadMessage(obj, scope.buf, m);
  if (scope.buf.size() > scope.options.max_event_bytes) {
    return Rejection{"event exceeds " + std::to_string(scope.options.max_event_bytes) + " bytes", ""};
  }
  profiles::Event& ev = parsed.event;
  Checked c;
  if (auto r = Validate(m, implied, c, ev)) return r;
  std::optional<std::string> user_id, anon_id;
  if (auto r = NormalizePrimaryIds(c, scope.options, user_id, anon_id, parsed)) return r;

  ev.type = c.type;
  ev.received_at = scope.received_at;
  ev.message_id = c.message_id.empty() ? internal::GenerateMessageId() : std::string(c.message_id);
  if (c.timestamp) {
    ev.timestamp = *c.timestamp;
  } else if (c.original) {
    const std::optional<TimeMs> sent = c.sent_at ? c.sent_at : scope.batch_sent_at;
    ev.timestamp = sent ? scope.received_at - (*sent - *c.original) : *c.original;
  } else {
    ev.timestamp = scope.received_at;
  }
  {
    const std::string which = c.timestamp ? "timestamp" : c.original ? "originalTimestamp" : "receivedAt";
    if (ev.timestamp < scope.options.min_timestamp_ms) {
      return Rejection{which + " is before " + FormatIso8601(scope.options.min_timestamp_ms) +
                           (c.timestamp || !c.original ? "" : " after clock-skew correction by sentAt"),
                       which};
    }
    const TimeMs latest = scope.received_at + scope.options.max_future_skew_ms;
    if (ev.timestamp > latest) {
      parsed.warnings.push_back(which + ": more than " + std::to_string(scope.options.max_future_skew_ms / 3600000) +
                                " h ahead of the server's clock; stored as " + FormatIso8601(latest));
      ev.timestamp = latest;
    }
  }

  Sources src(scope, m);
  if (m.present[kContext]) src.context = m.value[kContext].get_object().value_unsafe();
  if (m.present[kProperties]) src.properties = m.value[kProperties].get_object().value_unsafe();
  FillContext(src, ev);
  FillProperties(src, ev);
  if (ev.revenue && !(std::abs(*ev.revenue) <= scope.options.max_revenue)) {
    std::ostringstream max;
    max << scope.options.max_revenue;
    return Rejection{"properties.revenue (or total) is out of range: at most " + max.str() + " in absolute value",
                     "properties.revenue"};
  }
  FillTraits(src, parsed);
  if (auto location = src.ContextMember("location")) ev.location = ReadLocation(*location);
  AddIdentifiers(src, c, std::move(user_id), std::move(anon_id), parsed);
  return std::nullopt;
}

std::optional<EventType> ImpliedType(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::kBatch:
      return std::nullopt;
    case Endpoint::kIdentify:
      return EventType::kIdentify;
    case Endpoint::kTrack:
      return EventType::kTrack;
    case Endpoint::kPage:
      return EventType::kPage;
    case Endpoint::kScreen:
      return EventType::kScreen;
    case Endpoint::kGroup:
      return EventType::kGroup;
    case Endpoint::kAlias:
      return EventType::kAlias;
  }
  return std::nullopt;
}

// Parses one input (a batch item, or the body of a single-event endpoint)
// into an event or a rejection.
void ParseItem(Scope& scope, element item, int index, bool in_batch, std::optional<EventType> implied,
               RequestParse& r) {
  ParsedEvent parsed;
  std::optional<Rejection> rejection;
  object obj;
  if (item.get_object().get(obj) != simdjson::SUCCESS) {
    scope.buf.clear();
    internal::AppendJson(item, scope.buf);
    rejection = Rejection{"event must be a JSON object", ""};
  } else {
    rejection = ParseMessage(scope, obj, implied, parsed);
  }
  if (!rejection) {
    parsed.index = index;
    parsed.in_batch = in_batch;
    r.events.push_back(std::move(parsed));
    return;
  }
  std::string field = in_batch ? "batch[" + std::to_string(index) + "]" : "";
  if (!rejection->field.empty()) {
    if (!field.empty()) field.push_back('.');
    field.append(rejection->field);
  }
  r.rejected.push_back({std::move(rejection->error), std::move(field), index});
  r.rejected_raw.emplace_back(internal::TruncateUtf8(scope.buf, kMaxRawBytes));
}

void Fail(RequestParse& r, std::string error, std::string field, bool too_large = false) {
  r.events.clear();
  r.rejected.clear();
  r.rejected_raw.clear();
  r.fatal = InputError{std::move(error), std::move(field), -1};
  r.too_large = too_large;
}

// Reads the request-level fields of a batch object. False (with r.fatal set)
// if one of them is invalid.
bool ReadBatchFields(object top, Scope& scope, simdjson::dom::array& items, RequestParse& r) {
  bool has_batch = false;
  for (const auto member : top) {
    const element v = member.value;
    if (member.key == "batch") {
      if (v.get_array().get(items) != simdjson::SUCCESS) {
        Fail(r, "batch must be an array", "batch");
        return false;
      }
      has_batch = true;
    } else if (member.key == "writeKey") {
      std::string_view key;
      if (v.get_string().get(key) == simdjson::SUCCESS) r.write_key.assign(key);
    } else if (member.key == "sentAt") {
      if (v.type() == element_type::NULL_VALUE) continue;
      std::string_view text;
      if (v.get_string().get(text) != simdjson::SUCCESS) {
        Fail(r, "sentAt must be an ISO-8601 string", "sentAt");
        return false;
      }
      auto t = ParseIso8601(text);
      if (!t.ok()) {
        Fail(r, "sentAt is not a valid ISO-8601 time: " + std::string(t.status().message()), "sentAt");
        return false;
      }
      scope.batch_sent_at = *t;
    } else if (member.key == "context") {
      if (v.type() == element_type::NULL_VALUE) continue;
      object context;
      if (v.get_object().get(context) != simdjson::SUCCESS) {
        Fail(r, "context must be an object", "context");
        return false;
      }
      scope.batch_context = context;
    }
  }
  if (!has_batch) {
    Fail(r, "batch is required", "batch");
    return false;
  }
  if (scope.batch_context) {
    scope.batch_context_text = "{";
    for (const auto member : *scope.batch_context) {
      std::string text;
      AppendJsonString(&text, member.key);
      text.push_back(':');
      internal::AppendJson(member.value, text);
      if (scope.batch_context_text.size() > 1) scope.batch_context_text.push_back(',');
      scope.batch_context_text.append(text);
      scope.batch_context_members.emplace_back(member.key, std::move(text));
    }
    scope.batch_context_text.push_back('}');
  }
  return true;
}

void ParseBody(Endpoint endpoint, std::string_view body, TimeMs received_at, const ParseOptions& options,
               RequestParse& r) {
  if (body.size() > options.max_batch_bytes) {
    Fail(r, "request body exceeds " + std::to_string(options.max_batch_bytes) + " bytes", "body",
         /*too_large=*/true);
    return;
  }

  // simdjson reads up to SIMDJSON_PADDING bytes past the end, so the body is
  // copied into a padded buffer. Both are kept per thread for reuse.
  thread_local simdjson::dom::parser cached_parser;
  thread_local std::string cached_padded;
  std::optional<simdjson::dom::parser> own_parser;
  std::string own_padded;
  simdjson::dom::parser* parser = &cached_parser;
  std::string* padded = &cached_padded;
  if (body.size() > kMaxCachedBodyBytes) {
    parser = &own_parser.emplace();
    padded = &own_padded;
  }
  padded->assign(body);
  padded->append(simdjson::SIMDJSON_PADDING, '\0');

  element root;
  if (const auto err = parser->parse(padded->data(), body.size(), false).get(root); err) {
    Fail(r, "malformed JSON: " + std::string(simdjson::error_message(err)), "body");
    return;
  }

  Scope scope(options, received_at);
  for (const IdentifierSource& source : options.identifier_sources) {
    IdentifierPath p{source.ns, source.path, {}};
    std::string_view rest = source.path;
    while (true) {
      const size_t dot = rest.find('.');
      p.segments.push_back(rest.substr(0, dot));
      if (dot == std::string_view::npos) break;
      rest.remove_prefix(dot + 1);
    }
    scope.identifier_paths.push_back(std::move(p));
  }
  scope.buf.reserve(std::min(body.size(), options.max_event_bytes) + 64);

  if (endpoint == Endpoint::kBatch) {
    simdjson::dom::array items;
    object top;
    if (root.get_array().get(items) == simdjson::SUCCESS) {
      // A bare array is the batch itself.
    } else if (root.get_object().get(top) == simdjson::SUCCESS) {
      if (!ReadBatchFields(top, scope, items, r)) return;
    } else {
      Fail(r, "request body must be a JSON object or array", "body");
      return;
    }
    r.events.reserve(items.size());
    int index = 0;
    for (const element item : items) {
      ParseItem(scope, item, index, /*in_batch=*/true, std::nullopt, r);
      ++index;
    }
    return;
  }

  object message;
  if (root.get_object().get(message) != simdjson::SUCCESS) {
    Fail(r, "request body must be a JSON object", "body");
    return;
  }
  if (auto key = Member(message, "writeKey")) {
    std::string_view s;
    if (key->get_string().get(s) == simdjson::SUCCESS) r.write_key.assign(s);
  }
  ParseItem(scope, root, 0, /*in_batch=*/false, ImpliedType(endpoint), r);
}

}  // namespace

RequestParse ParseRequest(Endpoint endpoint, std::string_view body, TimeMs received_at, const ParseOptions& options) {
  RequestParse r;
  // simdjson runs in error-code mode; what can still throw here is memory
  // exhaustion, which refuses the request rather than escaping.
  try {
    ParseBody(endpoint, body, received_at, options, r);
  } catch (const std::exception& e) {
    Fail(r, std::string("internal error: ") + e.what(), "");
  }
  return r;
}

}  // namespace facet::ingest

#include "api/audience_routes.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_map.h"
#include "api/auth.h"
#include "api/http_status.h"
#include "api/internal/audience_render.h"
#include "api/internal/header_text.h"
#include "api/internal/member_export.h"
#include "api/json_render.h"
#include "api/router.h"
#include "base/log.h"
#include "base/time_format.h"
#include "identity/identifier.h"
#include "segments/catalog.h"
#include "segments/parser.h"

namespace facet::api {

using nlohmann::json;

namespace {

using internal::BodyReader;
using internal::CsvLineValue;
using internal::SegmentJson;
using internal::TagJson;
using internal::ValueText;
using Query = std::vector<std::pair<std::string, std::string>>;

constexpr size_t kDefaultChangesLimit = 100;
constexpr size_t kMaxChangesLimit = 1000;
constexpr int64_t kDefaultSample = 10;
constexpr int64_t kMaxSample = 1000;
constexpr size_t kBreakdownValues = 100;
constexpr size_t kMinOverlap = 2;
constexpr size_t kMaxOverlap = 20;
constexpr std::string_view kNoValue = "(none)";
constexpr std::string_view kTagPrefix = "tag:";

// Up to `n` members spread over the whole set (ids follow the order in which
// persons were first seen, so the lowest ids are the oldest customers): one
// at a pseudo-random rank in each of n equal strata, drawn from `seed_text`
// so that the same question on the same data gives the same sample.
std::vector<PersonId> SampleMembers(const bitmap::Bitmap& members, size_t n, std::string_view seed_text) {
  const uint64_t count = members.Cardinality();
  if (count <= n) return members.ToVector();
  uint64_t state = 1469598103934665603ull;  // FNV-1a of the text
  for (unsigned char c : seed_text) state = (state ^ c) * 1099511628211ull;
  std::vector<PersonId> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    state += 0x9e3779b97f4a7c15ull;  // splitmix64
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    const uint64_t lo = count * i / n, hi = count * (i + 1) / n;
    for (PersonId id : members.Slice(lo + z % (hi - lo), 1)) out.push_back(id);
  }
  return out;
}

std::string_view Message(const absl::Status& s) { return std::string_view(s.message().data(), s.message().size()); }

Response JsonReply(int status, const json& body) {
  Response r;
  r.status = status;
  r.body = Dump(body);
  return r;
}

Response ErrorReply(int status, std::string_view error, std::string_view field = {}) {
  return JsonReply(status, ErrorJson(error, field));
}

Response BadRequest(std::string_view error, std::string_view field = {}) { return ErrorReply(400, error, field); }

Response StatusReply(const absl::Status& s, std::string_view field = {}) {
  return ErrorReply(HttpStatusFromCode(s.code()), Message(s), field);
}

// 400 for a parse error of the segment language in `field`.
Response ParseErrorReply(const segments::ParseError& e, std::string_view field) {
  json j =
      ErrorJson("line " + std::to_string(e.line) + ", column " + std::to_string(e.column) + ": " + e.message, field);
  j["line"] = e.line;
  j["column"] = e.column;
  return JsonReply(400, j);
}

Response BodyError(const BodyReader& body) { return BadRequest(body.message(), body.field()); }

// The field a catalog error is about, judged by its message outside the
// names it quotes.
std::string_view CatalogErrorField(const absl::Status& s, std::string_view text_field) {
  std::string m;
  bool quoted = false;
  for (char c : Message(s)) {
    if (c == '\'') quoted = !quoted;
    if (!quoted) m.push_back(c);
  }
  if (m.find("parent") != std::string::npos || m.find(" under ") != std::string::npos) return "parent";
  if (m.find(" name ") != std::string::npos) return "name";
  if (m.find("rule") != std::string::npos || m.find("expression") != std::string::npos ||
      m.find("refers back") != std::string::npos || m.starts_with("unknown ")) {
    return text_field;
  }
  return {};
}

uint64_t CountOf(const absl::StatusOr<const bitmap::Bitmap*>& members) {
  return members.ok() ? (*members)->Cardinality() : 0;
}

// As GET /v1/persons renders them.
json IdentitiesJson(const std::vector<identity::Identifier>& ids) {
  json out = json::array();
  for (const identity::Identifier& id : ids) out.push_back({{"ns", id.ns}, {"value", id.value}});
  return out;
}

std::string_view QueryValue(const Query& query, std::string_view key, std::string_view fallback = {}) {
  for (const auto& [k, v] : query) {
    if (k == key) return v;
  }
  return fallback;
}

bool HasQuery(const Query& query, std::string_view key) {
  return std::any_of(query.begin(), query.end(), [&](const auto& kv) { return kv.first == key; });
}

template <typename T>
bool ParseUnsigned(std::string_view text, T* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

// Runs `build` and sends its result; an exception becomes a 500.
template <typename Build>
void SendGuarded(const AudienceRoutes::Respond& respond, Build&& build) {
  try {
    respond(build());
  } catch (const std::exception& e) {
    log::Error("api: ", e.what(), " (audience route)");
    respond(ErrorReply(500, "internal error"));
  }
}

// Runs `mutation` with exclusive access on the committer thread and replies
// 200 with the JSON it returns once its writes are durable; its error is
// replied with the field CatalogErrorField finds (`text_field` for errors in
// a rule or expression).
void Commit(ingest::Pipeline& pipeline, std::function<absl::StatusOr<json>(store::WriteBatch*)> mutation,
            std::string_view text_field, const AudienceRoutes::Respond& respond) {
  auto result = std::make_shared<json>();
  pipeline.Execute(
      [mutation = std::move(mutation), result](store::WriteBatch* batch) -> absl::Status {
        try {
          absl::StatusOr<json> r = mutation(batch);
          if (!r.ok()) return r.status();
          *result = std::move(*r);
          return absl::OkStatus();
        } catch (const std::exception& e) {
          log::Error("api: ", e.what(), " (audience change)");
          return absl::InternalError("internal error");
        }
      },
      [respond, result, text_field](absl::Status s) {
        SendGuarded(respond, [&] {
          if (!s.ok()) return StatusReply(s, CatalogErrorField(s, text_field));
          return JsonReply(200, *result);
        });
      });
}

}  // namespace

AudienceRoutes::AudienceRoutes(const ServerOptions& options, Services services)
    : pii_keys_(options.pii_keys), services_(services) {}

void AudienceRoutes::Handle(const RouteMatch& m, const Request& request, const Respond& respond) const {
  const auto param = [&](size_t i) -> const std::string& { return m.params[i]; };
  switch (m.id) {
    case RouteId::kListTags:
      return respond(ListTags());
    case RouteId::kGetTag:
      return respond(GetDefinition(false, param(0)));
    case RouteId::kPutTag:
      return PutTag(param(0), request, respond);
    case RouteId::kDeleteTag:
      return DeleteDefinition(false, param(0), respond);
    case RouteId::kTagMembers:
      return respond(ExportMembers(false, param(0), request));
    case RouteId::kAddTagMembers:
      return ChangeMembers(param(0), request, true, respond);
    case RouteId::kRemoveTagMembers:
      return ChangeMembers(param(0), request, false, respond);
    case RouteId::kTagChanges:
      return respond(Changes(false, param(0), request));
    case RouteId::kPreviewSegment:
      return respond(Preview(request));
    case RouteId::kSegmentOverlap:
      return respond(Overlap(request));
    case RouteId::kListSegments:
      return respond(ListSegments());
    case RouteId::kGetSegment:
      return respond(GetDefinition(true, param(0)));
    case RouteId::kPutSegment:
      return PutSegment(param(0), request, respond);
    case RouteId::kDeleteSegment:
      return DeleteDefinition(true, param(0), respond);
    case RouteId::kSegmentMembers:
      return respond(ExportMembers(true, param(0), request));
    case RouteId::kSegmentChanges:
      return respond(Changes(true, param(0), request));
    case RouteId::kPersonMemberships:
      return respond(PersonMemberships(param(0), param(1)));
    default:
      return respond(ErrorReply(500, "unhandled route"));
  }
}

AudienceRoutes::Counts AudienceRoutes::counts() const {
  Counts c;
  auto lock = services_.pipeline.LockForRead();
  const segments::Catalog& catalog = services_.audiences.catalog();
  c.tags = catalog.tag_count();
  c.segments = catalog.segment_count();
  c.bitmap_bytes = catalog.MemoryBytes();
  c.membership_changes = catalog.change_count();
  return c;
}

std::string AudienceRoutes::MetricsText() const {
  const Counts c = counts();
  std::string out;
  auto gauge = [&out](std::string_view name, std::string_view type, std::string_view help, uint64_t value) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    out.append(name).append(" ").append(std::to_string(value)).append("\n");
  };
  gauge("facet_tags", "gauge", "Tags defined.", c.tags);
  gauge("facet_segments", "gauge", "Segments defined.", c.segments);
  gauge("facet_audience_bitmap_bytes", "gauge", "Heap bytes of tag and segment membership bitmaps.", c.bitmap_bytes);
  gauge("facet_membership_changes_total", "counter", "Persons that entered or left a tag or segment.",
        c.membership_changes);
  return out;
}

// ---------------------------------------------------------------------------
// Definitions

void AudienceRoutes::PutTag(const std::string& name, const Request& request, const Respond& respond) const {
  BodyReader body(request.body);
  segments::TagDef def;
  std::string path_name = name, kind;
  std::optional<bool> manual;
  body.Only({"name", "display_name", "parent", "description", "owner", "rule", "manual", "kind"})
      .String("name", &path_name)
      .String("display_name", &def.display_name)
      .String("parent", &def.parent)
      .String("description", &def.description)
      .String("owner", &def.owner)
      .String("rule", &def.rule)
      .String("kind", &kind)
      .Bool("manual", &manual);
  if (body.ok() && path_name != name) body.Fail("name", "\"name\" differs from the name in the path");
  if (!body.ok()) return respond(BodyError(body));
  def.name = name;
  if (kind.empty()) {
    def.kind = manual.value_or(false) ? segments::TagKind::kManual : segments::TagKind::kRule;
  } else if (kind == "rule" || kind == "manual" || kind == "model") {
    def.kind = kind == "rule"     ? segments::TagKind::kRule
               : kind == "manual" ? segments::TagKind::kManual
                                  : segments::TagKind::kModel;
    if (manual.has_value() && *manual != (def.kind == segments::TagKind::kManual)) {
      return respond(BadRequest("\"manual\" contradicts \"kind\"", "manual"));
    }
  } else {
    return respond(BadRequest("\"kind\" must be \"rule\", \"manual\" or \"model\"", "kind"));
  }
  if (def.kind == segments::TagKind::kRule) {
    if (def.rule.empty()) return respond(BadRequest("a rule tag needs a \"rule\"", "rule"));
    segments::ParseError error;
    if (!segments::Parse(def.rule, &error).ok()) return respond(ParseErrorReply(error, "rule"));
  } else if (!def.rule.empty()) {
    return respond(BadRequest("a " + kind + " tag cannot have a \"rule\"", "rule"));
  }
  const Services& sv = services_;
  Commit(
      sv.pipeline,
      [sv, def = std::move(def)](store::WriteBatch* batch) mutable -> absl::StatusOr<json> {
        segments::Catalog& catalog = sv.audiences.catalog();
        const std::string tag = def.name;
        absl::Status s = catalog.PutTag(std::move(def), sv.clock.NowMs(), batch);
        if (!s.ok()) return s;
        absl::StatusOr<segments::TagDef> stored = catalog.GetTag(tag);
        if (!stored.ok()) return stored.status();
        return TagJson(*stored, CountOf(catalog.TagMembers(tag)));
      },
      "rule", respond);
}

void AudienceRoutes::PutSegment(const std::string& name, const Request& request, const Respond& respond) const {
  BodyReader body(request.body);
  segments::SegmentDef def;
  std::string path_name = name;
  body.Only({"name", "expression", "description", "owner"})
      .String("name", &path_name)
      .String("expression", &def.expression, /*required=*/true)
      .String("description", &def.description)
      .String("owner", &def.owner);
  if (body.ok() && path_name != name) body.Fail("name", "\"name\" differs from the name in the path");
  if (!body.ok()) return respond(BodyError(body));
  def.name = name;
  segments::ParseError error;
  if (!segments::Parse(def.expression, &error).ok()) {
    return respond(ParseErrorReply(error, "expression"));
  }
  const Services& sv = services_;
  Commit(
      sv.pipeline,
      [sv, def = std::move(def)](store::WriteBatch* batch) mutable -> absl::StatusOr<json> {
        segments::Catalog& catalog = sv.audiences.catalog();
        const std::string segment = def.name;
        absl::Status s = catalog.PutSegment(std::move(def), sv.clock.NowMs(), batch);
        if (!s.ok()) return s;
        absl::StatusOr<segments::SegmentDef> stored = catalog.GetSegment(segment);
        if (!stored.ok()) return stored.status();
        return SegmentJson(*stored, CountOf(catalog.SegmentMembers(segment)));
      },
      "expression", respond);
}

void AudienceRoutes::DeleteDefinition(bool segment, const std::string& name, const Respond& respond) const {
  const Services& sv = services_;
  Commit(
      sv.pipeline,
      [sv, segment, name](store::WriteBatch* batch) -> absl::StatusOr<json> {
        segments::Catalog& catalog = sv.audiences.catalog();
        absl::Status s = segment ? catalog.DeleteSegment(name, batch) : catalog.DeleteTag(name, batch);
        if (!s.ok()) return s;
        return json{{"deleted", name}};
      },
      "", respond);
}

Response AudienceRoutes::GetDefinition(bool segment, const std::string& name) const {
  json j;
  {
    auto lock = services_.pipeline.LockForRead();
    const segments::Catalog& catalog = services_.audiences.catalog();
    if (segment) {
      absl::StatusOr<segments::SegmentDef> def = catalog.GetSegment(name);
      if (!def.ok()) return StatusReply(def.status());
      j = SegmentJson(*def, CountOf(catalog.SegmentMembers(name)));
    } else {
      absl::StatusOr<segments::TagDef> def = catalog.GetTag(name);
      if (!def.ok()) return StatusReply(def.status());
      j = TagJson(*def, CountOf(catalog.TagMembers(name)));
    }
  }
  return JsonReply(200, j);
}

Response AudienceRoutes::ListTags() const {
  std::vector<json> nodes;
  absl::flat_hash_map<std::string, std::vector<size_t>> children;  // parent -> nodes
  {
    auto lock = services_.pipeline.LockForRead();
    const segments::Catalog& catalog = services_.audiences.catalog();
    for (const segments::TagDef& t : catalog.ListTags()) {
      children[t.parent].push_back(nodes.size());
      nodes.push_back(TagJson(t, CountOf(catalog.TagMembers(t.name))));
    }
  }
  std::function<json(const std::string&)> subtree = [&](const std::string& parent) {
    json list = json::array();
    auto it = children.find(parent);
    if (it == children.end()) return list;
    for (size_t i : it->second) {
      json node = std::move(nodes[i]);
      node["children"] = subtree(node["name"].get<std::string>());
      list.push_back(std::move(node));
    }
    return list;
  };
  return JsonReply(200, json{{"tags", subtree("")}});
}

Response AudienceRoutes::ListSegments() const {
  json list = json::array();
  {
    auto lock = services_.pipeline.LockForRead();
    const segments::Catalog& catalog = services_.audiences.catalog();
    for (const segments::SegmentDef& s : catalog.ListSegments()) {
      list.push_back(SegmentJson(s, CountOf(catalog.SegmentMembers(s.name))));
    }
  }
  return JsonReply(200, json{{"segments", std::move(list)}});
}

// ---------------------------------------------------------------------------
// Manual members

void AudienceRoutes::ChangeMembers(const std::string& tag, const Request& request, bool add,
                                   const Respond& respond) const {
  const identity::IdentityOptions& id_options = services_.graph.options();
  std::string ns;
  // Values as given (for not_found) and normalised.
  std::vector<std::string> given, normalized;
  const bool csv =
      internal::EqualsIgnoreCase(internal::TrimSpaces(request.Header("Content-Type")).substr(0, 8), "text/csv");
  if (csv) {
    absl::StatusOr<Query> query = ParseQuery(request.query);
    if (!query.ok()) return respond(BadRequest(Message(query.status()), "query"));
    ns = std::string(QueryValue(*query, "ns"));
    if (ns.empty()) return respond(BadRequest("a text/csv body needs ?ns=NAMESPACE", "ns"));
    std::string_view rest = request.body;
    for (int line_no = 1; !rest.empty(); ++line_no) {
      const size_t eol = rest.find('\n');
      std::string_view line = rest.substr(0, eol);
      if (line.ends_with('\r')) line.remove_suffix(1);
      rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
      std::string value = CsvLineValue(line);
      if (value.empty() || (line_no == 1 && value == ns)) continue;
      absl::StatusOr<std::string> v = identity::Normalize(ns, value, id_options);
      if (!v.ok()) {
        const std::string where = "line " + std::to_string(line_no);
        json j = ErrorJson(where + ": " + std::string(Message(v.status())), where);
        j["line"] = line_no;
        return respond(JsonReply(400, j));
      }
      given.push_back(std::move(value));
      normalized.push_back(std::move(*v));
    }
  } else {
    BodyReader body(request.body);
    body.Only({"ns", "values"}).String("ns", &ns, /*required=*/true);
    const json* values = body.Member("values");
    if (body.ok() && (values == nullptr || !values->is_array())) {
      body.Fail("values", "\"values\" must be an array of identifiers");
    }
    if (!body.ok()) return respond(BodyError(body));
    for (size_t i = 0; i < values->size(); ++i) {
      const json& item = (*values)[i];
      const std::string field = "values[" + std::to_string(i) + "]";
      std::string value;
      if (item.is_string()) {
        value = item.get<std::string>();
      } else if (item.is_number_integer()) {
        value = item.dump();
      } else {
        return respond(BadRequest(field + " must be a string", field));
      }
      absl::StatusOr<std::string> v = identity::Normalize(ns, value, id_options);
      if (!v.ok()) return respond(BadRequest(field + ": " + std::string(Message(v.status())), field));
      given.push_back(std::move(value));
      normalized.push_back(std::move(*v));
    }
  }

  std::vector<PersonId> found;
  json not_found = json::array();
  {
    auto lock = services_.pipeline.LockForRead();
    for (size_t i = 0; i < normalized.size(); ++i) {
      absl::StatusOr<PersonId> root = services_.graph.Find(identity::Identifier{ns, normalized[i]});
      if (root.ok()) {
        found.push_back(*root);
      } else if (absl::IsNotFound(root.status())) {
        not_found.push_back(given[i]);
      } else {
        return respond(StatusReply(root.status()));
      }
    }
  }
  const size_t matched = found.size();
  const Services& sv = services_;
  Commit(
      sv.pipeline,
      [sv, tag, add, matched, found = std::move(found),
       not_found = std::move(not_found)](store::WriteBatch* batch) mutable -> absl::StatusOr<json> {
        // Merges may have happened since the lookup.
        for (PersonId& p : found) p = sv.graph.Root(p);
        std::sort(found.begin(), found.end());
        found.erase(std::unique(found.begin(), found.end()), found.end());
        segments::Catalog& catalog = sv.audiences.catalog();
        const TimeMs now = sv.clock.NowMs();
        absl::StatusOr<size_t> n =
            add ? catalog.AddMembers(tag, found, now, batch) : catalog.RemoveMembers(tag, found, now, batch);
        if (!n.ok()) return n.status();
        return json{{add ? "added" : "removed", *n}, {"matched", matched}, {"not_found", std::move(not_found)}};
      },
      "", respond);
}

// ---------------------------------------------------------------------------
// Reads

Response AudienceRoutes::Preview(const Request& request) const {
  BodyReader body(request.body);
  std::string expression, as_of_text, breakdown;
  int64_t sample = kDefaultSample;
  body.Only({"expression", "as_of", "sample", "breakdown"})
      .String("expression", &expression, /*required=*/true)
      .String("as_of", &as_of_text)
      .Int("sample", 0, kMaxSample, &sample)
      .String("breakdown", &breakdown);
  if (!body.ok()) return BodyError(body);
  std::optional<TimeMs> as_of;
  if (!as_of_text.empty()) {
    absl::StatusOr<TimeMs> t = ParseIso8601(as_of_text);
    if (!t.ok()) return BadRequest("as_of: " + std::string(Message(t.status())), "as_of");
    as_of = *t;
  }
  std::string trait_path;
  if (!breakdown.empty()) {
    std::string_view b = breakdown;
    if (b.starts_with("traits.")) b.remove_prefix(1);  // the language accepts both
    if (!b.starts_with("trait.") || b.size() == 6) {
      return BadRequest("breakdown must name a trait, e.g. \"trait.city\"", "breakdown");
    }
    trait_path = std::string(b.substr(6));
  }
  segments::ParseError error;
  if (!segments::Parse(expression, &error).ok()) return ParseErrorReply(error, "expression");

  // Samples and breakdowns give personal data as keyed hashes unless the
  // key may read it raw (pii_keys).
  const bool raw_pii = MayReadRawPii(request);
  const bool pii_breakdown =
      !trait_path.empty() && !raw_pii && identity::IsPiiTrait(trait_path, services_.graph.options());
  const auto started = std::chrono::steady_clock::now();
  const TimeMs now = services_.clock.NowMs();
  json sample_json = json::array();
  absl::flat_hash_map<std::string, uint64_t> values;
  uint64_t count = 0;
  {
    auto lock = services_.pipeline.LockForRead();
    const segments::AudienceEngine& engine = services_.audiences;
    // Evaluated in slices, the read lock let go between them, so that a
    // costly preview never holds ingest up for more than a slice.
    segments::EvalSlicing slicing;
    slicing.yield = [&lock] {
      lock.unlock();
      std::this_thread::yield();
      lock.lock();
    };
    absl::StatusOr<bitmap::Bitmap> members = engine.catalog().Evaluate(expression, as_of, now, slicing);
    if (!members.ok()) return StatusReply(members.status(), "expression");
    count = members->Cardinality();
    const identity::IdentityOptions& id_options = services_.graph.options();
    for (PersonId id : SampleMembers(*members, static_cast<size_t>(sample), expression)) {
      std::vector<identity::Identifier> ids = services_.graph.Identities(id);
      if (!raw_pii) {
        for (identity::Identifier& i : ids) {
          if (identity::IsPii(i.ns, id_options)) i.value = services_.graph.pseudonymizer().HexDigest(i.ns, i.value);
        }
      }
      sample_json.push_back({{"person_id", id}, {"identities", IdentitiesJson(ids)}});
    }
    if (!trait_path.empty()) {
      const segments::PersonTable& table = engine.table();
      const uint32_t key = table.strings().Find(trait_path);
      // Members holding a string there are counted per value from the
      // trait's value bitmaps; the others one by one.
      const bitmap::Bitmap* rest = &*members;
      bitmap::Bitmap others;
      const segments::StringIndex* strings = key == segments::StringPool::kNone ? nullptr : table.StringTrait(key);
      if (strings != nullptr && strings->indexed()) {
        for (const auto& [value, persons] : strings->holders()) {
          const uint64_t n = members->AndCardinality(persons);
          if (n > 0) values[std::string(table.strings().Get(value))] += n;
        }
        others = *members - strings->present();
        rest = &others;
      }
      std::string none(kNoValue);
      rest->ForEach([&](PersonId id) {
        const segments::PersonTable::Person* p = table.Get(id);
        std::optional<std::string> text;
        if (p != nullptr && key != segments::StringPool::kNone) text = ValueText(table.Trait(*p, key));
        ++values[text ? *text : none];
        return true;
      });
    }
  }
  json reply = {{"count", count}, {"sample", std::move(sample_json)}};
  if (!trait_path.empty()) {
    if (pii_breakdown) {
      // Personal data is counted by keyed hash, as exports give it.
      const identity::IdentityOptions& id_options = services_.graph.options();
      absl::flat_hash_map<std::string, uint64_t> hashed;
      for (const auto& [value, n] : values) {
        if (value == kNoValue) {
          hashed[value] += n;
          continue;
        }
        absl::StatusOr<std::string> normalized = identity::Normalize(trait_path, value, id_options);
        hashed[services_.graph.pseudonymizer().HexDigest(trait_path, normalized.ok() ? *normalized : value)] += n;
      }
      values = std::move(hashed);
    }
    std::vector<std::pair<std::string, uint64_t>> top(values.begin(), values.end());
    std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    if (top.size() > kBreakdownValues) top.resize(kBreakdownValues);
    json b = json::object();
    for (auto& [value, n] : top) b[value] = n;
    reply["breakdown"] = std::move(b);
  }
  const double took_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  reply["took_ms"] = std::round(took_ms * 1000) / 1000;
  reply["as_of"] = FormatIso8601(as_of.value_or(now));
  return JsonReply(200, reply);
}

Response AudienceRoutes::Overlap(const Request& request) const {
  BodyReader body(request.body);
  body.Only({"segments"});
  const json* names = body.Member("segments");
  if (body.ok() &&
      (names == nullptr || !names->is_array() || names->size() < kMinOverlap || names->size() > kMaxOverlap)) {
    body.Fail("segments", "\"segments\" must list " + std::to_string(kMinOverlap) + " to " +
                              std::to_string(kMaxOverlap) + " names");
  }
  if (!body.ok()) return BodyError(body);
  std::vector<std::string> list;
  for (size_t i = 0; i < names->size(); ++i) {
    if (!(*names)[i].is_string()) {
      const std::string field = "segments[" + std::to_string(i) + "]";
      return BadRequest(field + " must be a string", field);
    }
    list.push_back((*names)[i].get<std::string>());
  }
  json sizes = json::array(), matrix = json::array();
  {
    auto lock = services_.pipeline.LockForRead();
    const segments::Catalog& catalog = services_.audiences.catalog();
    std::vector<const bitmap::Bitmap*> sets;
    for (size_t i = 0; i < list.size(); ++i) {
      std::string_view name = list[i];
      absl::StatusOr<const bitmap::Bitmap*> members = name.starts_with(kTagPrefix)
                                                          ? catalog.TagMembers(name.substr(kTagPrefix.size()))
                                                          : catalog.SegmentMembers(name);
      if (!members.ok()) return StatusReply(members.status(), "segments[" + std::to_string(i) + "]");
      sets.push_back(*members);
    }
    for (size_t i = 0; i < sets.size(); ++i) {
      sizes.push_back(sets[i]->Cardinality());
      json row = json::array();
      for (size_t j = 0; j < sets.size(); ++j) {
        row.push_back(i == j ? sets[i]->Cardinality() : sets[i]->AndCardinality(*sets[j]));
      }
      matrix.push_back(std::move(row));
    }
  }
  return JsonReply(200, json{{"segments", list}, {"sizes", std::move(sizes)}, {"matrix", std::move(matrix)}});
}

Response AudienceRoutes::PersonMemberships(const std::string& ns, const std::string& value) const {
  if (ns.empty()) return BadRequest("empty namespace", "ns");
  absl::StatusOr<std::string> normalized = identity::Normalize(ns, value, services_.graph.options());
  if (!normalized.ok()) return BadRequest(Message(normalized.status()), "value");
  PersonId root;
  std::vector<std::string> tag_names, segment_names;
  {
    auto lock = services_.pipeline.LockForRead();
    absl::StatusOr<PersonId> found = services_.graph.Find(identity::Identifier{ns, *normalized});
    if (!found.ok()) {
      if (absl::IsNotFound(found.status())) return ErrorReply(404, "person not found");
      return StatusReply(found.status());
    }
    root = *found;
    services_.audiences.catalog().MembershipOf(root, &tag_names, &segment_names);
  }
  return JsonReply(200, json{{"person_id", root}, {"tags", tag_names}, {"segments", segment_names}});
}

Response AudienceRoutes::Changes(bool segment, const std::string& name, const Request& request) const {
  absl::StatusOr<Query> query = ParseQuery(request.query);
  if (!query.ok()) return BadRequest(Message(query.status()), "query");
  TimeMs since = std::numeric_limits<TimeMs>::min();
  uint64_t after = 0;
  size_t limit = kDefaultChangesLimit;
  if (std::string_view s = QueryValue(*query, "since"); !s.empty()) {
    absl::StatusOr<TimeMs> t = ParseIso8601(s);
    if (!t.ok()) return BadRequest("since: " + std::string(Message(t.status())), "since");
    since = *t;
  }
  if (std::string_view a = QueryValue(*query, "after"); !a.empty() && !ParseUnsigned(a, &after)) {
    return BadRequest("after must be a sequence number from a previous \"next\"", "after");
  }
  if (HasQuery(*query, "limit") &&
      (!ParseUnsigned(QueryValue(*query, "limit"), &limit) || limit < 1 || limit > kMaxChangesLimit)) {
    return BadRequest("limit must be an integer from 1 to " + std::to_string(kMaxChangesLimit), "limit");
  }
  absl::StatusOr<std::vector<segments::MembershipChange>> changes;
  {
    auto lock = services_.pipeline.LockForRead();
    changes = services_.audiences.catalog().Changes(segment, name, since, after, limit);
  }
  if (!changes.ok()) return StatusReply(changes.status());
  json list = json::array();
  for (const segments::MembershipChange& c : *changes) {
    list.push_back({{"seq", c.seq},
                    {"person_id", c.person},
                    {"change", c.entered ? "entered" : "left"},
                    {"at", FormatIso8601(c.at)}});
  }
  const std::string next = changes->size() == limit ? std::to_string(changes->back().seq) : "";
  return JsonReply(200, json{{"changes", std::move(list)}, {"next", next}});
}

bool AudienceRoutes::MayReadRawPii(const Request& request) const {
  const Credentials c = ParseAuthorization(request.Header("Authorization"));
  if (c.scheme != Credentials::Scheme::kBearer || c.key.empty()) return false;
  bool allowed = false;
  for (const std::string& k : pii_keys_) allowed |= !k.empty() && ConstantTimeEquals(k, c.key);
  return allowed;
}

Response AudienceRoutes::ExportMembers(bool segment, const std::string& name, const Request& request) const {
  absl::StatusOr<Query> query = ParseQuery(request.query);
  if (!query.ok()) return BadRequest(Message(query.status()), "query");
  const std::string_view format = QueryValue(*query, "format", "csv");
  if (format != "csv" && format != "ndjson") return BadRequest("format must be csv or ndjson", "format");
  const std::string ns(QueryValue(*query, "ns", "user_id"));
  if (ns.empty()) return BadRequest("empty namespace", "ns");
  const std::string_view raw_text = QueryValue(*query, "raw", "false");
  if (raw_text != "true" && raw_text != "false" && raw_text != "1" && raw_text != "0") {
    return BadRequest("raw must be true or false", "raw");
  }
  const bool raw = raw_text == "true" || raw_text == "1";
  size_t limit = std::numeric_limits<size_t>::max();
  if (HasQuery(*query, "limit") && (!ParseUnsigned(QueryValue(*query, "limit"), &limit) || limit < 1)) {
    return BadRequest("limit must be a positive integer", "limit");
  }
  internal::ExportColumns export_columns;
  export_columns.csv = format == "csv";
  export_columns.ns = ns;
  // Requested traits: column names as given, paths without "trait.".
  std::vector<std::string>& columns = export_columns.columns;
  std::vector<std::string>& paths = export_columns.paths;
  for (std::string_view rest = QueryValue(*query, "traits"); !rest.empty();) {
    const size_t comma = rest.find(',');
    std::string_view t = internal::TrimSpaces(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (t.empty()) return BadRequest("traits must be a comma-separated list of names", "traits");
    columns.emplace_back(t);
    if (t.starts_with("trait.")) t.remove_prefix(6);
    paths.emplace_back(t);
  }
  const identity::IdentityOptions& id_options = services_.graph.options();
  // A trait named like personal data ("email", "Email", "contact.email",
  // "mobile"; IdentityOptions::pii_trait_words) is PII too.
  std::vector<char>& pii_trait = export_columns.pii_trait;
  pii_trait.resize(paths.size());
  bool any_pii = identity::IsPii(ns, id_options);
  for (size_t i = 0; i < paths.size(); ++i) {
    pii_trait[i] = identity::IsPiiTrait(paths[i], id_options);
    any_pii |= pii_trait[i] != 0;
  }
  export_columns.raw_pii = raw && MayReadRawPii(request);
  if (raw && any_pii && !export_columns.raw_pii) {
    return ErrorReply(403,
                      "raw=true needs an admin key listed in pii_keys; without it PII is "
                      "exported as keyed hashes",
                      "raw");
  }

  bitmap::Bitmap members;
  {
    auto lock = services_.pipeline.LockForRead();
    const segments::Catalog& catalog = services_.audiences.catalog();
    absl::StatusOr<const bitmap::Bitmap*> found = segment ? catalog.SegmentMembers(name) : catalog.TagMembers(name);
    if (!found.ok()) return StatusReply(found.status());
    members = **found;  // a copy: the export renders it after this lock is released
  }
  Response r;
  r.content_type = export_columns.csv ? "text/csv; charset=utf-8" : "application/x-ndjson";
  r.body_source = internal::MemberExport(services_, std::move(export_columns), std::move(members), limit);
  return r;
}

}  // namespace facet::api

#include "api/json_render.h"

#include <limits>

#include "base/time_format.h"

namespace facet::api {

using nlohmann::json;

json ErrorJson(std::string_view error, std::string_view field, int index) {
  json j = json::object();
  j["error"] = error;
  // Only what applies: a field when one is at fault, an index for batch items.
  if (!field.empty()) j["field"] = field;
  if (index >= 0) j["index"] = index;
  return j;
}

json ErrorJson(const ingest::InputError& e) { return ErrorJson(e.error, e.field, e.index); }

json RawJson(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return json(text);
  return j;
}

json TimeOrNull(TimeMs ms) {
  if (ms == 0) return nullptr;
  return FormatIso8601(ms);
}

json PersonJson(const identity::IdentityGraph& graph, const profiles::Profile& profile, PersonId root) {
  json j = json::object();
  j["person_id"] = root;

  json identities = json::array();
  for (const identity::Identifier& id : graph.Identities(root)) {
    identities.push_back({{"ns", id.ns}, {"value", id.value}});
  }
  j["identities"] = std::move(identities);
  json claims = json::array();
  for (const identity::Claim& c : graph.Claims(root)) {
    claims.push_back({{"ns", c.id.ns}, {"value", c.id.value}, {"claimed_at", FormatIso8601(c.at)}});
  }
  // Identifiers claimed through a public write key and not yet confirmed:
  // they link nobody.
  j["unverified"] = std::move(claims);

  json traits = json::object();
  for (const auto& [key, value] : profile.traits) traits[key] = RawJson(value.json);
  j["traits"] = std::move(traits);

  bool seen = profile.event_count > 0 && profile.first_seen != std::numeric_limits<TimeMs>::max();
  j["event_count"] = profile.event_count;
  j["first_seen"] = seen ? json(FormatIso8601(profile.first_seen)) : json(nullptr);
  j["last_seen"] = seen ? json(FormatIso8601(profile.last_seen)) : json(nullptr);

  json by_event = json::object();
  for (const auto& [name, n] : profile.counts_by_event) by_event[name] = n;
  j["event_counts"] = std::move(by_event);
  json by_type = json::object();
  for (const auto& [type, n] : profile.counts_by_type) by_type[type] = n;
  j["counts_by_type"] = std::move(by_type);

  j["revenue"] = profile.revenue;
  json revenue = json::object();
  for (const auto& [name, v] : profile.revenue_by_event) revenue[name] = v;
  j["revenue_by_event"] = std::move(revenue);

  if (profile.location) {
    const profiles::Location& l = *profile.location;
    const bool point = l.has_coordinates();
    j["location"] = {{"latitude", point ? json(l.latitude) : json(nullptr)},
                     {"longitude", point ? json(l.longitude) : json(nullptr)},
                     {"city", l.city},
                     {"country", l.country},
                     {"at", TimeOrNull(profile.location_at)}};
  } else {
    j["location"] = nullptr;
  }

  json atoms = json::array();
  for (PersonId atom : graph.Members(root)) atoms.push_back(atom);
  j["merged_atoms"] = std::move(atoms);
  return j;
}

json EventJson(const profiles::Event& e, PersonId person_root) {
  json j = json::object();
  j["message_id"] = e.message_id;
  j["type"] = profiles::EventTypeName(e.type);
  bool named = e.type == profiles::EventType::kTrack || e.type == profiles::EventType::kPage ||
               e.type == profiles::EventType::kScreen;
  j["event"] = named && !e.name.empty() ? json(e.name) : json(nullptr);
  if (e.type == profiles::EventType::kPage || e.type == profiles::EventType::kScreen) {
    j["name"] = e.name.empty() ? json(nullptr) : json(e.name);
  }
  j["timestamp"] = FormatIso8601(e.timestamp);
  j["received_at"] = FormatIso8601(e.received_at);
  j["user_id"] = e.user_id.empty() ? json(nullptr) : json(e.user_id);
  j["anonymous_id"] = e.anonymous_id.empty() ? json(nullptr) : json(e.anonymous_id);
  if (e.type == profiles::EventType::kAlias) j["previous_id"] = e.previous_id;
  if (e.type == profiles::EventType::kGroup) j["group_id"] = e.group_id;
  j["properties"] = RawJson(e.properties);
  j["context"] = RawJson(e.context);
  json traits = json::object();
  for (const auto& [key, value] : e.traits) traits[key] = RawJson(value);
  j["traits"] = std::move(traits);
  if (e.revenue) {
    j["revenue"] = *e.revenue;
    if (!e.currency.empty()) j["currency"] = e.currency;
  }
  j["person_id"] = person_root == kNoPerson ? json(nullptr) : json(person_root);
  return j;
}

std::string_view MergeStatusName(identity::MergeStatus s) {
  switch (s) {
    case identity::MergeStatus::kMerged:
      return "merged";
    case identity::MergeStatus::kUndone:
      return "undone";
    case identity::MergeStatus::kRefused:
      return "refused";
  }
  return "unknown";
}

json MergeJson(const identity::MergeRecord& m) {
  json j = json::object();
  j["id"] = m.id;
  j["status"] = MergeStatusName(m.status);
  j["survivor"] = m.survivor == kNoPerson ? json(nullptr) : json(m.survivor);
  j["absorbed"] = m.absorbed == kNoPerson ? json(nullptr) : json(m.absorbed);
  j["at"] = TimeOrNull(m.at);
  j["undone_at"] = TimeOrNull(m.undone_at);
  j["reason"] = m.reason;
  j["via"] = {{"ns", m.via.ns}, {"value", m.via.value}};
  j["detail"] = m.detail.empty() ? json(nullptr) : json(m.detail);
  return j;
}

json QuarantineJson(const ingest::QuarantineEntry& q) {
  json j = json::object();
  j["id"] = q.id;
  j["received_at"] = TimeOrNull(q.received_at);
  j["index"] = q.error.index;
  j["field"] = q.error.field.empty() ? json(nullptr) : json(q.error.field);
  j["error"] = q.error.error;
  j["raw"] = q.raw;
  return j;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace); }

}  // namespace facet::api

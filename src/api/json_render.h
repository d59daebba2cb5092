// JSON views of Facet's domain types for the REST API.
//
// Functions that take the identity graph or a profile read shared state: the
// caller holds the pipeline's read lock while calling them.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "identity/identity_graph.h"
#include "ingest/pipeline.h"
#include "ingest/tracking_parser.h"
#include "profiles/event.h"
#include "profiles/profile.h"

namespace facet::api {

// {"error": error, "field": field or null, "index": index}.
nlohmann::json ErrorJson(std::string_view error, std::string_view field = {}, int index = -1);
nlohmann::json ErrorJson(const ingest::InputError& e);

// Parses JSON text that the store keeps (properties, context, trait values);
// text that does not parse is returned as a JSON string.
nlohmann::json RawJson(std::string_view text);

// ISO-8601 text, or null when `ms` is 0 (unset).
nlohmann::json TimeOrNull(TimeMs ms);

// The 360 view of person `root`: identities, traits, counts, revenue,
// location and atoms.
nlohmann::json PersonJson(const identity::IdentityGraph& graph, const profiles::Profile& profile, PersonId root);

// One stored event, attributed to `person_root` (the current root of its atom).
nlohmann::json EventJson(const profiles::Event& e, PersonId person_root);

nlohmann::json MergeJson(const identity::MergeRecord& m);
std::string_view MergeStatusName(identity::MergeStatus s);

nlohmann::json QuarantineJson(const ingest::QuarantineEntry& q);

// Serialises `j` compactly; invalid UTF-8 in strings is replaced by U+FFFD.
std::string Dump(const nlohmann::json& j);

}  // namespace facet::api

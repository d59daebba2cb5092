// Helpers for tests that drive a Pipeline directly: parsed events as the
// HTTP layer would hand them over, and a synchronous submit.
#pragma once

#include <future>
#include <string>
#include <utility>
#include <vector>

#include "identity/identity_graph.h"
#include "ingest/pipeline.h"

namespace facet::ingest::testing {

// A track event `name` of user_id and/or anonymous_id (empty: none), dated
// `at` and received at `received_at`, with both identifiers attached.
inline ParsedEvent TrackEvent(std::string message_id, std::string user_id, std::string anonymous_id, std::string name,
                              TimeMs at, TimeMs received_at) {
  ParsedEvent pe;
  pe.event.type = profiles::EventType::kTrack;
  pe.event.message_id = std::move(message_id);
  pe.event.name = std::move(name);
  pe.event.timestamp = at;
  pe.event.received_at = received_at;
  if (!user_id.empty()) {
    pe.event.user_id = user_id;
    pe.identifiers.push_back({"user_id", user_id});
  }
  if (!anonymous_id.empty()) {
    pe.event.anonymous_id = anonymous_id;
    pe.identifiers.push_back({"anonymous_id", anonymous_id});
  }
  return pe;
}

inline identity::IdentityOptions IdentityOptionsForTest() {
  identity::IdentityOptions o;
  o.hmac_key = "test-key";
  return o;
}

// Submits `events` (and `rejected`, each with a raw text) and waits for the
// acknowledgement.
inline IngestAck SubmitAndWait(Pipeline& pipeline, std::vector<ParsedEvent> events,
                               std::vector<InputError> rejected = {}) {
  RequestParse p;
  p.events = std::move(events);
  p.rejected = std::move(rejected);
  p.rejected_raw.resize(p.rejected.size(), "{\"bad\":true}");
  std::promise<IngestAck> done;
  pipeline.Submit(std::move(p), [&](IngestAck a) { done.set_value(std::move(a)); });
  return done.get_future().get();
}

// The person an identifier belongs to now, kNoPerson when unknown.
inline PersonId FindPerson(Pipeline& pipeline, const identity::IdentityGraph& graph, std::string ns,
                           std::string value) {
  auto lock = pipeline.LockForRead();
  auto p = graph.Find({std::move(ns), std::move(value)});
  return p.ok() ? *p : kNoPerson;
}

}  // namespace facet::ingest::testing

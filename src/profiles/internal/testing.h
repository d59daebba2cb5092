// Field-by-field comparisons for the module's tests, so that a failure names
// the field that differs. Include only from *_test.cc files.
#pragma once

#include "gtest/gtest.h"
#include "profiles/event.h"
#include "profiles/profile.h"

namespace facet::profiles::internal {

inline void ExpectSameLocation(const std::optional<Location>& a, const std::optional<Location>& b) {
  ASSERT_EQ(a.has_value(), b.has_value());
  if (!a) return;
  EXPECT_EQ(a->latitude, b->latitude);
  EXPECT_EQ(a->longitude, b->longitude);
  EXPECT_EQ(a->city, b->city);
  EXPECT_EQ(a->country, b->country);
}

inline void ExpectSameEvent(const Event& a, const Event& b) {
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.person, b.person);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.message_id, b.message_id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.timestamp, b.timestamp);
  EXPECT_EQ(a.received_at, b.received_at);
  EXPECT_EQ(a.user_id, b.user_id);
  EXPECT_EQ(a.anonymous_id, b.anonymous_id);
  EXPECT_EQ(a.previous_id, b.previous_id);
  EXPECT_EQ(a.group_id, b.group_id);
  EXPECT_EQ(a.traits, b.traits);
  EXPECT_EQ(a.properties, b.properties);
  EXPECT_EQ(a.context, b.context);
  EXPECT_EQ(a.revenue, b.revenue);
  EXPECT_EQ(a.currency, b.currency);
  ExpectSameLocation(a.location, b.location);
}

inline void ExpectSameProfile(const Profile& a, const Profile& b) {
  EXPECT_EQ(a.first_seen, b.first_seen);
  EXPECT_EQ(a.last_seen, b.last_seen);
  EXPECT_EQ(a.event_count, b.event_count);
  EXPECT_EQ(a.counts_by_type, b.counts_by_type);
  EXPECT_EQ(a.counts_by_event, b.counts_by_event);
  EXPECT_EQ(a.revenue_by_event, b.revenue_by_event);
  EXPECT_EQ(a.revenue, b.revenue);
  ASSERT_EQ(a.traits.size(), b.traits.size());
  for (auto ia = a.traits.begin(), ib = b.traits.begin(); ia != a.traits.end(); ++ia, ++ib) {
    EXPECT_EQ(ia->first, ib->first);
    EXPECT_EQ(ia->second.updated_at, ib->second.updated_at) << ia->first;
    EXPECT_EQ(ia->second.seq, ib->second.seq) << ia->first;
    EXPECT_EQ(ia->second.json, ib->second.json) << ia->first;
  }
  ExpectSameLocation(a.location, b.location);
  EXPECT_EQ(a.location_at, b.location_at);
  EXPECT_EQ(a.applied_seq, b.applied_seq);
}

}  // namespace facet::profiles::internal

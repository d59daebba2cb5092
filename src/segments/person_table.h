// PersonTable: what the segment engine knows of each person, in memory and
// compact: current traits, the person's events (time, name, scalar
// properties, a few context fields) and last known location. Fed by the
// ingest pipeline (events, trait changes, merges, undos) and rebuilt from
// the event log at start-up.
//
//   PersonTable table;
//   table.AddEvent(root, event);               // after profiles applied it
//   table.SetTraits(root, profile.traits);     // when the event carried traits
//   table.Merge(survivor, absorbed);
//
// Persons are identity-graph roots; an absorbed root is cleared and leaves
// live(). Thread-safety: none; the owner serialises access.
#pragma once

#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "base/types.h"
#include "bitmap/bitmap.h"
#include "profiles/event.h"
#include "profiles/profile.h"
#include "segments/numeric_index.h"
#include "segments/string_index.h"
#include "segments/value.h"

namespace facet::segments {

// Interned strings: ids are dense and stable for the table's lifetime.
class StringPool {
 public:
  uint32_t Intern(std::string_view s);
  // kNone when `s` was never interned.
  uint32_t Find(std::string_view s) const;
  std::string_view Get(uint32_t id) const { return strings_[id]; }
  size_t size() const { return strings_.size(); }
  size_t MemoryBytes() const;
  static constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

 private:
  std::deque<std::string> strings_;
  absl::flat_hash_map<std::string_view, uint32_t> ids_;
};

// What PersonTable::AddEvent keeps of one event's JSON: its properties,
// flattened (nulls left out), and the context fields that first_touch and
// last_touch read. Reading them parses the JSON, the costly part of
// AddEvent, and depends on the event alone: a caller with more threads than
// the table's single writer can read them anywhere (e.g. where the request
// was parsed) and hand them over.
//
//   EventFields fields(event);            // any thread
//   table.AddEvent(root, event, fields);  // the table's writer
class EventFields {
 public:
  EventFields() = default;  // an event without properties or kept context fields
  explicit EventFields(const profiles::Event& e);

 private:
  friend class PersonTable;
  struct Field {
    uint32_t path_begin = 0;  // into text_: "properties.<path>" or "context.<path>"
    uint32_t path_size = 0;
    uint32_t string_begin = 0;  // kString: the value, into text_
    uint32_t string_size = 0;
    Value::Kind kind = Value::Kind::kNull;
    bool boolean = false;
    uint32_t array = 0;  // kArray: index into arrays_
    double number = 0;
  };
  std::string text_;
  std::vector<Field> fields_;  // the properties, then the context fields
  size_t property_count_ = 0;
  size_t context_count_ = 0;
  std::vector<std::vector<Literal>> arrays_;
};

// Bounds on what traits the table indexes: a public write key can send any
// trait names, and each indexed path is a column and a pool entry. A path
// past a bound stays in the profile (and the event) but the segment
// language does not see it; it is counted and reported.
struct PersonTableOptions {
  // Distinct trait paths indexed (top-level keys and flattened sub-paths).
  size_t max_trait_paths = 2000;
  // Segments of a flattened trait path ("address.geo.city" has three).
  size_t max_trait_depth = 4;
};

class PersonTable {
 public:
  // A scalar (or array) stored compactly; strings and arrays by id.
  struct Cell {
    uint32_t key = 0;  // interned path
    Value::Kind kind = Value::Kind::kNull;
    bool boolean = false;
    uint32_t ref = 0;  // kString: string id; kArray: array id
    double number = 0;
  };
  enum class EventKind : uint8_t { kTrack, kOther };
  struct EventRow {
    TimeMs time = 0;
    EventSeq seq = 0;
    PersonId atom = kNoPerson;  // the atom the event belongs to (for undo)
    uint32_t name = 0;          // interned track event name (kOther: page/screen name or "")
    EventKind kind = EventKind::kTrack;
    uint32_t cells_begin = 0;  // into Person::cells: properties, then context fields
    uint16_t property_count = 0;
    uint16_t context_count = 0;
  };
  struct Person {
    std::vector<EventRow> events;  // by (time, seq)
    std::vector<Cell> cells;       // event properties/context, by event
    std::vector<Cell> traits;      // by key
    double latitude = std::numeric_limits<double>::quiet_NaN();
    double longitude = std::numeric_limits<double>::quiet_NaN();
    TimeMs location_at = std::numeric_limits<TimeMs>::min();
  };

  explicit PersonTable(PersonTableOptions options = {});
  ~PersonTable();

  // Records event `e` (already attributed to `root`).
  void AddEvent(PersonId root, const profiles::Event& e);
  // The same, with `fields` read from `e` beforehand (EventFields(e)).
  void AddEvent(PersonId root, const profiles::Event& e, const EventFields& fields);
  // Replaces the traits of `root` with `traits` (a profile's, JSON values).
  // Appends to `changed` (optional) the interned paths whose value was
  // added, removed or changed, and to `unindexed` (optional) the paths left
  // out because of PersonTableOptions' bounds, each with why.
  struct Unindexed {
    std::string path;
    std::string reason;
  };
  void SetTraits(PersonId root, const std::map<std::string, profiles::TraitValue, std::less<>>& traits,
                 std::vector<uint32_t>* changed = nullptr, std::vector<Unindexed>* unindexed = nullptr);
  // Distinct trait paths indexed, and those refused by each bound (a path
  // refused again is not counted again).
  size_t trait_paths() const { return trait_paths_.size(); }
  size_t refused_over_count() const { return refused_count_; }
  size_t refused_too_deep() const { return refused_deep_; }
  // Makes `root` a live person (one with no events yet).
  void Touch(PersonId root);
  // `absorbed` joins `survivor`: its events and location move over; the
  // caller then sets the survivor's traits from its merged profile.
  void Merge(PersonId survivor, PersonId absorbed);
  // Undo of a merge: events of `restored_atoms` move from `survivor` to
  // `restored`, which becomes live; the caller resets both persons' traits
  // and location from their profiles.
  void Split(PersonId survivor, PersonId restored, std::span<const PersonId> restored_atoms);
  // Location (the caller passes the latest known one after a split).
  void SetLocation(PersonId root, double latitude, double longitude, TimeMs at);

  // All live persons.
  const bitmap::Bitmap& live() const { return live_; }
  // Null for an unknown or absorbed id.
  const Person* Get(PersonId id) const;
  size_t capacity() const { return persons_.size(); }

  StringPool& strings() { return strings_; }
  const StringPool& strings() const { return strings_; }

  Value ToValue(const Cell& c) const;
  // The trait with interned path `key`, or null.
  Value Trait(const Person& p, uint32_t key) const;
  // Property (key of "properties.<path>") or context ("context.<path>") of an event.
  Value EventField(const Person& p, const EventRow& e, uint32_t key) const;

  // The numbers of trait `key` (interned path) across persons, with a range
  // index; null when no person has a number there.
  const NumericIndex* NumericTrait(uint32_t key) const;
  // The strings of trait `key` across persons, as interned ids, with a
  // bitmap per value while they are few; null when no person has a string
  // there.
  const StringIndex* StringTrait(uint32_t key) const;

  // Approximate heap bytes held.
  size_t MemoryBytes() const;

 private:
  Person& Mutable(PersonId id);
  // Updates the numeric columns of `id` for the trait keys in `keys`.
  void UpdateColumns(PersonId id, const std::vector<uint32_t>& keys);
  Cell MakeCell(uint32_t key, const Value& v);

  std::vector<Person> persons_;
  bitmap::Bitmap live_;
  StringPool strings_;
  std::deque<std::vector<Literal>> arrays_;
  absl::flat_hash_map<uint32_t, std::unique_ptr<NumericIndex>> numeric_;
  absl::flat_hash_map<uint32_t, std::unique_ptr<StringIndex>> strings_by_key_;
  std::vector<uint32_t> scratch_;
  PersonTableOptions options_;
  absl::flat_hash_set<uint32_t> trait_paths_;       // interned paths indexed
  absl::flat_hash_set<std::string> refused_paths_;  // at most kMaxRefusedKept
  size_t refused_count_ = 0;
  size_t refused_deep_ = 0;
};

}  // namespace facet::segments

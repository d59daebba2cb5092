// RowTransformer and EventGrouper: turn the rows of an input into Segment
// messages (JSON text) as a Mapping says, or into rejections with a reason.
//
// One row, one event (mappings without group_by):
//
//   ASSIGN_OR_RETURN(RowTransformer t,
//                    RowTransformer::Create(mapping, reader->columns(), {.input_name = "a.csv"}));
//   std::string json, reason;
//   if (t.Transform(record, &json, &reason)) send(json); else reject(record.line, reason);
//
// Many rows, one event (group_by): every row goes to an EventGrouper, which
// keeps all groups in memory until Finish() emits one event per group in the
// order keys were first seen, so rows of a group need not be adjacent.
//
//   EventGrouper grouper(mapping, options);
//   std::string reason;
//   if (!grouper.Add(t, record, {input, record.line}, &reason)) reject(...);
//   grouper.Finish(emit, reject);
//
// Neither class is thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "identity/identifier.h"
#include "importer/internal/bound_value.h"
#include "importer/internal/json_object.h"
#include "importer/internal/timestamp.h"
#include "importer/mapping.h"
#include "importer/record_reader.h"

namespace facet::importer {

struct TransformOptions {
  // The input's file name (without directories), part of default messageIds.
  std::string input_name;
  // Largest event the server accepts, in bytes of JSON.
  size_t max_event_bytes = 32000;
  // Key of the default messageIds (an HMAC of the row's place): without it
  // they cannot be guessed, so nobody can send an event ahead with the same
  // id. The same key gives the same ids, so a re-run import is de-duplicated.
  std::string id_key;
};

// Which row of which input (0-based position in the list of inputs).
struct RowRef {
  uint32_t input = 0;
  int64_t line = 0;
};

// An event ready to send, with the rows it carries.
struct RowEvent {
  std::string json;
  std::vector<RowRef> rows;
  std::string raw;             // the rows' text, joined by '\n'
  uint32_t items_omitted = 0;  // items left out of the list to fit the size limit
};

// Rows that will not be sent, and why.
struct Rejection {
  std::vector<RowRef> rows;
  std::string reason;
  std::string raw;  // the rows' text, joined by '\n'
};

class RowTransformer {
 public:
  // Binds `mapping` (which must outlive the transformer) to the columns of
  // one input. NotFound naming the key and column when the mapping reads a
  // column the input does not have; InvalidArgument for a bad timestamp
  // format or zone.
  static absl::StatusOr<RowTransformer> Create(const Mapping& mapping, const std::vector<std::string>& columns,
                                               TransformOptions options);

  // The whole event for one row. False with `*reason` when the row cannot be
  // used: a bad record, a value that does not convert, no identifier, an
  // event over the size limit. For mappings without group_by.
  bool Transform(const Record& record, std::string* json, std::string* reason) const;

  const Mapping& mapping() const { return *mapping_; }
  const TransformOptions& options() const { return options_; }

 private:
  friend class EventGrouper;
  RowTransformer() = default;

  // The event's fields other than group items and aggregates. `id_seed`
  // makes the default messageId.
  bool BuildEvent(const Record& record, const std::string& id_seed, internal::JsonObject* event,
                  std::string* reason) const;
  bool GroupKey(const Record& record, std::string* key, std::string* reason) const;
  // One group row's item JSON object (empty without items) and aggregate
  // inputs (NaN where the row has no value).
  bool GroupItem(const Record& record, std::string* item, std::vector<double>* values, std::string* reason) const;

  const Mapping* mapping_ = nullptr;
  std::vector<std::string> columns_;
  TransformOptions options_;
  std::optional<identity::Pseudonymizer> id_keys_;  // keyed by options_.id_key
  std::optional<internal::BoundValue> event_, name_, user_id_, anonymous_id_, group_id_, previous_id_, message_id_,
      timestamp_;
  std::optional<internal::TimestampParser> timestamp_parser_;
  struct BoundField {
    std::vector<std::string> path;
    internal::BoundValue value;
  };
  std::vector<BoundField> fields_;  // traits, properties, context, in that order
  std::optional<internal::BoundValue> group_key_;
  std::vector<BoundField> item_fields_;
  std::vector<std::vector<int>> aggregate_columns_;
};

class EventGrouper {
 public:
  // `mapping` must have group_by and outlive the grouper.
  EventGrouper(const Mapping& mapping, size_t max_event_bytes);
  ~EventGrouper();

  // Adds a row (converted by `t`, bound to the row's input) to its group.
  // False with `*reason` when the row cannot be used; the row then counts
  // for nothing and its group is unaffected.
  bool Add(const RowTransformer& t, const Record& record, RowRef ref, std::string* reason);

  // Emits one event per group with at least one accepted row, in first-seen
  // order, and frees the groups. A group whose event is over the size limit
  // is cut down (group_by.on_oversize: truncate_items) or passed to
  // `reject` with all its rows.
  void Finish(const std::function<void(RowEvent)>& emit, const std::function<void(Rejection)>& reject);

  size_t groups() const { return groups_.size(); }

 private:
  struct Group;
  bool BuildGroupEvent(Group& g, RowEvent* out, std::string* reason) const;

  const Mapping& mapping_;
  size_t max_event_bytes_;
  absl::flat_hash_map<std::string, size_t> index_;
  std::vector<std::unique_ptr<Group>> groups_;
};

// A deterministic messageId for `seed` ("imp-" and 32 hex digits).
std::string DefaultMessageId(std::string_view key, std::string_view seed);

}  // namespace facet::importer

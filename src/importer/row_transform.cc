#include "importer/row_transform.h"

#include <cmath>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "base/status.h"
#include "base/time_format.h"
#include "identity/identifier.h"
#include "importer/internal/json_text.h"
#include "importer/internal/strings.h"

namespace facet::importer {
namespace {

using internal::AppendJsonString;
using internal::BoundValue;
using internal::JsonObject;
using internal::JsonString;

constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

std::vector<std::string> Path(std::initializer_list<std::string_view> prefix, std::string_view dotted) {
  std::vector<std::string> path(prefix.begin(), prefix.end());
  for (std::string_view part : internal::Split(dotted, '.')) path.emplace_back(part);
  return path;
}

absl::StatusOr<std::optional<BoundValue>> BindOptional(const std::optional<ValueSource>& source,
                                                       const std::vector<std::string>& columns) {
  if (!source) return std::optional<BoundValue>();
  ASSIGN_OR_RETURN(BoundValue b, internal::Bind(*source, columns));
  return std::optional<BoundValue>(std::move(b));
}

}  // namespace

std::string DefaultMessageId(std::string_view key, std::string_view seed) {
  // HMAC-SHA256 under `key`, as identifiers are pseudonymised: unguessable
  // without the key, stable with it.
  return "imp-" + identity::Pseudonymizer(std::string(key)).HexDigest("import", seed).substr(0, 32);
}

absl::StatusOr<RowTransformer> RowTransformer::Create(const Mapping& mapping, const std::vector<std::string>& columns,
                                                      TransformOptions options) {
  RowTransformer t;
  t.mapping_ = &mapping;
  t.columns_ = columns;
  t.options_ = std::move(options);
  t.id_keys_.emplace(t.options_.id_key);
  ASSIGN_OR_RETURN(t.event_, BindOptional(mapping.event, columns));
  ASSIGN_OR_RETURN(t.name_, BindOptional(mapping.name, columns));
  ASSIGN_OR_RETURN(t.user_id_, BindOptional(mapping.user_id, columns));
  ASSIGN_OR_RETURN(t.anonymous_id_, BindOptional(mapping.anonymous_id, columns));
  ASSIGN_OR_RETURN(t.group_id_, BindOptional(mapping.group_id, columns));
  ASSIGN_OR_RETURN(t.previous_id_, BindOptional(mapping.previous_id, columns));
  ASSIGN_OR_RETURN(t.message_id_, BindOptional(mapping.message_id, columns));
  if (mapping.timestamp) {
    ASSIGN_OR_RETURN(BoundValue ts, internal::Bind(mapping.timestamp->source, columns));
    t.timestamp_ = std::move(ts);
    absl::StatusOr<internal::TimestampParser> parser =
        internal::TimestampParser::Create(mapping.timestamp->format, mapping.timestamp->timezone);
    if (!parser.ok()) return Annotate(parser.status(), "timestamp");
    t.timestamp_parser_ = std::move(*parser);
  }
  const bool identify = mapping.type == "identify";
  for (const FieldMapping& f : mapping.traits) {
    ASSIGN_OR_RETURN(BoundValue b, internal::Bind(f.source, columns));
    t.fields_.push_back({identify ? Path({"traits"}, f.name) : Path({"context", "traits"}, f.name), std::move(b)});
  }
  for (const FieldMapping& f : mapping.properties) {
    ASSIGN_OR_RETURN(BoundValue b, internal::Bind(f.source, columns));
    t.fields_.push_back({Path({"properties"}, f.name), std::move(b)});
  }
  for (const FieldMapping& f : mapping.context) {
    ASSIGN_OR_RETURN(BoundValue b, internal::Bind(f.source, columns));
    t.fields_.push_back({Path({"context"}, f.name), std::move(b)});
  }
  if (mapping.group_by) {
    const GroupBy& g = *mapping.group_by;
    ASSIGN_OR_RETURN(BoundValue key, internal::Bind(g.key, columns));
    t.group_key_ = std::move(key);
    for (const FieldMapping& f : g.item_fields) {
      ASSIGN_OR_RETURN(BoundValue b, internal::Bind(f.source, columns));
      t.item_fields_.push_back({Path({}, f.name), std::move(b)});
    }
    for (const Aggregate& a : g.aggregates) {
      std::vector<int> indexes;
      for (const std::string& c : a.columns) {
        ASSIGN_OR_RETURN(int index, internal::ColumnIndex(columns, c, "group_by.aggregates." + a.name));
        indexes.push_back(index);
      }
      t.aggregate_columns_.push_back(std::move(indexes));
    }
  }
  return t;
}

bool RowTransformer::BuildEvent(const Record& record, const std::string& id_seed, JsonObject* event,
                                std::string* reason) const {
  const Mapping& m = *mapping_;
  const Encoding enc = m.encoding;
  std::string text;
  event->Set({"type"}, JsonString(m.type));
  if (event_) {
    if (!EvalText(*event_, record, columns_, enc, &text, reason)) return false;
    if (text.empty()) {
      *reason = internal::Cat(event_->label, ": the event name is empty");
      return false;
    }
    event->Set({"event"}, JsonString(text));
  }
  if (name_) {
    if (!EvalText(*name_, record, columns_, enc, &text, reason)) return false;
    if (!text.empty()) event->Set({"name"}, JsonString(text));
  }
  std::string user_id, anonymous_id;
  if (user_id_ && !EvalText(*user_id_, record, columns_, enc, &user_id, reason)) return false;
  if (anonymous_id_ && !(m.anonymous_id_only_without_user_id && !user_id.empty())) {
    if (!EvalText(*anonymous_id_, record, columns_, enc, &anonymous_id, reason)) return false;
  }
  if (user_id.empty() && anonymous_id.empty()) {
    *reason =
        internal::Cat("no userId or anonymousId (", user_id_ ? user_id_->label : anonymous_id_->label, " is empty)");
    return false;
  }
  if (!user_id.empty()) event->Set({"userId"}, JsonString(user_id));
  if (!anonymous_id.empty()) event->Set({"anonymousId"}, JsonString(anonymous_id));
  if (group_id_) {
    if (!EvalText(*group_id_, record, columns_, enc, &text, reason)) return false;
    if (text.empty()) {
      *reason = internal::Cat(group_id_->label, ": the groupId is empty");
      return false;
    }
    event->Set({"groupId"}, JsonString(text));
  }
  if (previous_id_) {
    if (!EvalText(*previous_id_, record, columns_, enc, &text, reason)) return false;
    if (text.empty()) {
      *reason = internal::Cat(previous_id_->label, ": the previousId is empty");
      return false;
    }
    event->Set({"previousId"}, JsonString(text));
  }
  text.clear();
  if (message_id_ && !EvalText(*message_id_, record, columns_, enc, &text, reason)) return false;
  event->Set({"messageId"},
             JsonString(text.empty() ? "imp-" + id_keys_->HexDigest("import", id_seed).substr(0, 32) : text));
  if (timestamp_) {
    if (!EvalText(*timestamp_, record, columns_, enc, &text, reason)) return false;
    if (!text.empty()) {
      TimeMs ms = 0;
      if (!timestamp_parser_->Parse(text, &ms)) {
        *reason = internal::Cat(timestamp_->label, ": \"", text, "\" does not match the format \"", m.timestamp->format,
                                "\"");
        return false;
      }
      event->Set({"timestamp"}, JsonString(FormatIso8601(ms)));
    }
  }
  for (const ConstantField& c : m.constants) {
    if (c.path[0] == "traits" && m.type != "identify") {
      std::vector<std::string> path = {"context"};
      path.insert(path.end(), c.path.begin(), c.path.end());
      event->Set(path, c.json);
    } else {
      event->Set(c.path, c.json);
    }
  }
  std::string json;
  for (const BoundField& f : fields_) {
    if (!EvalJson(f.value, record, columns_, enc, &json, reason)) return false;
    if (!json.empty()) event->Set(f.path, std::move(json));
  }
  return true;
}

bool RowTransformer::Transform(const Record& record, std::string* json, std::string* reason) const {
  if (!record.error.empty()) {
    *reason = record.error;
    return false;
  }
  JsonObject event;
  if (!BuildEvent(record, internal::Cat(options_.input_name, ":", record.line), &event, reason)) {
    return false;
  }
  json->clear();
  event.AppendTo(json);
  if (json->size() > options_.max_event_bytes) {
    *reason =
        internal::Cat("the event is ", json->size(), " bytes, over the ", options_.max_event_bytes, "-byte limit");
    return false;
  }
  return true;
}

bool RowTransformer::GroupKey(const Record& record, std::string* key, std::string* reason) const {
  if (!EvalText(*group_key_, record, columns_, mapping_->encoding, key, reason)) return false;
  if (key->empty()) {
    *reason = internal::Cat(group_key_->label, ": the group key is empty");
    return false;
  }
  return true;
}

bool RowTransformer::GroupItem(const Record& record, std::string* item, std::vector<double>* values,
                               std::string* reason) const {
  item->clear();
  if (!item_fields_.empty()) {
    JsonObject obj;
    std::string json;
    for (const BoundField& f : item_fields_) {
      if (!EvalJson(f.value, record, columns_, mapping_->encoding, &json, reason)) return false;
      if (!json.empty()) obj.Set(f.path, std::move(json));
    }
    obj.AppendTo(item);
  }
  const std::vector<Aggregate>& aggregates = mapping_->group_by->aggregates;
  values->assign(aggregates.size(), kNoValue);
  for (size_t i = 0; i < aggregates.size(); ++i) {
    if (aggregates[i].kind == Aggregate::Kind::kCount) {
      (*values)[i] = 1;
      continue;
    }
    double product = 1;
    bool present = true;
    for (int column : aggregate_columns_[i]) {
      const std::string& text = record.fields[static_cast<size_t>(column)];
      double v = 0;
      if (internal::ParseNumber(text, &v)) {
        product *= v;
      } else if (text.find_first_not_of(" \t") == std::string::npos) {
        present = false;
      } else {
        *reason =
            internal::Cat(columns_[static_cast<size_t>(column)], ": \"", text.substr(0, 60), "\" is not a number");
        return false;
      }
    }
    if (present) (*values)[i] = product;
  }
  return true;
}

struct EventGrouper::Group {
  std::string key;
  JsonObject head;
  std::string items;                // item objects joined by ','
  std::vector<uint32_t> item_ends;  // end offset of each item in `items`
  std::vector<double> aggregates;   // NaN until a row has a value
  std::vector<RowRef> rows;
  std::string raw;
};

EventGrouper::EventGrouper(const Mapping& mapping, size_t max_event_bytes)
    : mapping_(mapping), max_event_bytes_(max_event_bytes) {}

EventGrouper::~EventGrouper() = default;

bool EventGrouper::Add(const RowTransformer& t, const Record& record, RowRef ref, std::string* reason) {
  if (!record.error.empty()) {
    *reason = record.error;
    return false;
  }
  std::string key, item;
  std::vector<double> values;
  if (!t.GroupKey(record, &key, reason)) return false;
  if (!t.GroupItem(record, &item, &values, reason)) return false;
  Group* g = nullptr;
  auto it = index_.find(key);
  if (it == index_.end()) {
    auto fresh = std::make_unique<Group>();
    if (!t.BuildEvent(record, internal::Cat(t.options().input_name, "\n", key), &fresh->head, reason)) {
      return false;
    }
    fresh->key = key;
    fresh->aggregates.assign(values.size(), kNoValue);
    index_.emplace(std::move(key), groups_.size());
    groups_.push_back(std::move(fresh));
    g = groups_.back().get();
  } else {
    g = groups_[it->second].get();
  }
  if (!item.empty()) {
    if (!g->items.empty()) g->items.push_back(',');
    g->items.append(item);
    g->item_ends.push_back(static_cast<uint32_t>(g->items.size()));
  }
  const std::vector<Aggregate>& aggregates = mapping_.group_by->aggregates;
  for (size_t i = 0; i < values.size(); ++i) {
    double v = values[i];
    if (std::isnan(v)) continue;
    double& acc = g->aggregates[i];
    if (std::isnan(acc)) {
      acc = v;
      continue;
    }
    switch (aggregates[i].kind) {
      case Aggregate::Kind::kMin:
        acc = std::min(acc, v);
        break;
      case Aggregate::Kind::kMax:
        acc = std::max(acc, v);
        break;
      default:
        acc += v;
    }
  }
  if (!g->rows.empty()) g->raw.push_back('\n');
  g->raw.append(record.raw);
  g->rows.push_back(ref);
  return true;
}

bool EventGrouper::BuildGroupEvent(Group& g, RowEvent* out, std::string* reason) const {
  const GroupBy& spec = *mapping_.group_by;
  JsonObject& event = g.head;
  for (size_t i = 0; i < spec.aggregates.size(); ++i) {
    const Aggregate& a = spec.aggregates[i];
    double v = g.aggregates[i];
    if (std::isnan(v)) continue;
    std::string json = a.kind == Aggregate::Kind::kCount ? std::to_string(static_cast<int64_t>(v))
                                                         : internal::FormatDouble(internal::RoundTo(v, a.round));
    event.Set(Path({"properties"}, a.name), std::move(json));
  }
  out->items_omitted = 0;
  out->json.clear();
  if (spec.items_property.empty()) {
    event.AppendTo(&out->json);
  } else {
    std::vector<std::string> items_path = Path({"properties"}, spec.items_property);
    event.Set(items_path, internal::Cat("[", g.items, "]"));
    event.AppendTo(&out->json);
    if (out->json.size() > max_event_bytes_ && spec.on_oversize == GroupBy::Oversize::kTruncateItems) {
      // Keep as many items as fit, and say how many were left out.
      std::vector<std::string> omitted_path = items_path;
      omitted_path.back() += "_omitted";
      const size_t n = g.item_ends.size();
      event.Set(items_path, "[]");
      event.Set(omitted_path, std::to_string(n));
      size_t base = event.ToString().size();
      size_t k = 0;
      while (k < n && base + g.item_ends[k] <= max_event_bytes_) ++k;
      while (true) {
        event.Set(items_path,
                  internal::Cat("[", std::string_view(g.items).substr(0, k == 0 ? 0 : g.item_ends[k - 1]), "]"));
        event.Set(omitted_path, std::to_string(n - k));
        out->json.clear();
        event.AppendTo(&out->json);
        if (out->json.size() <= max_event_bytes_ || k == 0) break;
        --k;
      }
      out->items_omitted = static_cast<uint32_t>(n - k);
    }
  }
  if (out->json.size() > max_event_bytes_) {
    *reason = internal::Cat("the event for group \"", g.key, "\" is ", out->json.size(), " bytes, over the ",
                            max_event_bytes_, "-byte limit");
    return false;
  }
  return true;
}

void EventGrouper::Finish(const std::function<void(RowEvent)>& emit, const std::function<void(Rejection)>& reject) {
  index_.clear();
  for (std::unique_ptr<Group>& g : groups_) {
    RowEvent event;
    std::string reason;
    if (BuildGroupEvent(*g, &event, &reason)) {
      event.rows = std::move(g->rows);
      event.raw = std::move(g->raw);
      g.reset();
      emit(std::move(event));
    } else {
      Rejection r{std::move(g->rows), std::move(reason), std::move(g->raw)};
      g.reset();
      reject(std::move(r));
    }
  }
  groups_.clear();
}

}  // namespace facet::importer

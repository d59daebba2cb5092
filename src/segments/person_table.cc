#include "segments/person_table.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"

namespace facet::segments {
namespace {

// Context fields kept for first_touch / last_touch.
bool KeepContextField(std::string_view path) {
  return path == "channel" || path == "source" || path == "medium" || path.starts_with("campaign.");
}

bool EventBefore(const PersonTable::EventRow& a, const PersonTable::EventRow& b) {
  return a.time != b.time ? a.time < b.time : a.seq < b.seq;
}

}  // namespace

uint32_t StringPool::Intern(std::string_view s) {
  auto it = ids_.find(s);
  if (it != ids_.end()) return it->second;
  uint32_t id = static_cast<uint32_t>(strings_.size());
  strings_.emplace_back(s);
  ids_.emplace(strings_.back(), id);
  return id;
}

uint32_t StringPool::Find(std::string_view s) const {
  auto it = ids_.find(s);
  return it == ids_.end() ? kNone : it->second;
}

size_t StringPool::MemoryBytes() const {
  size_t bytes = ids_.capacity() * (sizeof(std::string_view) + sizeof(uint32_t) + 1);
  for (const std::string& s : strings_) bytes += sizeof(std::string) + (s.size() > 15 ? s.capacity() : 0);
  return bytes;
}

PersonTable::PersonTable(PersonTableOptions options) : options_(options) {}
PersonTable::~PersonTable() = default;

PersonTable::Person& PersonTable::Mutable(PersonId id) {
  if (id >= persons_.size()) persons_.resize(static_cast<size_t>(id) + 1);
  return persons_[id];
}

const PersonTable::Person* PersonTable::Get(PersonId id) const {
  if (id >= persons_.size() || !live_.Contains(id)) return nullptr;
  return &persons_[id];
}

PersonTable::Cell PersonTable::MakeCell(uint32_t key, const Value& v) {
  Cell c;
  c.key = key;
  c.kind = v.kind;
  switch (v.kind) {
    case Value::Kind::kNumber:
      c.number = v.number;
      break;
    case Value::Kind::kBool:
      c.boolean = v.boolean;
      break;
    case Value::Kind::kString:
      c.ref = strings_.Intern(v.string);
      break;
    case Value::Kind::kArray:
      c.ref = static_cast<uint32_t>(arrays_.size());
      arrays_.push_back(*v.array);
      break;
    case Value::Kind::kNull:
      break;
  }
  return c;
}

Value PersonTable::ToValue(const Cell& c) const {
  Value v;
  v.kind = c.kind;
  switch (c.kind) {
    case Value::Kind::kNumber:
      v.number = c.number;
      break;
    case Value::Kind::kBool:
      v.boolean = c.boolean;
      break;
    case Value::Kind::kString:
      v.string = strings_.Get(c.ref);
      break;
    case Value::Kind::kArray:
      v.array = &arrays_[c.ref];
      break;
    case Value::Kind::kNull:
      break;
  }
  return v;
}

Value PersonTable::Trait(const Person& p, uint32_t key) const {
  auto it =
      std::lower_bound(p.traits.begin(), p.traits.end(), key, [](const Cell& c, uint32_t k) { return c.key < k; });
  if (it == p.traits.end() || it->key != key) return Value{};
  return ToValue(*it);
}

Value PersonTable::EventField(const Person& p, const EventRow& e, uint32_t key) const {
  const Cell* begin = p.cells.data() + e.cells_begin;
  const Cell* end = begin + e.property_count + e.context_count;
  for (const Cell* c = begin; c != end; ++c) {
    if (c->key == key) return ToValue(*c);
  }
  return Value{};
}

void PersonTable::Touch(PersonId root) {
  Mutable(root);
  live_.Add(root);
}

EventFields::EventFields(const profiles::Event& e) {
  auto add = [&](std::string_view prefix, std::string_view key, const Value& v) {
    Field f;
    f.path_begin = static_cast<uint32_t>(text_.size());
    text_.append(prefix).append(key);
    f.path_size = static_cast<uint32_t>(text_.size() - f.path_begin);
    f.kind = v.kind;
    switch (v.kind) {
      case Value::Kind::kNumber:
        f.number = v.number;
        break;
      case Value::Kind::kBool:
        f.boolean = v.boolean;
        break;
      case Value::Kind::kString:
        f.string_begin = static_cast<uint32_t>(text_.size());
        text_.append(v.string);
        f.string_size = static_cast<uint32_t>(v.string.size());
        break;
      case Value::Kind::kArray:
        f.array = static_cast<uint32_t>(arrays_.size());
        arrays_.push_back(*v.array);
        break;
      case Value::Kind::kNull:
        break;
    }
    fields_.push_back(f);
  };
  FlattenJsonObject(e.properties, [&](std::string_view key, const Value& v) {
    if (v.is_null()) return;
    add("properties.", key, v);
    ++property_count_;
  });
  // Most contexts (library, ip, user agent) hold none of the fields kept.
  const std::string_view context = e.context;
  const bool keeps =
      context.find("\"channel\"") != std::string_view::npos || context.find("\"campaign\"") != std::string_view::npos ||
      context.find("\"source\"") != std::string_view::npos || context.find("\"medium\"") != std::string_view::npos;
  if (keeps)
    FlattenJsonObject(e.context, [&](std::string_view key, const Value& v) {
      if (v.kind != Value::Kind::kString || !KeepContextField(key)) return;
      add("context.", key, v);
      ++context_count_;
    });
}

void PersonTable::AddEvent(PersonId root, const profiles::Event& e) { AddEvent(root, e, EventFields(e)); }

void PersonTable::AddEvent(PersonId root, const profiles::Event& e, const EventFields& fields) {
  Person& p = Mutable(root);
  live_.Add(root);
  EventRow row;
  row.time = e.timestamp;
  row.seq = e.seq;
  row.atom = e.person;
  row.kind = e.type == profiles::EventType::kTrack ? EventKind::kTrack : EventKind::kOther;
  row.name = strings_.Intern(e.name);
  row.cells_begin = static_cast<uint32_t>(p.cells.size());
  row.property_count = static_cast<uint16_t>(fields.property_count_);
  row.context_count = static_cast<uint16_t>(fields.context_count_);
  // Grown once per event, not once per cell.
  const size_t cells = p.cells.size() + fields.fields_.size();
  if (cells > p.cells.capacity()) p.cells.reserve(std::max(cells, 2 * p.cells.capacity()));
  const std::string_view text = fields.text_;
  for (const EventFields::Field& f : fields.fields_) {
    Cell c;
    c.key = strings_.Intern(text.substr(f.path_begin, f.path_size));
    c.kind = f.kind;
    switch (f.kind) {
      case Value::Kind::kNumber:
        c.number = f.number;
        break;
      case Value::Kind::kBool:
        c.boolean = f.boolean;
        break;
      case Value::Kind::kString:
        c.ref = strings_.Intern(text.substr(f.string_begin, f.string_size));
        break;
      case Value::Kind::kArray:
        c.ref = static_cast<uint32_t>(arrays_.size());
        arrays_.push_back(fields.arrays_[f.array]);
        break;
      case Value::Kind::kNull:
        break;
    }
    p.cells.push_back(c);
  }
  auto pos = std::upper_bound(p.events.begin(), p.events.end(), row, EventBefore);
  p.events.insert(pos, row);
  if (e.location && e.location->has_coordinates() && e.timestamp >= p.location_at) {
    p.latitude = e.location->latitude;
    p.longitude = e.location->longitude;
    p.location_at = e.timestamp;
  }
}

void PersonTable::SetTraits(PersonId root, const std::map<std::string, profiles::TraitValue, std::less<>>& traits,
                            std::vector<uint32_t>* changed, std::vector<Unindexed>* unindexed) {
  Person& p = Mutable(root);
  live_.Add(root);
  std::vector<Cell> old = std::move(p.traits);
  p.traits.clear();
  // Refused paths are remembered (up to a bound) so that each is counted
  // once; the report to the caller names them every time they arrive.
  constexpr size_t kMaxRefusedKept = 10000;
  auto refuse = [&](std::string_view path, bool deep) {
    if (unindexed) {
      unindexed->push_back({std::string(path),
                            deep ? "trait path deeper than " + std::to_string(options_.max_trait_depth) + " levels"
                                 : "more than " + std::to_string(options_.max_trait_paths) + " distinct trait paths"});
    }
    if (refused_paths_.size() < kMaxRefusedKept && refused_paths_.emplace(path).second) {
      ++(deep ? refused_deep_ : refused_count_);
    }
  };
  // The interned path, or kNone when it may not be indexed.
  auto admit = [&](std::string_view path) -> uint32_t {
    const uint32_t known = strings_.Find(path);
    if (known != StringPool::kNone && trait_paths_.contains(known)) return known;
    if (trait_paths_.size() >= options_.max_trait_paths) {
      refuse(path, false);
      return StringPool::kNone;
    }
    const uint32_t key = strings_.Intern(path);
    trait_paths_.insert(key);
    return key;
  };
  std::string path;
  // Named references, not a structured binding: lambdas may not capture
  // those before clang 16.
  for (const auto& entry : traits) {
    const std::string& key = entry.first;
    const profiles::TraitValue& trait = entry.second;
    if (options_.max_trait_depth == 0) break;
    const uint32_t top = admit(key);
    if (top == StringPool::kNone) continue;
    WithJsonValue(trait.json, [&](const Value& v) {
      if (!v.is_null()) p.traits.push_back(MakeCell(top, v));
    });
    if (!trait.json.empty() && trait.json.front() == '{') {
      FlattenJsonObject(
          trait.json, options_.max_trait_depth - 1,
          [&](std::string_view sub, const Value& v) {
            if (v.is_null()) return;
            path.assign(key).append(".").append(sub);
            const uint32_t k = admit(path);
            if (k != StringPool::kNone) p.traits.push_back(MakeCell(k, v));
          },
          [&](std::string_view sub) {
            path.assign(key).append(".").append(sub).append(".*");
            refuse(path, true);
          });
    }
  }
  std::sort(p.traits.begin(), p.traits.end(), [](const Cell& a, const Cell& b) { return a.key < b.key; });
  if (!changed) changed = &scratch_;
  size_t first_changed = changed->size();
  auto same = [&](const Cell& a, const Cell& b) {
    if (a.kind != b.kind) return false;
    switch (a.kind) {
      case Value::Kind::kNumber:
        return a.number == b.number;
      case Value::Kind::kBool:
        return a.boolean == b.boolean;
      case Value::Kind::kString:
        return a.ref == b.ref;
      case Value::Kind::kArray:
        return arrays_[a.ref] == arrays_[b.ref];
      case Value::Kind::kNull:
        return true;
    }
    return false;
  };
  size_t i = 0, j = 0;
  while (i < old.size() || j < p.traits.size()) {
    if (j == p.traits.size() || (i < old.size() && old[i].key < p.traits[j].key)) {
      changed->push_back(old[i++].key);
    } else if (i == old.size() || p.traits[j].key < old[i].key) {
      changed->push_back(p.traits[j++].key);
    } else {
      if (!same(old[i], p.traits[j])) changed->push_back(old[i].key);
      ++i;
      ++j;
    }
  }
  UpdateColumns(root, std::vector<uint32_t>(changed->begin() + static_cast<ptrdiff_t>(first_changed), changed->end()));
  if (changed == &scratch_) scratch_.clear();
}

void PersonTable::UpdateColumns(PersonId id, const std::vector<uint32_t>& keys) {
  const Person* p = id < persons_.size() ? &persons_[id] : nullptr;
  for (uint32_t key : keys) {
    std::optional<double> number;
    uint32_t string = StringIndex::kNone;
    if (p) {
      auto cell = std::lower_bound(p->traits.begin(), p->traits.end(), key,
                                   [](const Cell& c, uint32_t k) { return c.key < k; });
      if (cell != p->traits.end() && cell->key == key) {
        if (cell->kind == Value::Kind::kNumber) number = cell->number;
        if (cell->kind == Value::Kind::kString) string = cell->ref;
      }
    }
    auto it = numeric_.find(key);
    if (it != numeric_.end() || number) {
      if (it == numeric_.end()) it = numeric_.emplace(key, std::make_unique<NumericIndex>()).first;
      it->second->Set(id, number);
    }
    auto st = strings_by_key_.find(key);
    if (st != strings_by_key_.end() || string != StringIndex::kNone) {
      if (st == strings_by_key_.end()) st = strings_by_key_.emplace(key, std::make_unique<StringIndex>()).first;
      st->second->Set(id, string);
    }
  }
}

const StringIndex* PersonTable::StringTrait(uint32_t key) const {
  auto it = strings_by_key_.find(key);
  return it == strings_by_key_.end() ? nullptr : it->second.get();
}

const NumericIndex* PersonTable::NumericTrait(uint32_t key) const {
  auto it = numeric_.find(key);
  return it == numeric_.end() ? nullptr : it->second.get();
}

void PersonTable::SetLocation(PersonId root, double latitude, double longitude, TimeMs at) {
  Person& p = Mutable(root);
  p.latitude = latitude;
  p.longitude = longitude;
  p.location_at = at;
}

void PersonTable::Merge(PersonId survivor, PersonId absorbed) {
  if (survivor == absorbed) return;
  Person& from = Mutable(absorbed);
  Person& to = Mutable(survivor);
  uint32_t shift = static_cast<uint32_t>(to.cells.size());
  to.cells.insert(to.cells.end(), from.cells.begin(), from.cells.end());
  size_t mid = to.events.size();
  for (EventRow row : from.events) {
    row.cells_begin += shift;
    to.events.push_back(row);
  }
  std::inplace_merge(to.events.begin(), to.events.begin() + static_cast<ptrdiff_t>(mid), to.events.end(), EventBefore);
  if (from.location_at > to.location_at) {
    to.latitude = from.latitude;
    to.longitude = from.longitude;
    to.location_at = from.location_at;
  }
  std::vector<uint32_t> keys;
  for (const Cell& c : from.traits) keys.push_back(c.key);
  from = Person{};
  UpdateColumns(absorbed, keys);
  live_.Remove(absorbed);
  live_.Add(survivor);
}

void PersonTable::Split(PersonId survivor, PersonId restored, std::span<const PersonId> restored_atoms) {
  absl::flat_hash_set<PersonId> atoms(restored_atoms.begin(), restored_atoms.end());
  Person& from = Mutable(survivor);
  Person moved;
  Person kept;
  kept.traits = std::move(from.traits);
  for (const EventRow& row : from.events) {
    Person& dst = atoms.contains(row.atom) ? moved : kept;
    EventRow copy = row;
    copy.cells_begin = static_cast<uint32_t>(dst.cells.size());
    auto begin = from.cells.begin() + row.cells_begin;
    dst.cells.insert(dst.cells.end(), begin, begin + row.property_count + row.context_count);
    dst.events.push_back(copy);
  }
  from = std::move(kept);
  Mutable(restored) = std::move(moved);
  live_.Add(restored);
}

size_t PersonTable::MemoryBytes() const {
  size_t bytes = persons_.capacity() * sizeof(Person) + live_.MemoryBytes();
  for (const Person& p : persons_) {
    bytes += p.events.capacity() * sizeof(EventRow) + (p.cells.capacity() + p.traits.capacity()) * sizeof(Cell);
  }
  for (const auto& a : arrays_) bytes += a.capacity() * sizeof(Literal);
  for (const auto& [key, column] : numeric_) bytes += column->MemoryBytes();
  for (const auto& [key, column] : strings_by_key_) bytes += column->MemoryBytes();
  return bytes + strings_.MemoryBytes();
}

}  // namespace facet::segments

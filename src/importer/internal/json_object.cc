#include "importer/internal/json_object.h"

#include <utility>

#include "importer/internal/json_text.h"

namespace facet::importer::internal {

JsonObject::JsonObject(const JsonObject& other) { *this = other; }

JsonObject& JsonObject::operator=(const JsonObject& other) {
  if (this == &other) return *this;
  entries_.clear();
  entries_.reserve(other.entries_.size());
  for (const Entry& e : other.entries_) {
    Entry copy{e.key, e.json, nullptr};
    if (e.object) copy.object = std::make_unique<JsonObject>(*e.object);
    entries_.push_back(std::move(copy));
  }
  return *this;
}

JsonObject::Entry* JsonObject::Find(std::string_view key) {
  for (Entry& e : entries_) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

void JsonObject::Set(std::span<const std::string> path, std::string json) {
  if (path.empty()) return;
  Entry* e = Find(path[0]);
  if (e == nullptr) {
    entries_.push_back(Entry{path[0], {}, nullptr});
    e = &entries_.back();
  }
  if (path.size() == 1) {
    e->object.reset();
    e->json = std::move(json);
    return;
  }
  if (!e->object) {
    e->object = std::make_unique<JsonObject>();
    e->json.clear();
  }
  e->object->Set(path.subspan(1), std::move(json));
}

void JsonObject::Erase(std::span<const std::string> path) {
  if (path.empty()) return;
  for (size_t i = 0; i < entries_.size(); ++i) {
    Entry& e = entries_[i];
    if (e.key != path[0]) continue;
    if (path.size() == 1) {
      entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
    } else if (e.object) {
      e.object->Erase(path.subspan(1));
    }
    return;
  }
}

void JsonObject::AppendTo(std::string* out) const {
  out->push_back('{');
  bool first = true;
  for (const Entry& e : entries_) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(out, e.key);
    out->push_back(':');
    if (e.object) {
      e.object->AppendTo(out);
    } else {
      out->append(e.json);
    }
  }
  out->push_back('}');
}

}  // namespace facet::importer::internal

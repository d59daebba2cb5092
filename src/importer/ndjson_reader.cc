#include "importer/ndjson_reader.h"

#include <cstring>
#include <utility>

#include "base/status.h"
#include "importer/internal/strings.h"
#include "nlohmann/json.hpp"

namespace facet::importer {
namespace {

constexpr size_t kReadChunk = 1 << 18;

std::string ValueText(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::string:
      return v.get<std::string>();
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      return "";
    default:
      return v.dump();
  }
}

const nlohmann::json* Lookup(const nlohmann::json& obj, const std::string& column,
                             const std::vector<std::string>& path) {
  auto it = obj.find(column);
  if (it != obj.end()) return &*it;
  if (path.size() < 2) return nullptr;
  const nlohmann::json* cur = &obj;
  for (const std::string& key : path) {
    if (!cur->is_object()) return nullptr;
    auto next = cur->find(key);
    if (next == cur->end()) return nullptr;
    cur = &*next;
  }
  return cur;
}

}  // namespace

NdjsonReader::NdjsonReader(std::unique_ptr<ByteSource> source, std::vector<std::string> columns)
    : source_(std::move(source)), columns_(std::move(columns)) {
  for (const std::string& c : columns_) {
    std::vector<std::string> path;
    for (std::string_view part : internal::Split(c, '.')) path.emplace_back(part);
    paths_.push_back(std::move(path));
  }
}

absl::StatusOr<std::unique_ptr<NdjsonReader>> NdjsonReader::Open(std::unique_ptr<ByteSource> source,
                                                                 std::vector<std::string> columns) {
  return std::unique_ptr<NdjsonReader>(new NdjsonReader(std::move(source), std::move(columns)));
}

absl::StatusOr<bool> NdjsonReader::ReadLine(std::string* line) {
  line->clear();
  while (true) {
    const char* start = buf_.data() + pos_;
    const void* nl = std::memchr(start, '\n', buf_.size() - pos_);
    if (nl != nullptr) {
      size_t len = static_cast<const char*>(nl) - start;
      line->append(start, len);
      pos_ += len + 1;
      break;
    }
    line->append(start, buf_.size() - pos_);
    buf_.clear();
    pos_ = 0;
    if (eof_) {
      if (line->empty()) return false;
      break;
    }
    buf_.resize(kReadChunk);
    ASSIGN_OR_RETURN(size_t got, source_->Read(buf_.data(), kReadChunk));
    buf_.resize(got);
    if (got == 0) eof_ = true;
  }
  ++line_;
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return true;
}

absl::StatusOr<bool> NdjsonReader::Next(Record* out) {
  out->error.clear();
  while (true) {
    ASSIGN_OR_RETURN(bool found, ReadLine(&out->raw));
    if (!found) return false;
    if (out->raw.find_first_not_of(" \t") != std::string::npos) break;
  }
  out->line = line_;
  out->fields.assign(columns_.size(), std::string());
  nlohmann::json doc = nlohmann::json::parse(out->raw, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    out->error = "not valid JSON";
    return true;
  }
  if (!doc.is_object()) {
    out->error = internal::Cat("a JSON ", doc.type_name(), ", expected an object");
    return true;
  }
  for (size_t i = 0; i < columns_.size(); ++i) {
    const nlohmann::json* v = Lookup(doc, columns_[i], paths_[i]);
    if (v != nullptr) out->fields[i] = ValueText(*v);
  }
  return true;
}

}  // namespace facet::importer

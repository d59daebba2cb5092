#include "api/internal/member_export.h"

#include <algorithm>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "api/internal/audience_render.h"
#include "api/json_render.h"
#include "identity/identifier.h"
#include "segments/person_table.h"

namespace facet::api::internal {

namespace {

using nlohmann::json;

class MemberExportSource final : public BodySource {
 public:
  MemberExportSource(Services services, ExportColumns columns, bitmap::Bitmap members, uint64_t limit)
      : services_(services),
        columns_(std::move(columns)),
        members_(std::move(members)),
        total_(std::min<uint64_t>(members_.Cardinality(), limit)),
        trait_values_(columns_.paths.size()) {}

  absl::StatusOr<bool> Next(std::string* out) override {
    if (!started_) {
      started_ = true;
      if (columns_.csv) AppendHeader(out);
    }
    const size_t page = static_cast<size_t>(std::min<uint64_t>(total_ - next_, kExportChunk));
    const std::vector<PersonId> ids = members_.Slice(next_, page);
    next_ += ids.size();
    if (ids.empty()) return false;
    auto lock = services_.pipeline.LockForRead();
    const segments::PersonTable& table = services_.audiences.table();
    std::vector<uint32_t> keys;
    keys.reserve(columns_.paths.size());
    for (const std::string& p : columns_.paths) keys.push_back(table.strings().Find(p));
    for (PersonId id : ids) {
      // Absorbed by a merge since the members were read: the survivor stands for it.
      if (!services_.graph.Exists(id) || !services_.graph.IsRoot(id)) continue;
      AppendPerson(id, table, keys, out);
    }
    return next_ < total_;
  }

 private:
  void AppendHeader(std::string* out) const {
    out->append("person_id,");
    AppendSpreadsheetCsvField(out, columns_.ns);
    for (const std::string& c : columns_.columns) {
      out->push_back(',');
      AppendSpreadsheetCsvField(out, c);
    }
    out->append("\r\n");
  }

  // The caller holds the read lock.
  void AppendPerson(PersonId id, const segments::PersonTable& table, const std::vector<uint32_t>& keys,
                    std::string* out) {
    const identity::IdentityOptions& id_options = services_.graph.options();
    const identity::Pseudonymizer& pseudonyms = services_.graph.pseudonymizer();
    const std::string& ns = columns_.ns;
    std::optional<std::string> identifier;
    for (const identity::Identifier& i : services_.graph.Identities(id)) {
      if (i.ns != ns) continue;
      identifier = columns_.raw_pii || !identity::IsPii(ns, id_options) ? i.value : pseudonyms.HexDigest(ns, i.value);
      break;
    }
    const segments::PersonTable::Person* person = table.Get(id);
    for (size_t t = 0; t < columns_.paths.size(); ++t) {
      segments::Value v;
      if (person != nullptr && keys[t] != segments::StringPool::kNone) v = table.Trait(*person, keys[t]);
      if (columns_.pii_trait[t] && !columns_.raw_pii && !v.is_null()) {
        const std::string& space = columns_.paths[t];
        const std::string value = ValueText(v).value_or("");
        absl::StatusOr<std::string> normalized = identity::Normalize(space, value, id_options);
        trait_values_[t] = pseudonyms.HexDigest(space, normalized.ok() ? *normalized : value);
      } else {
        trait_values_[t] = ValueJson(v);
      }
    }
    if (columns_.csv) {
      out->append(std::to_string(id)).push_back(',');
      if (identifier) AppendSpreadsheetCsvField(out, *identifier);
      for (const json& v : trait_values_) {
        out->push_back(',');
        if (v.is_string()) {
          AppendSpreadsheetCsvField(out, v.get_ref<const std::string&>());
        } else if (v.is_number() || v.is_boolean()) {
          AppendCsvField(out, Dump(v));  // a number such as -5 is data, not a formula
        } else if (!v.is_null()) {
          AppendSpreadsheetCsvField(out, Dump(v));
        }
      }
      out->append("\r\n");
    } else {
      json line = json::object();
      line["person_id"] = id;
      line[ns] = identifier ? json(*identifier) : json(nullptr);
      for (size_t t = 0; t < columns_.columns.size(); ++t) {
        line[columns_.columns[t]] = std::move(trait_values_[t]);
      }
      out->append(Dump(line)).push_back('\n');
    }
  }

  const Services services_;
  const ExportColumns columns_;
  const bitmap::Bitmap members_;
  const uint64_t total_;
  uint64_t next_ = 0;  // rank in members_ of the next person to render
  bool started_ = false;
  std::vector<json> trait_values_;  // one person's, reused
};

}  // namespace

std::unique_ptr<BodySource> MemberExport(Services services, ExportColumns columns, bitmap::Bitmap members,
                                         uint64_t limit) {
  return std::make_unique<MemberExportSource>(services, std::move(columns), std::move(members), limit);
}

}  // namespace facet::api::internal

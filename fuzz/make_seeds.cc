// Writes valid encoded records as fuzzing seeds:
//   make_seeds <fuzz/corpus>
// into <dir>/bitmap, identity_record, profile_record, event_record and
// catalog_record. The records are small and realistic (values a store holds
// after ingesting a few events); run again when a format changes.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "bitmap/bitmap.h"
#include "identity/internal/record_codec.h"
#include "profiles/event.h"
#include "profiles/profile.h"
#include "segments/internal/catalog_record.h"

namespace {

namespace fs = std::filesystem;
using namespace facet;  // a tool, not a header

fs::path root;

void Write(std::string_view target, std::string_view name, std::string_view bytes) {
  const fs::path dir = root / target;
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void Bitmaps() {
  const bitmap::Bitmap small = bitmap::Bitmap::Of({1, 5, 9, 70000});
  bitmap::Bitmap runs = bitmap::Bitmap::Range(100, 5000);
  runs.AddRange(200000, 200100);
  runs.Optimize();
  bitmap::Bitmap dense;
  for (PersonId p = 0; p < 65536; p += 3) dense.Add(p);
  dense.Densify();
  const std::pair<const char*, const bitmap::Bitmap*> all[] = {{"small", &small}, {"runs", &runs}, {"dense", &dense}};
  for (const auto& [name, b] : all) {
    const std::string encoded = b->Encode();
    Write("bitmap", std::string(name) + ".fbm", encoded);
    // The bare CRoaring payload, which the fuzzer also wraps in an envelope.
    Write("bitmap", std::string(name) + ".roaring", std::string_view(encoded).substr(16, encoded.size() - 20));
  }
  Write("bitmap", "empty.fbm", bitmap::Bitmap().Encode());
}

void IdentityRecords() {
  identity::internal::AtomRecord root_atom;
  root_atom.created_at = 1'780'000'000'000;
  root_atom.identifiers = {
      {1, {"user_id", "u-1001"}}, {2, {"anonymous_id", "anon-7f3a"}}, {5, {"email", "li.na@example.cn"}}};
  Write("identity_record", "atom_root", identity::internal::EncodeAtomRecord(root_atom));
  identity::internal::AtomRecord child = root_atom;
  child.parent = 3;
  child.attached_by = 2;
  child.identifiers = {{9, {"wechat_openid", "oAbC123"}}};
  Write("identity_record", "atom_child", identity::internal::EncodeAtomRecord(child));
  identity::MergeRecord merge;
  merge.id = 42;
  merge.survivor = 3;
  merge.absorbed = 8;
  merge.at = 1'780'000'100'000;
  merge.reason = "identify";
  merge.via = {"email", "li.na@example.cn"};
  Write("identity_record", "merge", identity::internal::EncodeMergeRecord(merge));
  merge.status = identity::MergeStatus::kRefused;
  merge.detail = "user_id limit 1";
  Write("identity_record", "merge_refused", identity::internal::EncodeMergeRecord(merge));
  std::string key = "email";
  key.push_back('\0');
  key.append(32, '\x5a');
  Write("identity_record", "identity_key", key);
}

profiles::Event OrderEvent() {
  profiles::Event e;
  e.seq = 17;
  e.person = 3;
  e.type = profiles::EventType::kTrack;
  e.message_id = "msg-0001";
  e.name = "Order Completed";
  e.timestamp = 1'780'000'000'000;
  e.received_at = 1'780'000'000'250;
  e.user_id = "u-1001";
  e.anonymous_id = "anon-7f3a";
  e.traits = {{"email", "\"li.na@example.cn\""}, {"age", "30"}};
  e.properties = R"({"revenue":150,"currency":"CNY","category":"lens"})";
  e.context = R"({"channel":"mini_program","location":{"city":"佛山","latitude":23.0215,"longitude":113.1214}})";
  e.revenue = 150;
  e.currency = "CNY";
  e.location = profiles::Location{.latitude = 23.0215, .longitude = 113.1214, .city = "佛山", .country = "CN"};
  return e;
}

void Events() {
  const profiles::Event order = OrderEvent();
  Write("event_record", "track", profiles::EncodeEvent(order));
  profiles::Event identify;
  identify.seq = 1;
  identify.type = profiles::EventType::kIdentify;
  identify.message_id = "msg-0000";
  identify.user_id = "u-1001";
  identify.traits = {{"name", "\"Li Na\""}, {"vip", "true"}};
  Write("event_record", "identify", profiles::EncodeEvent(identify));
  profiles::Event alias;
  alias.type = profiles::EventType::kAlias;
  alias.user_id = "u-1001";
  alias.previous_id = "anon-7f3a";
  Write("event_record", "alias", profiles::EncodeEvent(alias));

  profiles::Profile p;
  profiles::ApplyEvent(order, &p);
  profiles::ApplyEvent(identify, &p);
  Write("profile_record", "two_events", profiles::EncodeProfile(p));
  Write("profile_record", "empty", profiles::EncodeProfile(profiles::Profile()));
}

void CatalogRecords() {
  segments::TagDef tag;
  tag.name = "vip";
  tag.display_name = "高价值客户";
  tag.description = "big spenders";
  tag.owner = "crm";
  tag.rule = R"(sum("Order Completed", properties.revenue, 365d) > 1000)";
  tag.created_at = 1'780'000'000'000;
  tag.updated_at = 1'780'000'500'000;
  Write("catalog_record", "tag_rule", segments::internal::EncodeCatalogRecord(false, tag, {}));
  segments::TagDef manual;
  manual.name = "lens";
  manual.parent = "vip";
  manual.kind = segments::TagKind::kManual;
  Write("catalog_record", "tag_manual", segments::internal::EncodeCatalogRecord(false, manual, {}));
  segments::SegmentDef segment;
  segment.name = "lens_buyers";
  segment.description = "bought lenses this quarter";
  segment.expression = R"(count("Order Completed" WHERE properties.category = "lens", 90d) >= 1)";
  segment.owner = "marketing";
  segment.created_at = 1'780'000'000'000;
  segment.updated_at = 1'780'000'000'000;
  Write("catalog_record", "segment", segments::internal::EncodeCatalogRecord(true, {}, segment));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds <fuzz/corpus>\n");
    return 2;
  }
  root = argv[1];
  Bitmaps();
  IdentityRecords();
  Events();
  CatalogRecords();
  return 0;
}

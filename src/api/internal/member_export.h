// The body of a member export (GET /v1/segments/{name}/members and
// /v1/tags/{name}/members), rendered a page of persons at a time so that an
// export of millions of members is sent without being held in memory. The
// routes check the request and copy the members first; see
// AudienceRoutes::ExportMembers.
//
//   ExportColumns columns;
//   columns.ns = "user_id";
//   columns.csv = true;
//   response.body_source = MemberExport(services, std::move(columns), members, limit);
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api/router.h"
#include "api/server.h"
#include "bitmap/bitmap.h"

namespace facet::api::internal {

// Persons rendered per piece of an export, each piece under one hold of the
// pipeline's read lock, so that a large export does not stall ingest.
inline constexpr size_t kExportChunk = 4096;

// What an export writes for each member, fixed before its first byte.
struct ExportColumns {
  // CSV (a header row, RFC 4180 fields, CRLF line ends) or NDJSON.
  bool csv = true;
  // The identifier column: the person's first identifier in this namespace.
  std::string ns;
  // Trait columns as requested, and the trait paths they name (without
  // "trait."), one each.
  std::vector<std::string> columns;
  std::vector<std::string> paths;
  // Whether paths[i] is named like a PII namespace; same length as `paths`.
  std::vector<char> pii_trait;
  // Raw values of PII namespaces and traits instead of their keyed hashes.
  bool raw_pii = false;
};

// A body source for the export of `members`, at most `limit` of them (lowest
// person ids first): the CSV header row, then kExportChunk persons per
// Next(). Persons that a merge has absorbed since `members` was read are
// skipped (the survivor stands for them). Reads `services` under
// services.pipeline.LockForRead(), held only while a piece is rendered.
// Never fails.
std::unique_ptr<BodySource> MemberExport(Services services, ExportColumns columns, bitmap::Bitmap members,
                                         uint64_t limit);

}  // namespace facet::api::internal

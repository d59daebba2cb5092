// `facet tags`: loads a tag pack (a YAML tree of tags, the format of
// examples/tags/README.md) into a running server, and lists the server's
// tag tree.
//
//   ASSIGN_OR_RETURN(TagPack pack, ReadTagPack("examples/tags/retail-pack.yaml"));
//   TagsOptions options{.url = "http://127.0.0.1:8080", .admin_key = key};
//   ASSIGN_OR_RETURN(LoadSummary s, LoadTagPack(pack, options, stderr));
//   // s.loaded tags are on the server; s.failed were refused or skipped
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace facet::app {

// One tag of a pack, with where it is written (1-based line and column).
struct PackTag {
  std::string name;
  std::string display_name;
  std::string parent;  // empty at the top
  std::string description;
  std::string owner;
  std::string kind;  // "rule", "manual" or "model"
  std::string rule;  // rule tags only
  int line = 0, column = 0;
  int rule_line = 0, rule_column = 0;
};

struct TagPack {
  std::string path;
  std::vector<PackTag> tags;  // parents before children, in file order
};

// Reads and checks a pack without a server: its structure (no unknown
// keys), names (1-128 bytes, no '/', quotes or control characters, unique),
// kinds, the depth (at most `max_depth` levels) and every rule (it must
// parse, and a tag of the pack it refers to must come before it).
// InvalidArgument "PATH:LINE:COLUMN: what is wrong"; NotFound when the file
// cannot be read.
absl::StatusOr<TagPack> ReadTagPack(const std::string& path, size_t max_depth = 4);
// The same for pack text; `path` only names it in errors.
absl::StatusOr<TagPack> ParseTagPack(std::string_view text, const std::string& path, size_t max_depth = 4);

struct TagsOptions {
  std::string url = "http://127.0.0.1:8080";
  std::string admin_key;
};

struct LoadSummary {
  size_t loaded = 0;
  size_t failed = 0;  // refused by the server, or under a tag that was
};

// PUTs every tag of `pack` to /v1/tags/{name}, parents first. A tag the
// server refuses is reported on `log` as "PATH:LINE:COLUMN: tag NAME: HTTP
// 400: <the server's message>" and its descendants are skipped (and
// counted as failed). Unavailable when the server cannot be reached;
// Unauthenticated or PermissionDenied when it refuses the key (nothing
// after that is sent).
absl::StatusOr<LoadSummary> LoadTagPack(const TagPack& pack, const TagsOptions& options, std::FILE* log);

// Writes the server's tag tree to `out`, one tag a line, indented by level:
// name, display name, kind and member count.
absl::Status ListServerTags(const TagsOptions& options, std::FILE* out);

}  // namespace facet::app

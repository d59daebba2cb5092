// segments::Parse over arbitrary text. A parsed expression's canonical text
// must parse again to the same canonical text (ast.h's contract).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "segments/ast.h"
#include "segments/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  facet::segments::ParseError error;
  absl::StatusOr<facet::segments::Expr> e = facet::segments::Parse(text, &error);
  if (!e.ok()) {
    FUZZ_CHECK(error.line >= 1 && error.column >= 1);
    return 0;
  }
  const std::string canonical = facet::segments::ToString(*e);
  absl::StatusOr<facet::segments::Expr> again = facet::segments::Parse(canonical);
  if (!again.ok())
    std::fprintf(stderr, "canonical text %s: %s\n", canonical.c_str(), again.status().ToString().c_str());
  FUZZ_CHECK(again.ok());
  const std::string canonical_again = facet::segments::ToString(*again);
  if (canonical_again != canonical) {
    std::fprintf(stderr, "canonical text %s\nreparsed as %s\n", canonical.c_str(), canonical_again.c_str());
  }
  FUZZ_CHECK(canonical_again == canonical);
  std::vector<std::string> tags, segments;
  facet::segments::CollectRefs(*e, &tags, &segments);
  return 0;
}

// importer::ParseMapping over arbitrary YAML text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "importer/mapping.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<facet::importer::Mapping> m = facet::importer::ParseMapping(yaml, "fuzz.yaml");
  if (m.ok()) (void)m->ReferencedColumns();
  return 0;
}

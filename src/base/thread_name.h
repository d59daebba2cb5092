// Names the calling thread, as `top -H`, `perf` and debuggers show it.
//
//   NameThisThread("facet-commit");
//
// Linux keeps at most 15 characters; longer names are cut.
#pragma once

#include <string_view>

namespace facet {

void NameThisThread(std::string_view name);

}  // namespace facet

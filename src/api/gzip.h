// Decompression of request bodies (Content-Encoding: gzip), bounded in size
// so that a small compressed body cannot expand without limit.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace facet::api {

// True if `body` starts with the gzip magic bytes 1f 8b.
bool LooksGzipped(std::string_view body);

// Decompresses a gzip stream (several concatenated members are allowed) or a
// zlib stream. Returns at most `max_bytes` bytes: OutOfRange when the
// decompressed data would be longer, InvalidArgument when `compressed` is
// corrupt or truncated. Thread-safe.
absl::StatusOr<std::string> Decompress(std::string_view compressed, size_t max_bytes);

}  // namespace facet::api

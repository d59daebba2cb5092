#include "api/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <climits>

#include "absl/status/status.h"

namespace facet::api {
namespace {

// Releases the zlib state on every return path.
class Inflater {
 public:
  Inflater() = default;
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  ~Inflater() {
    if (initialised_) inflateEnd(&z_);
  }

  bool Init() {
    // 15 window bits + 32: accept both gzip and zlib headers.
    initialised_ = inflateInit2(&z_, 15 + 32) == Z_OK;
    return initialised_;
  }
  z_stream* get() { return &z_; }

 private:
  z_stream z_{};
  bool initialised_ = false;
};

}  // namespace

bool LooksGzipped(std::string_view body) {
  return body.size() >= 2 && static_cast<unsigned char>(body[0]) == 0x1f && static_cast<unsigned char>(body[1]) == 0x8b;
}

absl::StatusOr<std::string> Decompress(std::string_view compressed, size_t max_bytes) {
  if (compressed.size() > UINT_MAX) return absl::OutOfRangeError("compressed body too large");
  Inflater inflater;
  if (!inflater.Init()) return absl::InternalError("cannot initialise zlib");
  z_stream* z = inflater.get();
  z->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z->avail_in = static_cast<uInt>(compressed.size());

  std::string out;
  char chunk[16 * 1024];
  for (;;) {
    z->next_out = reinterpret_cast<Bytef*>(chunk);
    z->avail_out = sizeof(chunk);
    int rc = inflate(z, Z_NO_FLUSH);
    size_t produced = sizeof(chunk) - z->avail_out;
    if (out.size() + produced > max_bytes) {
      return absl::OutOfRangeError("decompressed body exceeds " + std::to_string(max_bytes) + " bytes");
    }
    out.append(chunk, produced);
    if (rc == Z_STREAM_END) {
      if (z->avail_in == 0) return out;
      // Another gzip member follows (concatenated streams are valid gzip).
      if (inflateReset(z) != Z_OK) return absl::InvalidArgumentError("malformed compressed body");
      continue;
    }
    if (rc == Z_BUF_ERROR && produced == 0) {
      // No progress possible: the input ended before the stream did.
      return absl::InvalidArgumentError("truncated compressed body");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return absl::InvalidArgumentError(std::string("malformed compressed body: ") +
                                        (z->msg != nullptr ? z->msg : "inflate failed"));
    }
  }
}

}  // namespace facet::api

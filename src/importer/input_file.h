// InputFile: the bytes of one import input, plain or gzip-compressed.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<ByteSource> in, OpenInputFile("orders.csv.gz"));
//   char buf[65536];
//   ASSIGN_OR_RETURN(size_t n, in->Read(buf, sizeof buf));   // 0 at the end
//
// Compression is recognised by the gzip magic bytes, whatever the file is
// called; a name ending in ".gz" that holds plain text is read as plain text.
// Concatenated gzip members are read as one stream. "-" is standard input.
//
// Thread-safety: a ByteSource is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace facet::importer {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `n` bytes into `buf`; returns how many, 0 at the end of the
  // input. DataLoss for corrupt compressed data, Internal for read errors.
  virtual absl::StatusOr<size_t> Read(char* buf, size_t n) = 0;
  // Bytes of the underlying file consumed so far (compressed bytes for gzip
  // input), and the file's size (0 when unknown, e.g. a pipe). For progress.
  virtual uint64_t consumed() const = 0;
  virtual uint64_t size() const = 0;
};

// Opens `path` ("-" for standard input). NotFound if it does not exist,
// Internal if it cannot be opened.
absl::StatusOr<std::unique_ptr<ByteSource>> OpenInputFile(const std::string& path);

// A source over bytes in memory (tests, small documents). If `data` is gzip
// data it is decompressed.
std::unique_ptr<ByteSource> MemorySource(std::string data);

// The file name without directories and without a trailing ".gz":
// "/x/orders.csv.gz" -> "orders.csv".
std::string InputBaseName(std::string_view path);

}  // namespace facet::importer

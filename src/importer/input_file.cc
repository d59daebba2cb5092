#include "importer/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "importer/internal/strings.h"

namespace facet::importer {
namespace {

class GzFileSource final : public ByteSource {
 public:
  GzFileSource(gzFile file, std::string name, uint64_t size) : file_(file), name_(std::move(name)), size_(size) {}
  ~GzFileSource() override { gzclose(file_); }

  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    if (n > static_cast<size_t>(std::numeric_limits<int>::max())) {
      n = static_cast<size_t>(std::numeric_limits<int>::max());
    }
    int got = gzread(file_, buf, static_cast<unsigned>(n));
    if (got < 0) {
      int code = Z_OK;
      const char* message = gzerror(file_, &code);
      if (code == Z_ERRNO) {
        return absl::InternalError(internal::Cat(name_, ": read failed: ", std::strerror(errno)));
      }
      return absl::DataLossError(internal::Cat(name_, ": corrupt gzip data: ", message));
    }
    if (got == 0) {
      // gzread returns 0 both at a clean end and for a truncated stream.
      int code = Z_OK;
      const char* message = gzerror(file_, &code);
      if (code != Z_OK && code != Z_STREAM_END) {
        return absl::DataLossError(internal::Cat(name_, ": corrupt gzip data: ", message));
      }
    }
    return static_cast<size_t>(got);
  }

  uint64_t consumed() const override {
    z_off_t off = gzoffset(file_);
    return off < 0 ? 0 : static_cast<uint64_t>(off);
  }
  uint64_t size() const override { return size_; }

 private:
  gzFile file_;
  std::string name_;
  uint64_t size_;
};

class MemoryByteSource final : public ByteSource {
 public:
  explicit MemoryByteSource(std::string data) : data_(std::move(data)) {}
  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    size_t k = std::min(n, data_.size() - pos_);
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  uint64_t consumed() const override { return pos_; }
  uint64_t size() const override { return data_.size(); }

 private:
  std::string data_;
  size_t pos_ = 0;
};

std::string Gunzip(std::string_view data, bool* ok) {
  z_stream zs{};
  *ok = false;
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return {};
  std::string out;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  char buf[65536];
  int rc = Z_OK;
  while (true) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      inflateReset(&zs);  // next gzip member
      continue;
    }
    if (rc != Z_OK) break;
  }
  inflateEnd(&zs);
  *ok = rc == Z_STREAM_END;
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ByteSource>> OpenInputFile(const std::string& path) {
  int fd = path == "-" ? dup(STDIN_FILENO) : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(internal::Cat(path, ": no such file"));
    return absl::InternalError(internal::Cat(path, ": cannot open: ", std::strerror(errno)));
  }
  struct stat st {};
  uint64_t size = 0;
  if (fstat(fd, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      close(fd);
      return absl::InvalidArgumentError(internal::Cat(path, ": is a directory"));
    }
    if (S_ISREG(st.st_mode)) size = static_cast<uint64_t>(st.st_size);
  }
  gzFile file = gzdopen(fd, "rb");
  if (file == nullptr) {
    close(fd);
    return absl::InternalError(internal::Cat(path, ": cannot open"));
  }
  gzbuffer(file, 1 << 18);
  return std::unique_ptr<ByteSource>(new GzFileSource(file, path, size));
}

std::unique_ptr<ByteSource> MemorySource(std::string data) {
  if (data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f && static_cast<unsigned char>(data[1]) == 0x8b) {
    bool ok = false;
    std::string plain = Gunzip(data, &ok);
    if (ok) return std::make_unique<MemoryByteSource>(std::move(plain));
  }
  return std::make_unique<MemoryByteSource>(std::move(data));
}

std::string InputBaseName(std::string_view path) {
  size_t slash = path.find_last_of('/');
  if (slash != std::string_view::npos) path.remove_prefix(slash + 1);
  if (internal::EndsWith(path, ".gz")) path.remove_suffix(3);
  return std::string(path);
}

}  // namespace facet::importer

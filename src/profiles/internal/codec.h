// Primitives of the profiles binary formats: LEB128 varints, zigzag signed
// integers, little-endian doubles and length-prefixed strings. The Reader
// never reads past its input and reports every malformed field as false.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "profiles/event.h"

namespace facet::profiles::internal {

inline void PutVarint64(std::string* dst, uint64_t v) {
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  dst->append(buf, n);
}

inline uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }

inline int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1)); }

inline void PutSigned64(std::string* dst, int64_t v) { PutVarint64(dst, ZigZag(v)); }

inline void PutDouble(std::string* dst, double d) {
  uint64_t bits = std::bit_cast<uint64_t>(d);
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(bits >> (8 * i));
  dst->append(buf, 8);
}

inline void PutString(std::string* dst, std::string_view s) {
  PutVarint64(dst, s.size());
  dst->append(s);
}

inline void PutByte(std::string* dst, uint8_t b) { dst->push_back(static_cast<char>(b)); }

// Sequential reader over untrusted bytes. Each Read* returns false, and
// leaves the output unspecified, when the input is too short or malformed.
class Reader {
 public:
  explicit Reader(std::string_view in) : p_(in.data()), end_(in.data() + in.size()) {}

  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool done() const { return p_ == end_; }

  bool ReadByte(uint8_t* out) {
    if (p_ == end_) return false;
    *out = static_cast<uint8_t>(*p_++);
    return true;
  }

  bool ReadVarint64(uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return false;
      uint64_t b = static_cast<unsigned char>(*p_++);
      // The tenth byte may only contribute the top bit.
      if (shift == 63 && b > 1) return false;
      v |= (b & 0x7f) << shift;
      if (b < 0x80) {
        *out = v;
        return true;
      }
    }
    return false;
  }

  bool ReadVarint32(uint32_t* out) {
    uint64_t v;
    if (!ReadVarint64(&v) || v > UINT32_MAX) return false;
    *out = static_cast<uint32_t>(v);
    return true;
  }

  bool ReadSigned64(int64_t* out) {
    uint64_t v;
    if (!ReadVarint64(&v)) return false;
    *out = UnZigZag(v);
    return true;
  }

  bool ReadDouble(double* out) {
    if (remaining() < 8) return false;
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits |= static_cast<uint64_t>(static_cast<unsigned char>(p_[i])) << (8 * i);
    p_ += 8;
    *out = std::bit_cast<double>(bits);
    return true;
  }

  // A length-prefixed string; the view points into the input.
  bool ReadString(std::string_view* out) {
    uint64_t n;
    if (!ReadVarint64(&n) || n > remaining()) return false;
    *out = std::string_view(p_, static_cast<size_t>(n));
    p_ += n;
    return true;
  }

  bool ReadString(std::string* out) {
    std::string_view v;
    if (!ReadString(&v)) return false;
    out->assign(v);
    return true;
  }

  // An element count, rejected when `min_bytes_each` bytes per element
  // cannot fit in what is left (so callers may reserve safely).
  bool ReadCount(uint64_t* out, size_t min_bytes_each) {
    if (!ReadVarint64(out)) return false;
    return *out <= remaining() / min_bytes_each;
  }

 private:
  const char* p_;
  const char* end_;
};

// Location: latitude, longitude, city, country.
inline void PutLocation(std::string* dst, const Location& loc) {
  PutDouble(dst, loc.latitude);
  PutDouble(dst, loc.longitude);
  PutString(dst, loc.city);
  PutString(dst, loc.country);
}

inline bool ReadLocation(Reader* r, Location* loc) {
  return r->ReadDouble(&loc->latitude) && r->ReadDouble(&loc->longitude) && r->ReadString(&loc->city) &&
         r->ReadString(&loc->country);
}

}  // namespace facet::profiles::internal

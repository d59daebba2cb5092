// Order-preserving key encodings: big-endian integers so that bytewise key
// order equals numeric order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace facet::store {

inline void PutFixed32BE(std::string* dst, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  dst->append(b, 4);
}

inline void PutFixed64BE(std::string* dst, uint64_t v) {
  PutFixed32BE(dst, static_cast<uint32_t>(v >> 32));
  PutFixed32BE(dst, static_cast<uint32_t>(v));
}

// Signed values are biased so that negative numbers sort first.
inline void PutInt64Ordered(std::string* dst, int64_t v) {
  PutFixed64BE(dst, static_cast<uint64_t>(v) ^ (uint64_t{1} << 63));
}

// Callers guarantee `src` holds at least 4 (resp. 8) bytes.
inline uint32_t DecodeFixed32BE(std::string_view src) {
  auto u = [&](int i) { return static_cast<uint32_t>(static_cast<unsigned char>(src[i])); };
  return (u(0) << 24) | (u(1) << 16) | (u(2) << 8) | u(3);
}

inline uint64_t DecodeFixed64BE(std::string_view src) {
  return (static_cast<uint64_t>(DecodeFixed32BE(src)) << 32) | DecodeFixed32BE(src.substr(4));
}

inline int64_t DecodeInt64Ordered(std::string_view src) {
  return static_cast<int64_t>(DecodeFixed64BE(src) ^ (uint64_t{1} << 63));
}

inline std::string Fixed32Key(uint32_t v) {
  std::string s;
  PutFixed32BE(&s, v);
  return s;
}

inline std::string Fixed64Key(uint64_t v) {
  std::string s;
  PutFixed64BE(&s, v);
  return s;
}

}  // namespace facet::store

// Bitmap: a compressed set of PersonIds (CRoaring inside; no CRoaring type
// escapes this header). Tags, audiences and column indexes are Bitmaps and
// set algebra over them is the query engine.
//
//   Bitmap vip = Bitmap::Of({1, 5, 9});
//   Bitmap women = ...;
//   uint64_t n = vip.AndCardinality(women);
//   Bitmap both = vip & women;
//   both.ForEach([](PersonId p) { ...; return true; });
//
// Thread-safety: const methods may run concurrently; mutation needs
// exclusive access.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/types.h"

namespace facet::bitmap {

class Bitmap {
 public:
  Bitmap();
  ~Bitmap();
  Bitmap(const Bitmap& other);
  Bitmap(Bitmap&& other) noexcept;
  Bitmap& operator=(const Bitmap& other);
  Bitmap& operator=(Bitmap&& other) noexcept;

  static Bitmap Of(std::initializer_list<PersonId> ids);
  static Bitmap Of(std::span<const PersonId> ids);
  // [lo, hi)
  static Bitmap Range(PersonId lo, PersonId hi);

  void Add(PersonId id);
  void AddMany(std::span<const PersonId> ids);
  void AddRange(PersonId lo, PersonId hi);  // [lo, hi)
  void Remove(PersonId id);
  // Return whether the set changed.
  bool AddChecked(PersonId id);
  bool RemoveChecked(PersonId id);
  void Clear();

  bool Contains(PersonId id) const;
  uint64_t Cardinality() const;
  bool Empty() const;
  // Smallest / largest member; kNoPerson when empty.
  PersonId Minimum() const;
  PersonId Maximum() const;

  Bitmap& operator&=(const Bitmap& o);
  Bitmap& operator|=(const Bitmap& o);
  Bitmap& operator-=(const Bitmap& o);  // and-not
  Bitmap& operator^=(const Bitmap& o);
  friend Bitmap operator&(const Bitmap& a, const Bitmap& b);
  friend Bitmap operator|(const Bitmap& a, const Bitmap& b);
  friend Bitmap operator-(const Bitmap& a, const Bitmap& b);
  friend Bitmap operator^(const Bitmap& a, const Bitmap& b);
  friend bool operator==(const Bitmap& a, const Bitmap& b);

  uint64_t AndCardinality(const Bitmap& o) const;
  uint64_t OrCardinality(const Bitmap& o) const;
  uint64_t AndNotCardinality(const Bitmap& o) const;
  bool Intersects(const Bitmap& o) const;

  // Union of many (faster than repeated |=).
  static Bitmap Union(std::span<const Bitmap* const> bitmaps);

  // Calls fn(id) in increasing order until it returns false.
  void ForEach(const std::function<bool(PersonId)>& fn) const;
  // Members in increasing order; at most `limit` of them.
  std::vector<PersonId> ToVector(size_t limit = SIZE_MAX) const;
  // Members from rank `offset` on (0 is the smallest) in increasing order; at
  // most `limit` of them, none when `offset` >= Cardinality(). Takes time in
  // the number of chunks skipped, not members, so that a caller can walk a
  // large bitmap one page at a time.
  std::vector<PersonId> Slice(uint64_t offset, size_t limit) const;

  // Compresses runs and releases spare capacity; call after bulk changes.
  void Optimize();
  // Stores every chunk of 65,536 ids holding more than 1/64 of them as a
  // bitset (roaring keeps up to 4,096 as a sorted array), so that fused
  // formula passes read it in place instead of expanding it; such arrays take
  // about as much memory as the bitset. Call after bulk changes, after
  // Optimize().
  void Densify();
  // Heap bytes held (approximate, as CRoaring reports it).
  size_t MemoryBytes() const;

  // Snapshot codec: a versioned header, the CRoaring portable format and a
  // CRC-32C of both. Decode checks the size, the checksum and the format
  // (never the unchecked reader) and returns DataLoss on any mismatch.
  std::string Encode() const;
  static absl::StatusOr<Bitmap> Decode(std::string_view bytes);

 private:
  friend class DenseEvaluator;
  void* r_;  // roaring_bitmap_t*
};

}  // namespace facet::bitmap

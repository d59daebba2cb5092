#include "bitmap/bitmap.h"

#include <roaring/roaring.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace facet::bitmap {
namespace {

// A null handle reads as this empty bitmap; a zero-initialised roaring
// bitmap is what roaring_bitmap_create() produces.
const roaring_bitmap_t* EmptyRoaring() {
  static const roaring_bitmap_t kEmpty{};
  return &kEmpty;
}

// CRoaring reports allocation failure with a null result; like operator new
// in a build without exceptions, running out of memory is fatal.
roaring_bitmap_t* CheckAlloc(roaring_bitmap_t* r) {
  if (r == nullptr) std::abort();
  return r;
}

const roaring_bitmap_t* Get(const void* r) {
  return r != nullptr ? static_cast<const roaring_bitmap_t*>(r) : EmptyRoaring();
}

roaring_bitmap_t* Mut(void*& r) {
  if (r == nullptr) r = CheckAlloc(roaring_bitmap_create());
  return static_cast<roaring_bitmap_t*>(r);
}

// --- Snapshot format ---------------------------------------------------------
//
//   offset  size  field
//   0       4     magic "FBM1"
//   4       4     format version, little-endian (kFormatVersion)
//   8       8     payload size N, little-endian
//   16      N     CRoaring portable serialization
//   16+N    4     CRC-32C (Castagnoli) of bytes [0, 16+N), little-endian

constexpr char kMagic[4] = {'F', 'B', 'M', '1'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderSize = 16;
constexpr size_t kTrailerSize = 4;

void PutLittleEndian(uint64_t v, int bytes, char* out) {
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<char>(v >> (8 * i));
}

uint64_t GetLittleEndian(const char* in, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  }
  return v;
}

// CRC-32C, slicing by eight: table k maps a byte to its CRC after k further
// zero bytes.
constexpr uint32_t kCrc32cPolynomial = 0x82F63B78;  // reflected Castagnoli

constexpr std::array<std::array<uint32_t, 256>, 8> MakeCrc32cTables() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c >> 1) ^ ((c & 1) ? kCrc32cPolynomial : 0);
    t[0][i] = c;
  }
  for (int k = 1; k < 8; ++k) {
    for (uint32_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
  }
  return t;
}

constexpr std::array<std::array<uint32_t, 256>, 8> kCrc32cTables = MakeCrc32cTables();

uint32_t Crc32c(std::string_view data) {
  const auto& t = kCrc32cTables;
  uint32_t crc = 0xFFFFFFFFu;
  const char* p = data.data();
  size_t n = data.size();
  while (n >= 8) {
    uint32_t lo = static_cast<uint32_t>(GetLittleEndian(p, 4)) ^ crc;
    uint32_t hi = static_cast<uint32_t>(GetLittleEndian(p + 4, 4));
    crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^ t[3][hi & 0xFF] ^
          t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  for (; n > 0; --n, ++p) crc = (crc >> 8) ^ t[0][(crc ^ static_cast<unsigned char>(*p)) & 0xFF];
  return ~crc;
}

// The safe deserializer bounds its reads but does not check what it read.
// Operations (and the formula kernel) assume sorted keys, sorted arrays,
// in-range non-overlapping runs and true bitset cardinalities.
absl::Status CheckWellFormed(const roaring_bitmap_t* r) {
  const roaring_array_t& ra = r->high_low_container;
  for (int32_t i = 0; i < ra.size; ++i) {
    if (i > 0 && ra.keys[i] <= ra.keys[i - 1]) {
      return absl::DataLossError(absl::StrCat("bitmap snapshot: chunk keys out of order at ", i));
    }
    uint8_t type = ra.typecodes[i];
    const void* c = container_unwrap_shared(ra.containers[i], &type);
    const std::string where = absl::StrCat("bitmap snapshot: chunk ", ra.keys[i], ": ");
    switch (type) {
      case ARRAY_CONTAINER_TYPE_CODE: {
        const auto* a = static_cast<const array_container_t*>(c);
        if (a->cardinality < 1 || a->cardinality > 4096) {
          return absl::DataLossError(where + "array of bad cardinality");
        }
        for (int32_t j = 1; j < a->cardinality; ++j) {
          if (a->array[j] <= a->array[j - 1]) {
            return absl::DataLossError(where + "array values out of order");
          }
        }
        break;
      }
      case BITSET_CONTAINER_TYPE_CODE: {
        const auto* b = static_cast<const bitset_container_t*>(c);
        int64_t bits = 0;
        for (int j = 0; j < BITSET_CONTAINER_SIZE_IN_WORDS; ++j) bits += __builtin_popcountll(b->array[j]);
        if (bits == 0 || bits != b->cardinality) {
          return absl::DataLossError(where + "bitset cardinality does not match its bits");
        }
        break;
      }
      case RUN_CONTAINER_TYPE_CODE: {
        const auto* run = static_cast<const run_container_t*>(c);
        if (run->n_runs < 1) return absl::DataLossError(where + "empty run container");
        int64_t previous_end = -1;
        for (int32_t j = 0; j < run->n_runs; ++j) {
          const int64_t start = run->runs[j].value;
          const int64_t end = start + run->runs[j].length;
          if (end > 0xFFFF) return absl::DataLossError(where + "run past the end of the chunk");
          if (start <= previous_end) return absl::DataLossError(where + "runs overlap or out of order");
          previous_end = end;
        }
        break;
      }
      default:
        return absl::DataLossError(where + "unknown container type");
    }
  }
  return absl::OkStatus();
}

}  // namespace

Bitmap::Bitmap() : r_(nullptr) {}

Bitmap::~Bitmap() {
  if (r_ != nullptr) roaring_bitmap_free(static_cast<roaring_bitmap_t*>(r_));
}

Bitmap::Bitmap(const Bitmap& other)
    : r_(other.r_ != nullptr ? CheckAlloc(roaring_bitmap_copy(Get(other.r_))) : nullptr) {}

Bitmap::Bitmap(Bitmap&& other) noexcept : r_(std::exchange(other.r_, nullptr)) {}

Bitmap& Bitmap::operator=(const Bitmap& other) {
  if (this == &other) return *this;
  if (other.r_ == nullptr) {
    Clear();
  } else if (r_ == nullptr) {
    r_ = CheckAlloc(roaring_bitmap_copy(Get(other.r_)));
  } else if (!roaring_bitmap_overwrite(static_cast<roaring_bitmap_t*>(r_), Get(other.r_))) {
    std::abort();
  }
  return *this;
}

Bitmap& Bitmap::operator=(Bitmap&& other) noexcept {
  if (this != &other) {
    if (r_ != nullptr) roaring_bitmap_free(static_cast<roaring_bitmap_t*>(r_));
    r_ = std::exchange(other.r_, nullptr);
  }
  return *this;
}

Bitmap Bitmap::Of(std::initializer_list<PersonId> ids) {
  return Of(std::span<const PersonId>(ids.begin(), ids.size()));
}

Bitmap Bitmap::Of(std::span<const PersonId> ids) {
  Bitmap b;
  b.AddMany(ids);
  return b;
}

Bitmap Bitmap::Range(PersonId lo, PersonId hi) {
  Bitmap b;
  b.AddRange(lo, hi);
  return b;
}

void Bitmap::Add(PersonId id) { roaring_bitmap_add(Mut(r_), id); }

void Bitmap::AddMany(std::span<const PersonId> ids) {
  if (ids.empty()) return;
  roaring_bitmap_add_many(Mut(r_), ids.size(), ids.data());
}

void Bitmap::AddRange(PersonId lo, PersonId hi) {
  if (hi <= lo) return;
  roaring_bitmap_add_range(Mut(r_), lo, hi);
}

void Bitmap::Remove(PersonId id) {
  if (r_ != nullptr) roaring_bitmap_remove(static_cast<roaring_bitmap_t*>(r_), id);
}

bool Bitmap::AddChecked(PersonId id) { return roaring_bitmap_add_checked(Mut(r_), id); }

bool Bitmap::RemoveChecked(PersonId id) {
  return r_ != nullptr && roaring_bitmap_remove_checked(static_cast<roaring_bitmap_t*>(r_), id);
}

void Bitmap::Clear() {
  if (r_ != nullptr) roaring_bitmap_clear(static_cast<roaring_bitmap_t*>(r_));
}

bool Bitmap::Contains(PersonId id) const { return roaring_bitmap_contains(Get(r_), id); }

uint64_t Bitmap::Cardinality() const { return roaring_bitmap_get_cardinality(Get(r_)); }

bool Bitmap::Empty() const { return roaring_bitmap_is_empty(Get(r_)); }

PersonId Bitmap::Minimum() const { return Empty() ? kNoPerson : roaring_bitmap_minimum(Get(r_)); }

PersonId Bitmap::Maximum() const { return Empty() ? kNoPerson : roaring_bitmap_maximum(Get(r_)); }

Bitmap& Bitmap::operator&=(const Bitmap& o) {
  if (r_ != nullptr) roaring_bitmap_and_inplace(static_cast<roaring_bitmap_t*>(r_), Get(o.r_));
  return *this;
}

Bitmap& Bitmap::operator|=(const Bitmap& o) {
  if (this != &o && !o.Empty()) roaring_bitmap_or_inplace(Mut(r_), Get(o.r_));
  return *this;
}

Bitmap& Bitmap::operator-=(const Bitmap& o) {
  if (this == &o) {
    Clear();
  } else if (r_ != nullptr) {
    roaring_bitmap_andnot_inplace(static_cast<roaring_bitmap_t*>(r_), Get(o.r_));
  }
  return *this;
}

Bitmap& Bitmap::operator^=(const Bitmap& o) {
  if (this == &o) {
    Clear();
  } else if (!o.Empty()) {
    roaring_bitmap_xor_inplace(Mut(r_), Get(o.r_));
  }
  return *this;
}

Bitmap operator&(const Bitmap& a, const Bitmap& b) {
  Bitmap out;
  out.r_ = CheckAlloc(roaring_bitmap_and(Get(a.r_), Get(b.r_)));
  return out;
}

Bitmap operator|(const Bitmap& a, const Bitmap& b) {
  Bitmap out;
  out.r_ = CheckAlloc(roaring_bitmap_or(Get(a.r_), Get(b.r_)));
  return out;
}

Bitmap operator-(const Bitmap& a, const Bitmap& b) {
  Bitmap out;
  out.r_ = CheckAlloc(roaring_bitmap_andnot(Get(a.r_), Get(b.r_)));
  return out;
}

Bitmap operator^(const Bitmap& a, const Bitmap& b) {
  Bitmap out;
  out.r_ = CheckAlloc(roaring_bitmap_xor(Get(a.r_), Get(b.r_)));
  return out;
}

bool operator==(const Bitmap& a, const Bitmap& b) { return roaring_bitmap_equals(Get(a.r_), Get(b.r_)); }

uint64_t Bitmap::AndCardinality(const Bitmap& o) const { return roaring_bitmap_and_cardinality(Get(r_), Get(o.r_)); }

uint64_t Bitmap::OrCardinality(const Bitmap& o) const { return roaring_bitmap_or_cardinality(Get(r_), Get(o.r_)); }

uint64_t Bitmap::AndNotCardinality(const Bitmap& o) const {
  return roaring_bitmap_andnot_cardinality(Get(r_), Get(o.r_));
}

bool Bitmap::Intersects(const Bitmap& o) const { return roaring_bitmap_intersect(Get(r_), Get(o.r_)); }

Bitmap Bitmap::Union(std::span<const Bitmap* const> bitmaps) {
  std::vector<const roaring_bitmap_t*> inputs;
  inputs.reserve(bitmaps.size());
  for (const Bitmap* b : bitmaps) {
    if (b != nullptr && b->r_ != nullptr) inputs.push_back(Get(b->r_));
  }
  Bitmap out;
  if (!inputs.empty()) out.r_ = CheckAlloc(roaring_bitmap_or_many(inputs.size(), inputs.data()));
  return out;
}

void Bitmap::ForEach(const std::function<bool(PersonId)>& fn) const {
  if (r_ == nullptr) return;
  roaring_uint32_iterator_t it;
  roaring_init_iterator(Get(r_), &it);
  constexpr uint32_t kBatch = 256;
  uint32_t batch[kBatch];
  while (true) {
    const uint32_t n = roaring_read_uint32_iterator(&it, batch, kBatch);
    for (uint32_t i = 0; i < n; ++i) {
      if (!fn(batch[i])) return;
    }
    if (n < kBatch) return;
  }
}

std::vector<PersonId> Bitmap::ToVector(size_t limit) const {
  const uint64_t cardinality = Cardinality();
  std::vector<PersonId> out(static_cast<size_t>(std::min<uint64_t>(cardinality, limit)));
  if (out.empty()) return out;
  if (out.size() == cardinality) {
    roaring_bitmap_to_uint32_array(Get(r_), out.data());
  } else if (!roaring_bitmap_range_uint32_array(Get(r_), 0, out.size(), out.data())) {
    std::abort();
  }
  return out;
}

std::vector<PersonId> Bitmap::Slice(uint64_t offset, size_t limit) const {
  const uint64_t cardinality = Cardinality();
  if (offset >= cardinality) return {};
  std::vector<PersonId> out(static_cast<size_t>(std::min<uint64_t>(cardinality - offset, limit)));
  if (out.empty()) return out;
  if (!roaring_bitmap_range_uint32_array(Get(r_), static_cast<size_t>(offset), out.size(), out.data())) {
    std::abort();
  }
  return out;
}

void Bitmap::Optimize() {
  if (r_ == nullptr) return;
  roaring_bitmap_run_optimize(static_cast<roaring_bitmap_t*>(r_));
  roaring_bitmap_shrink_to_fit(static_cast<roaring_bitmap_t*>(r_));
}

void Bitmap::Densify() {
  if (r_ == nullptr) return;
  roaring_array_t& ra = static_cast<roaring_bitmap_t*>(r_)->high_low_container;
  for (int32_t i = 0; i < ra.size; ++i) {
    if (ra.typecodes[i] != ARRAY_CONTAINER_TYPE_CODE) continue;
    auto* array = static_cast<array_container_t*>(ra.containers[i]);
    if (array->cardinality <= 65536 / 64) continue;
    bitset_container_t* bitset = bitset_container_from_array(array);
    if (bitset == nullptr) continue;  // out of memory: keep the array
    array_container_free(array);
    ra.containers[i] = bitset;
    ra.typecodes[i] = BITSET_CONTAINER_TYPE_CODE;
  }
}

size_t Bitmap::MemoryBytes() const {
  if (r_ == nullptr) return 0;
  const roaring_bitmap_t* r = Get(r_);
  roaring_statistics_t stats;
  roaring_bitmap_statistics(r, &stats);
  const size_t per_slot = sizeof(void*) + sizeof(uint16_t) + sizeof(uint8_t);
  return sizeof(roaring_bitmap_t) + r->high_low_container.allocation_size * per_slot +
         stats.n_containers * sizeof(bitset_container_t) + stats.n_bytes_array_containers +
         stats.n_bytes_run_containers + stats.n_bytes_bitset_containers;
}

namespace {

// Whether `r` holds a bitset chunk of 4,096 ids or fewer (Densify() makes
// them), which the portable format, reading such chunks as arrays, cannot
// carry as they are.
bool HasSparseBitsets(const roaring_bitmap_t* r) {
  const roaring_array_t& ra = r->high_low_container;
  for (int32_t i = 0; i < ra.size; ++i) {
    if (ra.typecodes[i] == BITSET_CONTAINER_TYPE_CODE &&
        static_cast<const bitset_container_t*>(ra.containers[i])->cardinality <= 4096) {
      return true;
    }
  }
  return false;
}

// A copy of `r` in the canonical form: sparse bitset chunks as arrays.
roaring_bitmap_t* CanonicalCopy(const roaring_bitmap_t* r) {
  roaring_bitmap_t* copy = roaring_bitmap_copy(r);
  if (copy == nullptr) std::abort();
  roaring_array_t& ra = copy->high_low_container;
  for (int32_t i = 0; i < ra.size; ++i) {
    if (ra.typecodes[i] != BITSET_CONTAINER_TYPE_CODE) continue;
    auto* bitset = static_cast<bitset_container_t*>(ra.containers[i]);
    if (bitset->cardinality > 4096) continue;
    array_container_t* array = array_container_from_bitset(bitset);
    if (array == nullptr) std::abort();
    bitset_container_free(bitset);
    ra.containers[i] = array;
    ra.typecodes[i] = ARRAY_CONTAINER_TYPE_CODE;
  }
  return copy;
}

}  // namespace

std::string Bitmap::Encode() const {
  const roaring_bitmap_t* original = Get(r_);
  roaring_bitmap_t* canonical = HasSparseBitsets(original) ? CanonicalCopy(original) : nullptr;
  const roaring_bitmap_t* r = canonical ? canonical : original;
  const size_t payload_size = roaring_bitmap_portable_size_in_bytes(r);
  std::string out(kHeaderSize + payload_size + kTrailerSize, '\0');
  std::memcpy(out.data(), kMagic, sizeof(kMagic));
  PutLittleEndian(kFormatVersion, 4, out.data() + 4);
  PutLittleEndian(payload_size, 8, out.data() + 8);
  const size_t written = roaring_bitmap_portable_serialize(r, out.data() + kHeaderSize);
  if (written != payload_size) std::abort();
  const uint32_t crc = Crc32c(std::string_view(out.data(), kHeaderSize + payload_size));
  PutLittleEndian(crc, 4, out.data() + kHeaderSize + payload_size);
  if (canonical) roaring_bitmap_free(canonical);
  return out;
}

absl::StatusOr<Bitmap> Bitmap::Decode(std::string_view bytes) {
  if (bytes.size() < kHeaderSize + kTrailerSize) {
    return absl::DataLossError(
        absl::StrCat("bitmap snapshot truncated: ", bytes.size(), " bytes, less than its header and checksum"));
  }
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return absl::DataLossError("bitmap snapshot has the wrong magic (not FBM1)");
  }
  const uint64_t version = GetLittleEndian(bytes.data() + 4, 4);
  if (version != kFormatVersion) {
    return absl::DataLossError(absl::StrCat("bitmap snapshot has unknown format version ", version));
  }
  const uint64_t payload_size = GetLittleEndian(bytes.data() + 8, 8);
  const uint64_t available = bytes.size() - kHeaderSize - kTrailerSize;
  if (payload_size > available) {
    return absl::DataLossError(absl::StrCat("bitmap snapshot truncated: header declares ", payload_size,
                                            " payload bytes, ", available, " present"));
  }
  if (payload_size < available) {
    return absl::DataLossError(
        absl::StrCat("bitmap snapshot has ", available - payload_size, " bytes beyond its declared payload"));
  }
  const uint32_t stored_crc = static_cast<uint32_t>(GetLittleEndian(bytes.data() + kHeaderSize + payload_size, 4));
  const uint32_t actual_crc = Crc32c(bytes.substr(0, kHeaderSize + payload_size));
  if (stored_crc != actual_crc) {
    return absl::DataLossError(
        absl::StrFormat("bitmap snapshot checksum mismatch: stored %08x, computed %08x", stored_crc, actual_crc));
  }
  // Sizing first: it checks the same structure without the deserializer's
  // complaints on stderr.
  const char* payload = bytes.data() + kHeaderSize;
  const size_t consumed = roaring_bitmap_portable_deserialize_size(payload, payload_size);
  if (consumed == 0) {
    return absl::DataLossError("bitmap snapshot payload rejected by the roaring deserializer");
  }
  if (consumed != payload_size) {
    return absl::DataLossError(
        absl::StrCat("bitmap snapshot payload is ", payload_size, " bytes but the bitmap in it takes ", consumed));
  }
  roaring_bitmap_t* r = roaring_bitmap_portable_deserialize_safe(payload, payload_size);
  if (r == nullptr) {
    return absl::DataLossError("bitmap snapshot payload rejected by the roaring deserializer");
  }
  Bitmap out;
  out.r_ = r;
  if (absl::Status s = CheckWellFormed(r); !s.ok()) return s;
  return out;
}

}  // namespace facet::bitmap

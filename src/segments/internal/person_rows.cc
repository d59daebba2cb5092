#include "segments/internal/person_rows.h"

#include <algorithm>
#include <bit>

namespace facet::segments::internal {

std::unique_ptr<uint64_t[]> PersonRows::NewBlock(size_t stride) const {
  auto block = std::make_unique<uint64_t[]>(stride * kBlockPersons);  // zeroed
  const uint64_t never = std::bit_cast<uint64_t>(kNoWake);
  for (size_t i = 0; i < kBlockPersons; ++i) block[i * stride] = never;
  return block;
}

uint64_t* PersonRows::Row(PersonId p) {
  const size_t b = p >> kBlockShift;
  if (b >= blocks_.size()) blocks_.resize(b + 1);
  if (!blocks_[b]) blocks_[b] = NewBlock(stride_);
  return blocks_[b].get() + (p & (kBlockPersons - 1)) * stride_;
}

const uint64_t* PersonRows::FindRow(PersonId p) const {
  const size_t b = p >> kBlockShift;
  if (b >= blocks_.size() || !blocks_[b]) return nullptr;
  return blocks_[b].get() + (p & (kBlockPersons - 1)) * stride_;
}

void PersonRows::Prefetch(PersonId p) const {
  const uint64_t* row = FindRow(p);
  if (row == nullptr) return;
  __builtin_prefetch(row);
  __builtin_prefetch(row + stride_ - 1);
}

bool PersonRows::Member(PersonId p, uint32_t slot) const {
  const uint64_t* row = FindRow(p);
  if (row == nullptr || slot >= slots()) return false;
  return (row[1 + slot / 64] >> (slot % 64)) & 1;
}

bool PersonRows::SetMember(PersonId p, uint32_t slot, bool in) {
  uint64_t& word = Row(p)[1 + slot / 64];
  const uint64_t bit = uint64_t{1} << (slot % 64);
  const uint64_t old = word;
  word = in ? old | bit : old & ~bit;
  return word != old;
}

TimeMs PersonRows::Wake(PersonId p) const {
  const uint64_t* row = FindRow(p);
  return row == nullptr ? kNoWake : std::bit_cast<TimeMs>(row[0]);
}

void PersonRows::SetWake(PersonId p, TimeMs at) {
  if (at == kNoWake && FindRow(p) == nullptr) return;
  Row(p)[0] = std::bit_cast<uint64_t>(at);
}

void PersonRows::ReserveSlots(uint32_t n) {
  const size_t stride = 1 + (static_cast<size_t>(n) + 63) / 64;
  if (stride <= stride_) return;
  for (auto& block : blocks_) {
    if (!block) continue;
    std::unique_ptr<uint64_t[]> wider = NewBlock(stride);
    for (size_t i = 0; i < kBlockPersons; ++i) {
      std::copy_n(block.get() + i * stride_, stride_, wider.get() + i * stride);
    }
    block = std::move(wider);
  }
  stride_ = stride;
}

size_t PersonRows::MemoryBytes() const {
  size_t n = blocks_.capacity() * sizeof(blocks_[0]);
  for (const auto& block : blocks_) {
    if (block) n += stride_ * kBlockPersons * sizeof(uint64_t);
  }
  return n;
}

}  // namespace facet::segments::internal

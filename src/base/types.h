// Core identifiers shared by every module.
#pragma once

#include <cstdint>
#include <limits>

namespace facet {

// A person's dense id. Ids are allocated from 0 upwards on first sight, so
// that tags and segments can be bitmaps over PersonIds.
using PersonId = uint32_t;
inline constexpr PersonId kNoPerson = std::numeric_limits<PersonId>::max();

// Milliseconds since the Unix epoch, UTC.
using TimeMs = int64_t;

// Monotonic sequence number of a stored event, assigned at commit.
using EventSeq = uint64_t;

}  // namespace facet

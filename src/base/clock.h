// Clock abstraction: inject it so that tests control time.
#pragma once

#include <atomic>

#include "base/types.h"

namespace facet {

class Clock {
 public:
  virtual ~Clock() = default;
  // Current wall-clock time in milliseconds since the epoch (UTC).
  virtual TimeMs NowMs() const = 0;
};

// The real system clock.
class SystemClock final : public Clock {
 public:
  TimeMs NowMs() const override;
};

// A clock that only moves when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimeMs now) : now_(now) {}
  TimeMs NowMs() const override { return now_.load(); }
  void Set(TimeMs now) { now_.store(now); }
  void Advance(TimeMs delta) { now_.fetch_add(delta); }

 private:
  std::atomic<TimeMs> now_;
};

}  // namespace facet

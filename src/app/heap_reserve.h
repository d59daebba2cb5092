// HeapReserve: heap pages faulted in ahead of need, so that the threads on
// the ingest path do not stop for page faults while the process grows.
//
// A server that ingests keeps touching new memory (memtables, the person
// table, profiles), and the thread that first writes a page pays its fault:
// about 11 µs per 4 KB page on a virtual machine, a fifth of the committer's
// time at 100,000 events/s. A background thread ("facet-heap") keeps
// `bytes` of the allocator's free pages touched, topping them up as the
// other threads take them, so that the faults are taken off the ingest
// path, on another core. The allocator is told to keep free pages; whatever
// is free beyond 4 × `bytes` is given back to the system.
//
//   HeapReserve reserve({.bytes = 256 << 20});
//   reserve.Start();   // false: disabled (bytes 0) or not tcmalloc (e.g. a
//                      // FACET_SANITIZE build, where it does nothing)
//   ...
//   reserve.Stop();    // also on destruction
//
// Thread-safety: Start() and Stop() from one thread; accessors from any.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>

namespace facet::app {

struct HeapReserveOptions {
  size_t bytes = 256 << 20;  // 0 disables the reserve
  std::chrono::milliseconds period{10};
};

class HeapReserve {
 public:
  explicit HeapReserve(HeapReserveOptions options);
  ~HeapReserve();
  HeapReserve(const HeapReserve&) = delete;
  HeapReserve& operator=(const HeapReserve&) = delete;

  // Starts the background thread. False, and nothing started, when the
  // reserve is disabled or the allocator cannot report its free pages.
  bool Start();
  void Stop();

  // Bytes in the allocator's free, mapped pages now; 0 when it cannot say.
  static size_t FreeBytes();

  // Bytes of fresh memory the thread has touched so far.
  uint64_t touched_bytes() const { return touched_.load(std::memory_order_relaxed); }

 private:
  void Run();
  // Adds about `deficit` touched bytes to the allocator's free pages.
  void TopUp(size_t deficit);

  const HeapReserveOptions options_;
  std::atomic<uint64_t> touched_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace facet::app

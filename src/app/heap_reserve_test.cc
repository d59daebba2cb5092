#include "app/heap_reserve.h"

#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace facet::app {
namespace {

using std::chrono::milliseconds;

// Sanitizer builds (FACET_SANITIZE) leave tcmalloc out; the reserve is off.
#if FACET_HAVE_TCMALLOC
constexpr bool kHaveTcmalloc = true;
#else
constexpr bool kHaveTcmalloc = false;
#endif

#define SKIP_WITHOUT_TCMALLOC() \
  if (!kHaveTcmalloc) GTEST_SKIP() << "not linked with tcmalloc"

// Polls `done` until it holds or 20 s pass.
bool Eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return done();
}

TEST(HeapReserveTest, DisabledReserveStartsNothing) {
  HeapReserve reserve({.bytes = 0});
  EXPECT_FALSE(reserve.Start());
  EXPECT_EQ(reserve.touched_bytes(), 0u);
  reserve.Stop();
}

TEST(HeapReserveTest, WithoutTcmallocStartsNothing) {
  if (kHaveTcmalloc) GTEST_SKIP() << "linked with tcmalloc";
  HeapReserve reserve({.bytes = 8 << 20});
  EXPECT_FALSE(reserve.Start());
  EXPECT_EQ(HeapReserve::FreeBytes(), 0u);
  reserve.Stop();
}

TEST(HeapReserveTest, TopsUpTheFreePagesAsTheyAreTaken) {
  SKIP_WITHOUT_TCMALLOC();
  HeapReserve reserve({.bytes = 16 << 20, .period = milliseconds(2)});
  ASSERT_TRUE(reserve.Start());
  EXPECT_FALSE(reserve.Start()) << "a second Start() while running";
  EXPECT_TRUE(Eventually([] { return HeapReserve::FreeBytes() >= (16u << 20); }));
  const uint64_t first = reserve.touched_bytes();
  EXPECT_GE(first, 14u << 20);
  // Take the reserve and keep it: the thread touches fresh memory again.
  std::vector<void*> kept;
  for (int i = 0; i < 64; ++i) kept.push_back(std::malloc(256 << 10));
  EXPECT_TRUE(Eventually([&] { return reserve.touched_bytes() >= first + (14u << 20); }));
  EXPECT_TRUE(Eventually([] { return HeapReserve::FreeBytes() >= (16u << 20); }));
  reserve.Stop();
  for (void* p : kept) std::free(p);
}

long ThreadPageFaults() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_minflt;
}

TEST(HeapReserveTest, MemoryTakenFromTheReserveIsAlreadyFaultedIn) {
  SKIP_WITHOUT_TCMALLOC();
  HeapReserve reserve({.bytes = 32 << 20, .period = milliseconds(2)});
  ASSERT_TRUE(reserve.Start());
  ASSERT_TRUE(Eventually([] { return HeapReserve::FreeBytes() >= (32u << 20); }));
  reserve.Stop();  // nothing tops up behind the measurement
  const long before = ThreadPageFaults();
  std::vector<char*> taken;
  constexpr size_t kPiece = 256 << 10;
  for (int i = 0; i < 64; ++i) {  // 16 MB, every 4 KB page written
    auto* p = static_cast<char*>(std::malloc(kPiece));
    for (size_t off = 0; off < kPiece; off += 4096) p[off] = 1;
    taken.push_back(p);
  }
  const long faults = ThreadPageFaults() - before;
  for (char* p : taken) std::free(p);
  EXPECT_LT(faults, 400) << "of 4096 pages written";
}

TEST(HeapReserveTest, GivesBackWhatIsFreeBeyondFourTimesTheReserve) {
  SKIP_WITHOUT_TCMALLOC();
  HeapReserve reserve({.bytes = 8 << 20, .period = milliseconds(2)});
  ASSERT_TRUE(reserve.Start());
  {
    std::vector<void*> big;
    for (int i = 0; i < 32; ++i) {
      void* p = std::malloc(4 << 20);
      static_cast<char*>(p)[0] = 1;
      big.push_back(p);
    }
    for (void* p : big) std::free(p);  // 128 MB free at once
  }
  EXPECT_TRUE(Eventually([] { return HeapReserve::FreeBytes() <= (32u << 20); }))
      << HeapReserve::FreeBytes() << " bytes still free";
  reserve.Stop();
}

TEST(HeapReserveTest, StopIsIdempotent) {
  SKIP_WITHOUT_TCMALLOC();
  HeapReserve reserve({.bytes = 8 << 20});
  ASSERT_TRUE(reserve.Start());
  reserve.Stop();
  reserve.Stop();
}

}  // namespace
}  // namespace facet::app

#include "app/heap_reserve.h"

#include <cstdlib>
#include <vector>

#include "base/thread_name.h"

#if FACET_HAVE_TCMALLOC
#include <gperftools/malloc_extension.h>
#endif

namespace facet::app {

#if FACET_HAVE_TCMALLOC

namespace {

constexpr size_t kChunkBytes = 2 << 20;
constexpr size_t kPageBytes = 4096;

}  // namespace

HeapReserve::HeapReserve(HeapReserveOptions options) : options_(options) {}

HeapReserve::~HeapReserve() { Stop(); }

size_t HeapReserve::FreeBytes() {
  size_t free_bytes = 0;
  if (!MallocExtension::instance()->GetNumericProperty("tcmalloc.pageheap_free_bytes", &free_bytes)) return 0;
  return free_bytes;
}

bool HeapReserve::Start() {
  if (options_.bytes == 0 || thread_.joinable()) return false;
  size_t probe = 0;
  if (!MallocExtension::instance()->GetNumericProperty("tcmalloc.pageheap_free_bytes", &probe)) return false;
  // Touched pages stay with the process until this reserve gives them back.
  MallocExtension::instance()->SetMemoryReleaseRate(0);
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { Run(); });
  return true;
}

void HeapReserve::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HeapReserve::Run() {
  NameThisThread("facet-heap");
  while (true) {
    const size_t free_bytes = FreeBytes();
    if (free_bytes < options_.bytes) {
      TopUp(options_.bytes - free_bytes);
    } else if (free_bytes > 4 * options_.bytes) {
      MallocExtension::instance()->ReleaseToSystem(free_bytes - 2 * options_.bytes);
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, options_.period, [&] { return stopping_; })) return;
  }
}

void HeapReserve::TopUp(size_t deficit) {
  // Chunks served from free pages are held, not touched, so that the next
  // ones come from fresh memory; freeing them all at the end leaves the
  // fresh, now touched, pages free for the other threads.
  std::vector<void*> held;
  size_t added = 0;
  const size_t most_chunks = 2 * (deficit / kChunkBytes) + 64;
  while (added < deficit && held.size() < most_chunks) {
    const size_t before = FreeBytes();
    void* p = std::malloc(kChunkBytes);
    if (p == nullptr) break;
    held.push_back(p);
    if (FreeBytes() + kChunkBytes / 2 <= before) continue;
    auto* bytes = static_cast<volatile char*>(p);
    for (size_t i = 0; i < kChunkBytes; i += kPageBytes) bytes[i] = 0;
    added += kChunkBytes;
  }
  for (void* p : held) std::free(p);
  touched_.fetch_add(added, std::memory_order_relaxed);
}

#else  // !FACET_HAVE_TCMALLOC: sanitizer builds own malloc; the reserve is off.

HeapReserve::HeapReserve(HeapReserveOptions options) : options_(options) {}
HeapReserve::~HeapReserve() = default;
size_t HeapReserve::FreeBytes() { return 0; }
bool HeapReserve::Start() { return false; }
void HeapReserve::Stop() {}
void HeapReserve::Run() {}
void HeapReserve::TopUp(size_t) {}

#endif  // FACET_HAVE_TCMALLOC

}  // namespace facet::app

#include <array>
#include <charconv>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "identity/identity_graph.h"
#include "store/mem_kv_store.h"

namespace facet::identity {
namespace {

IdentityOptions BenchOptions() {
  IdentityOptions o;
  o.hmac_key = "benchmark-key-0123456789abcdef";
  return o;
}

std::vector<Identifier> EventIds(uint64_t i) {
  const std::string n = std::to_string(i);
  return {Identifier{"anonymous_id", "anon-7f3c9a2e-" + n}, Identifier{"device_id", "dev-0a1b2c3d4e5f-" + n},
          Identifier{"user_id", "user-" + n}};
}

// Every event is a person never seen before: three new identifiers. The
// values are rewritten in place, so the loop measures Resolve, not setup.
void BM_ResolveNewPerson(benchmark::State& state) {
  store::MemKvStore kv;
  IdentityGraph graph(kv, BenchOptions());
  store::WriteBatch batch;
  std::vector<Identifier> ids = EventIds(0);
  std::vector<size_t> prefix;
  for (Identifier& id : ids) prefix.push_back(id.value.size());
  char n[24];
  uint64_t i = 0;
  for (auto _ : state) {
    const auto [end, ec] = std::to_chars(n, n + sizeof n, ++i);
    for (size_t k = 0; k < ids.size(); ++k) ids[k].value.replace(prefix[k], 24, n, end - n);
    batch.Clear();
    auto r = graph.Resolve(ids, 1, "track", &batch);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ResolveNewPerson);

// Events of persons already in a graph of `range(0)` persons.
void BM_ResolveKnownPerson(benchmark::State& state) {
  store::MemKvStore kv;
  IdentityGraph graph(kv, BenchOptions());
  store::WriteBatch batch;
  const auto persons = static_cast<uint64_t>(state.range(0));
  std::vector<std::vector<Identifier>> events;
  events.reserve(persons);
  for (uint64_t p = 0; p < persons; ++p) {
    events.push_back(EventIds(p));
    if (!graph.Resolve(events.back(), 1, "track", &batch).ok()) {
      state.SkipWithError("setup failed");
      return;
    }
    batch.Clear();
  }
  uint64_t i = 0;
  for (auto _ : state) {
    auto r = graph.Resolve(events[(i++ * 7919) % persons], 2, "track", &batch);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ResolveKnownPerson)->Arg(1000)->Arg(100000);

void BM_Digest(benchmark::State& state) {
  Pseudonymizer p("benchmark-key-0123456789abcdef");
  std::array<uint8_t, Pseudonymizer::kDigestSize> out;
  for (auto _ : state) {
    p.DigestInto("email", "li.lei@example.com", out);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_Digest);

}  // namespace
}  // namespace facet::identity

// Throughput of the per-event hot path: ApplyEvent and the event codec.
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "profiles/event.h"
#include "profiles/profile.h"

namespace facet::profiles {
namespace {

// A synthetic stream shaped like product analytics: mostly track events from
// a small vocabulary, some identifies with traits, some revenue and location.
std::vector<Event> SyntheticEvents(size_t n) {
  static const char* kNames[] = {"Page Viewed",     "Product Viewed", "Product Added", "Checkout Started",
                                 "Order Completed", "Signed Up",      "Searched",      "Video Played"};
  std::mt19937 rng(42);
  std::vector<Event> events(n);
  for (size_t i = 0; i < n; ++i) {
    Event& e = events[i];
    e.seq = i + 1;
    e.person = static_cast<PersonId>(rng() % 1000);
    e.timestamp = 1714566600000 + static_cast<TimeMs>(rng() % 86400000);
    e.received_at = e.timestamp + 150;
    e.message_id = "0b7f9d3e-6a1c-4c8e-9f1d-" + std::to_string(100000000000 + i);
    e.anonymous_id = "anon-" + std::to_string(e.person);
    e.context = R"({"ip":"203.0.113.7","library":{"name":"analytics.js","version":"4.1.0"}})";
    if (rng() % 10 == 0) {
      e.type = EventType::kIdentify;
      e.user_id = "user-" + std::to_string(e.person);
      e.traits = {{"email", "\"user" + std::to_string(e.person) + "@example.com\""},
                  {"plan", rng() % 2 ? "\"pro\"" : "\"free\""},
                  {"name", "\"Zo\xC3\xAB\""}};
    } else {
      e.type = EventType::kTrack;
      e.name = kNames[rng() % 8];
      e.properties = R"({"product_id":"sku-1234","price":19.99,"quantity":1})";
      if (e.name == "Order Completed") {
        e.revenue = 19.99;
        e.currency = "USD";
      }
    }
    if (rng() % 20 == 0) e.location = Location{48.8566, 2.3522, "Paris", "France"};
  }
  return events;
}

void BM_ApplyEvent(benchmark::State& state) {
  const std::vector<Event> events = SyntheticEvents(1 << 14);
  std::vector<Profile> profiles(1000);
  size_t i = 0;
  for (auto _ : state) {
    const Event& e = events[i++ & (events.size() - 1)];
    ApplyEvent(e, &profiles[e.person]);
  }
  benchmark::DoNotOptimize(profiles.data());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ApplyEvent);

void BM_EncodeEvent(benchmark::State& state) {
  const std::vector<Event> events = SyntheticEvents(1 << 12);
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    std::string encoded = EncodeEvent(events[i++ & (events.size() - 1)]);
    bytes += encoded.size();
    benchmark::DoNotOptimize(encoded.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_EncodeEvent);

void BM_DecodeEvent(benchmark::State& state) {
  std::vector<std::string> encoded;
  for (const Event& e : SyntheticEvents(1 << 12)) encoded.push_back(EncodeEvent(e));
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& in = encoded[i++ & (encoded.size() - 1)];
    absl::StatusOr<Event> e = DecodeEvent(in);
    if (!e.ok()) state.SkipWithError("decode failed");
    bytes += in.size();
    benchmark::DoNotOptimize(e);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_DecodeEvent);

// Merging two persons' profiles (OnMerge / RebuildView).
void BM_Combine(benchmark::State& state) {
  std::vector<Profile> profiles(2);
  for (const Event& e : SyntheticEvents(4000)) ApplyEvent(e, &profiles[e.person % 2]);
  for (auto _ : state) {
    Profile dst = profiles[0];
    Combine(profiles[1], &dst);
    benchmark::DoNotOptimize(dst);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Combine);

void BM_EncodeDecodeProfile(benchmark::State& state) {
  Profile p;
  for (const Event& e : SyntheticEvents(4000)) ApplyEvent(e, &p);
  for (auto _ : state) {
    absl::StatusOr<Profile> back = DecodeProfile(EncodeProfile(p));
    if (!back.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(back);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeDecodeProfile);

}  // namespace
}  // namespace facet::profiles

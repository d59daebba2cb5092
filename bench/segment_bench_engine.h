// What segment_bench measures of one engine, and the hook for Facet's own
// engine. Peers (SQLite, PostgreSQL, ClickHouse) are in
// segment_bench_peers.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/segment_bench_data.h"

namespace facet::bench {

struct EngineTimes {
  std::string engine;       // "Facet", "SQLite", ...
  double load_seconds = 0;  // from the data set in memory to ready to answer
  uint64_t q1_count = 0, q2_count = 0;
  std::vector<double> q1_ms, q2_ms;  // every timed repetition, warm-up excluded
  std::string notes;                 // e.g. memory per person, query plans
};

// Loads `data` into Facet's engine and answers kQ1Text and kQ2Text, each
// once to warm up and then `repeat` timed times, then times the upkeep of
// 300 rule tags over `upkeep_events` new purchases.
absl::StatusOr<EngineTimes> RunFacet(const BenchDataset& data, int repeat, int upkeep_events);

}  // namespace facet::bench

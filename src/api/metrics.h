// Metrics: HTTP request counters and latency histograms, rendered with the
// pipeline's counters in the Prometheus text format 0.0.4.
//
//   Metrics metrics({"/healthz", "/v1/batch"});
//   metrics.RecordRequest("/v1/batch", 200, 0.0021);
//   std::string text = metrics.Render(snapshot);
//
// Routes are labelled by their template ("/v1/persons/{ns}/{value}"), never by
// raw paths, so that the number of series stays bounded. Recording is
// lock-free (relaxed atomics) and may be called from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace facet::api {

// Pipeline and identity counters, read once per scrape.
struct PipelineSnapshot {
  uint64_t events_accepted = 0;
  uint64_t events_rejected = 0;
  uint64_t events_deduplicated = 0;
  uint64_t group_commits = 0;
  uint64_t persons = 0;
  uint64_t identities = 0;
  uint64_t merges = 0;
  uint64_t merge_refusals = 0;
  uint64_t events_stored = 0;
  uint64_t trait_paths_indexed = 0;
  uint64_t trait_paths_over_limit = 0;
  uint64_t trait_paths_too_deep = 0;
  bool healthy = true;
};

// The route label used for requests that match no route.
inline constexpr std::string_view kUnmatchedRoute = "unmatched";

class Metrics {
 public:
  // Upper bounds of the latency histogram buckets, in seconds (+Inf is implied).
  static constexpr std::array<double, 16> kLatencyBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                             0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

  // `routes` are the templates that may be recorded; kUnmatchedRoute is
  // added. Requests for any other route are counted as kUnmatchedRoute.
  explicit Metrics(std::vector<std::string> routes);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Counts one finished request: its route template, HTTP status (100..599;
  // others are counted as 599) and latency in seconds.
  void RecordRequest(std::string_view route, int status, double seconds);

  // Everything as Prometheus text (with # HELP and # TYPE lines).
  std::string Render(const PipelineSnapshot& pipeline) const;

 private:
  struct RouteSeries;
  size_t RouteIndex(std::string_view route) const;

  std::vector<std::string> routes_;
  std::unique_ptr<RouteSeries[]> series_;
};

}  // namespace facet::api

#include "api/metrics.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>

namespace facet::api {
namespace {

constexpr int kMinStatus = 100;
constexpr int kMaxStatus = 599;
constexpr size_t kStatusSlots = kMaxStatus - kMinStatus + 1;

// Prometheus label values escape backslash, double quote and newline.
std::string EscapeLabel(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatDouble(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  // Shortest fixed notation that reads back the same: "0.0001", "10".
  char buf[400];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  if (ec != std::errc()) return std::to_string(v);
  return std::string(buf, end);
}

void Header(std::string* out, std::string_view name, std::string_view type, std::string_view help) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n");
  out->append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void Sample(std::string* out, std::string_view name, std::string_view type, std::string_view help, uint64_t value) {
  Header(out, name, type, help);
  out->append(name).append(" ").append(std::to_string(value)).append("\n");
}

}  // namespace

struct Metrics::RouteSeries {
  std::array<std::atomic<uint64_t>, kStatusSlots> by_status{};
  // Non-cumulative counts; the last slot is +Inf.
  std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> buckets{};
  std::atomic<uint64_t> count{0};
  std::atomic<uint64_t> sum_nanos{0};
};

Metrics::Metrics(std::vector<std::string> routes) : routes_(std::move(routes)) {
  routes_.emplace_back(kUnmatchedRoute);
  series_ = std::make_unique<RouteSeries[]>(routes_.size());
}

Metrics::~Metrics() = default;

size_t Metrics::RouteIndex(std::string_view route) const {
  for (size_t i = 0; i + 1 < routes_.size(); ++i) {
    if (routes_[i] == route) return i;
  }
  return routes_.size() - 1;
}

void Metrics::RecordRequest(std::string_view route, int status, double seconds) {
  RouteSeries& s = series_[RouteIndex(route)];
  if (status < kMinStatus || status > kMaxStatus) status = kMaxStatus;
  s.by_status[static_cast<size_t>(status - kMinStatus)].fetch_add(1, std::memory_order_relaxed);

  if (!(seconds >= 0)) seconds = 0;  // also catches NaN
  size_t bucket = kLatencyBuckets.size();
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    if (seconds <= kLatencyBuckets[i]) {
      bucket = i;
      break;
    }
  }
  s.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  double nanos = seconds * 1e9;
  s.sum_nanos.fetch_add(nanos >= 1.8e19 ? UINT64_MAX / 2 : static_cast<uint64_t>(nanos), std::memory_order_relaxed);
  s.count.fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::Render(const PipelineSnapshot& p) const {
  std::string out;
  out.reserve(8192);
  Sample(&out, "facet_events_accepted_total", "counter", "Events stored (new messageIds).", p.events_accepted);
  Sample(&out, "facet_events_rejected_total", "counter", "Invalid events sent to the quarantine.", p.events_rejected);
  Sample(&out, "facet_events_deduplicated_total", "counter",
         "Events dropped because their messageId was already stored.", p.events_deduplicated);
  Sample(&out, "facet_group_commits_total", "counter", "Durable group commits of the pipeline.", p.group_commits);
  Sample(&out, "facet_persons", "gauge", "Live persons (identity graph roots).", p.persons);
  Sample(&out, "facet_identities", "gauge", "Indexed identifiers.", p.identities);
  Sample(&out, "facet_merges_total", "counter", "Person merges performed.", p.merges);
  Sample(&out, "facet_merge_refusals_total", "counter", "Links refused by merge rules.", p.merge_refusals);
  Sample(&out, "facet_events_stored", "gauge", "Events in the store.", p.events_stored);
  Sample(&out, "facet_trait_paths_indexed", "gauge", "Distinct trait paths the segment engine indexes.",
         p.trait_paths_indexed);
  Header(&out, "facet_trait_paths_unindexed", "gauge",
         "Distinct trait paths kept in profiles but not indexed, by the bound they passed.");
  out.append("facet_trait_paths_unindexed{reason=\"max_trait_paths\"} ")
      .append(std::to_string(p.trait_paths_over_limit))
      .append("\nfacet_trait_paths_unindexed{reason=\"max_trait_depth\"} ")
      .append(std::to_string(p.trait_paths_too_deep))
      .append("\n");
  Sample(&out, "facet_up", "gauge", "1 while the pipeline is healthy, 0 after a store failure.", p.healthy ? 1 : 0);

  Header(&out, "facet_http_requests_total", "counter", "HTTP requests by route template and status.");
  for (size_t r = 0; r < routes_.size(); ++r) {
    const std::string route = EscapeLabel(routes_[r]);
    for (size_t i = 0; i < kStatusSlots; ++i) {
      uint64_t n = series_[r].by_status[i].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out.append("facet_http_requests_total{route=\"").append(route).append("\",code=\"");
      out.append(std::to_string(kMinStatus + static_cast<int>(i))).append("\"} ");
      out.append(std::to_string(n)).append("\n");
    }
  }

  Header(&out, "facet_http_request_duration_seconds", "histogram",
         "HTTP request latency from the end of the request header to the end of the response.");
  for (size_t r = 0; r < routes_.size(); ++r) {
    const RouteSeries& s = series_[r];
    uint64_t count = s.count.load(std::memory_order_relaxed);
    if (count == 0) continue;
    const std::string route = EscapeLabel(routes_[r]);
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= kLatencyBuckets.size(); ++i) {
      cumulative += s.buckets[i].load(std::memory_order_relaxed);
      std::string le = i < kLatencyBuckets.size() ? FormatDouble(kLatencyBuckets[i]) : "+Inf";
      out.append("facet_http_request_duration_seconds_bucket{route=\"").append(route);
      out.append("\",le=\"").append(le).append("\"} ").append(std::to_string(cumulative)).append("\n");
    }
    double sum = static_cast<double>(s.sum_nanos.load(std::memory_order_relaxed)) / 1e9;
    out.append("facet_http_request_duration_seconds_sum{route=\"").append(route).append("\"} ");
    out.append(FormatDouble(sum)).append("\n");
    // The +Inf bucket and _count must agree even while requests are recorded.
    out.append("facet_http_request_duration_seconds_count{route=\"").append(route).append("\"} ");
    out.append(std::to_string(cumulative)).append("\n");
  }
  return out;
}

}  // namespace facet::api

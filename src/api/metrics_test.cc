#include "api/metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace facet::api {
namespace {

bool Contains(const std::string& text, std::string_view line) { return text.find(line) != std::string::npos; }

TEST(MetricsTest, RendersPipelineCountersWithHelpAndType) {
  Metrics metrics({"/v1/batch"});
  PipelineSnapshot p;
  p.events_accepted = 7;
  p.events_rejected = 2;
  p.events_deduplicated = 1;
  p.group_commits = 3;
  p.persons = 5;
  p.identities = 9;
  p.merges = 4;
  p.merge_refusals = 6;
  p.events_stored = 8;
  std::string text = metrics.Render(p);
  EXPECT_TRUE(Contains(text, "# HELP facet_events_accepted_total "));
  EXPECT_TRUE(Contains(text, "# TYPE facet_events_accepted_total counter\n"));
  EXPECT_TRUE(Contains(text, "\nfacet_events_accepted_total 7\n"));
  EXPECT_TRUE(Contains(text, "\nfacet_events_rejected_total 2\n"));
  EXPECT_TRUE(Contains(text, "\nfacet_events_deduplicated_total 1\n"));
  EXPECT_TRUE(Contains(text, "\nfacet_group_commits_total 3\n"));
  EXPECT_TRUE(Contains(text, "# TYPE facet_persons gauge\n"));
  EXPECT_TRUE(Contains(text, "\nfacet_persons 5\n"));
  EXPECT_TRUE(Contains(text, "\nfacet_identities 9\n"));
  EXPECT_TRUE(Contains(text, "\nfacet_merges_total 4\n"));
  EXPECT_TRUE(Contains(text, "\nfacet_merge_refusals_total 6\n"));
  EXPECT_TRUE(Contains(text, "\nfacet_events_stored 8\n"));
  EXPECT_TRUE(Contains(text, "# TYPE facet_http_requests_total counter\n"));
  EXPECT_TRUE(Contains(text, "# TYPE facet_http_request_duration_seconds histogram\n"));
  EXPECT_EQ(text.back(), '\n');
}

TEST(MetricsTest, CountsRequestsByRouteTemplateAndCode) {
  Metrics metrics({"/v1/batch", "/v1/persons/{ns}/{value}"});
  metrics.RecordRequest("/v1/batch", 200, 0.001);
  metrics.RecordRequest("/v1/batch", 200, 0.002);
  metrics.RecordRequest("/v1/batch", 400, 0.0001);
  metrics.RecordRequest("/v1/persons/{ns}/{value}", 404, 0.003);
  metrics.RecordRequest("/not/a/route", 404, 0.003);
  std::string text = metrics.Render({});
  EXPECT_TRUE(Contains(text, "facet_http_requests_total{route=\"/v1/batch\",code=\"200\"} 2\n"));
  EXPECT_TRUE(Contains(text, "facet_http_requests_total{route=\"/v1/batch\",code=\"400\"} 1\n"));
  EXPECT_TRUE(Contains(text, "facet_http_requests_total{route=\"/v1/persons/{ns}/{value}\",code=\"404\"} 1\n"));
  EXPECT_TRUE(Contains(text, "facet_http_requests_total{route=\"unmatched\",code=\"404\"} 1\n"));
  EXPECT_FALSE(Contains(text, "/not/a/route"));
}

TEST(MetricsTest, HistogramIsCumulative) {
  Metrics metrics({"/healthz"});
  metrics.RecordRequest("/healthz", 200, 0.00005);  // first bucket
  metrics.RecordRequest("/healthz", 200, 0.003);    // le 0.005
  metrics.RecordRequest("/healthz", 200, 20);       // only +Inf
  std::string text = metrics.Render({});
  const std::string prefix = "facet_http_request_duration_seconds_bucket{route=\"/healthz\",le=";
  EXPECT_TRUE(Contains(text, prefix + "\"0.0001\"} 1\n"));
  EXPECT_TRUE(Contains(text, prefix + "\"0.0025\"} 1\n"));
  EXPECT_TRUE(Contains(text, prefix + "\"0.005\"} 2\n"));
  EXPECT_TRUE(Contains(text, prefix + "\"10\"} 2\n"));
  EXPECT_TRUE(Contains(text, prefix + "\"+Inf\"} 3\n"));
  EXPECT_TRUE(Contains(text, "facet_http_request_duration_seconds_count{route=\"/healthz\"} 3\n"));
  EXPECT_TRUE(Contains(text, "facet_http_request_duration_seconds_sum{route=\"/healthz\"} 20.003"));
}

TEST(MetricsTest, ConcurrentRecordingLosesNothing) {
  Metrics metrics({"/v1/batch"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) metrics.RecordRequest("/v1/batch", 200, 0.001);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(Contains(metrics.Render({}), "facet_http_requests_total{route=\"/v1/batch\",code=\"200\"} 40000\n"));
}

TEST(MetricsTest, OutOfRangeStatusIsClamped) {
  Metrics metrics({"/healthz"});
  metrics.RecordRequest("/healthz", 42, 0.001);
  EXPECT_TRUE(Contains(metrics.Render({}), "facet_http_requests_total{route=\"/healthz\",code=\"599\"} 1\n"));
}

}  // namespace
}  // namespace facet::api

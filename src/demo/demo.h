// Demo data set: a realistic, multi-channel customer history for an optical
// and contact-lens retail chain (明眸视光) with 30 stores in seven Chinese
// cities, generated deterministically and sent to a running server.
//
//   DemoOptions options;
//   options.write_key = "demo-write-key";
//   options.persons = 100000;
//   ASSIGN_OR_RETURN(DemoSummary s, RunDemo(options));
//
// Each person is a customer seen through some of: the WeChat mini-program
// (anonymousId = an openid; traits.wechat_openid, sometimes
// context.traits.wechat_unionid), the mobile app (context.device.id), the web
// site (cookie anonymousId), QR codes on packaging ("QR Code Scanned"), store
// POS orders ("Order Completed", CNY, with store location) and CRM member
// imports (identify, userId "M0000123", name, phone, email, member level).
// Identifiers overlap the way real ones do: anonymous visitors log in later,
// POS orders carry only a phone, a few members share a phone; some persons
// stay anonymous. Every event has a messageId "demo-<seed>-<person>-<n>" and
// an explicit timestamp, so re-sending the same seed is de-duplicated.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/types.h"

namespace facet::demo {

struct DemoOptions {
  std::string url = "http://127.0.0.1:8080";
  std::string write_key;
  uint64_t persons = 10000;
  uint64_t seed = 42;
  int days = 180;        // length of the history
  TimeMs end_ms = 0;     // the history ends here; 0 = the time RunDemo starts
  int connections = 4;   // parallel connections, one sending thread each
  int batch_size = 200;  // events per POST /v1/batch
  bool progress = true;  // a progress line on stderr
};

struct DemoSummary {
  uint64_t persons = 0;
  uint64_t events = 0;           // events in requests the server accepted
  uint64_t requests = 0;         // batches sent (not counting retries)
  uint64_t failed_requests = 0;  // batches the server refused with a 4xx
  double seconds = 0;
};

// Generates persons [0, options.persons) and sends their events through
// POST /v1/batch, with Basic auth (user = write key). Retries a batch on
// connection errors, 429 and 5xx with exponential backoff. Returns
// InvalidArgument for bad options, Unavailable when the server cannot be
// reached or keeps failing, PermissionDenied when the write key is refused;
// other 4xx replies are counted in failed_requests.
absl::StatusOr<DemoSummary> RunDemo(const DemoOptions& options);

// Appends to `events` the Segment messages (one JSON object each) of person
// `index` of the data set for `seed`, in time order, with timestamps in
// [end_ms - days * 86400000, end_ms). Pure and thread-safe: the same
// arguments always give the same bytes. `days` >= 1.
void GeneratePerson(uint64_t seed, uint64_t index, TimeMs end_ms, int days, std::vector<std::string>* events);

}  // namespace facet::demo

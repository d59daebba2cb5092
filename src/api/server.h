// Facet's HTTP/1.1 server: the REST API (ingest of Segment-compatible events,
// persons, merges, events, stats, quarantine, tags and segments), /healthz
// and /metrics.
//
//   api::ServerOptions options;
//   options.port = 8080;
//   options.write_keys = {"wk_live_..."};
//   options.admin_keys = {"ak_live_..."};
//   api::Server server(options, {pipeline, graph, profiles, kv, clock});
//   RETURN_IF_ERROR(server.Start());   // listening when this returns
//   ...
//   server.Stop();                     // e.g. from a signal handler thread
//
// Connections are kept alive (HTTP/1.1 by default; "Connection: close" and
// HTTP/1.0 are honoured) and closed after 60 s without traffic. Requests are
// served by `threads` threads; ingest requests are answered once the pipeline
// has made their events durable, without blocking a thread meanwhile. Member
// exports are streamed with chunked transfer encoding, a piece at a time
// (collected into one body for HTTP/1.0 clients); a stream that fails midway
// is cut off without its last chunk.
//
// Thread-safety: Start(), Stop() and Wait() may be called from any thread;
// Stop() may be called while another thread is in Wait().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/clock.h"
#include "identity/identity_graph.h"
#include "ingest/pipeline.h"
#include "ingest/tracking_parser.h"
#include "profiles/profile_store.h"
#include "segments/audience_engine.h"
#include "store/kv_store.h"

namespace facet::api {

struct ServerOptions {
  // IPv4 or IPv6 address to listen on.
  std::string bind_address = "0.0.0.0";
  // 0 picks a free port; see Server::port().
  uint16_t port = 8080;
  // Threads serving connections; 0 = one per hardware thread.
  int threads = 0;
  // Write keys may only send events (ingest endpoints), as HTTP Basic user
  // name or as "writeKey" in the body. Admin keys ("Authorization: Bearer
  // KEY") may call every endpoint.
  std::vector<std::string> write_keys;
  // Server write keys: secret, for back-ends and imports. They may only send
  // events, like write keys, but their email and phone identifiers link
  // persons; a (client) write key's only make unverified claims.
  std::vector<std::string> server_write_keys;
  std::vector<std::string> admin_keys;
  // Admin keys that may export raw values of PII namespaces (email, phone,
  // ...; IdentityOptions::pii_namespaces) from member exports; others get
  // keyed hashes. Empty: nobody.
  std::vector<std::string> pii_keys;
  // Largest request body; larger requests get 413. A compressed body is
  // limited again after decompression.
  size_t max_body_bytes = 500 * 1024;
  // How ingest bodies are parsed and validated.
  ingest::ParseOptions parse;
};

// What the server reads and writes. All must outlive the Server; the
// pipeline must be started before requests arrive.
struct Services {
  ingest::Pipeline& pipeline;
  identity::IdentityGraph& graph;
  profiles::ProfileStore& profiles;
  store::KvStore& kv;
  const Clock& clock;
  segments::AudienceEngine& audiences;  // read under pipeline.LockForRead(); change via pipeline.Execute()
};

class Server {
 public:
  Server(ServerOptions options, Services services);
  // Stop()s.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens (SO_REUSEADDR), then starts the serving threads.
  // Unavailable naming the address and port when it cannot listen;
  // InvalidArgument for a malformed bind_address; FailedPrecondition when
  // called twice.
  absl::Status Start();

  // The port listened on (the chosen one when options.port was 0); 0 before
  // Start().
  uint16_t port() const;

  // Stops accepting, closes every connection (requests in flight are not
  // answered) and joins the serving threads. Idempotent.
  void Stop();

  // Blocks until Stop() has finished (returns at once if never started).
  void Wait();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace facet::api

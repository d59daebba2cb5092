#include "app/serve.h"

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "api/server.h"
#include "app/heap_reserve.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "identity/identity_graph.h"
#include "ingest/pipeline.h"
#include "profiles/profile_store.h"
#include "store/rocks_kv_store.h"

namespace facet::app {

absl::Status Serve(Config config) {
  if (config.server.write_keys.empty() && config.server.server_write_keys.empty()) {
    return absl::InvalidArgumentError(
        "no write key: pass --write-key KEY (client) or --server-write-key KEY, or set keys.write or "
        "keys.server_write in the config file");
  }
  if (config.server.admin_keys.empty()) {
    return absl::InvalidArgumentError("no admin key: pass --admin-key KEY or set keys.admin in the config file");
  }
  for (const auto& w : config.server.write_keys) {
    for (const auto& a : config.server.admin_keys) {
      if (w == a) return absl::InvalidArgumentError("a key cannot be both a write key and an admin key");
    }
  }
  RETURN_IF_ERROR(LoadOrCreateHmacKey(&config));
  log::SetLevel(config.log_level);

  // Block the termination signals in every thread; the main thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const auto started = std::chrono::steady_clock::now();
  // Started first: recovery, too, grows the heap.
  HeapReserve heap_reserve({.bytes = config.heap_reserve_mb << 20});
  heap_reserve.Start();
  store::RocksOptions rocks;
  rocks.block_cache_bytes = config.block_cache_mb << 20;
  ASSIGN_OR_RETURN(std::unique_ptr<store::RocksKvStore> kv,
                   store::RocksKvStore::Open(config.data_dir + "/store", rocks));
  identity::IdentityGraph graph(*kv, config.server.parse.identity);
  profiles::ProfileStore profiles(*kv);
  SystemClock clock;
  segments::AudienceEngine audiences(*kv, graph, profiles, config.segments, config.traits);
  ingest::Pipeline pipeline(*kv, graph, profiles, clock, config.pipeline);
  pipeline.SetAudienceEngine(&audiences);
  RETURN_IF_ERROR(Annotate(pipeline.Start(), "recovering " + config.data_dir));
  const double recovery_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  api::Server server(config.server, api::Services{pipeline, graph, profiles, *kv, clock, audiences});
  RETURN_IF_ERROR(server.Start());
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.2f", recovery_s);
  log::Info("recovered ", pipeline.counters().events_total.load(), " events, ", pipeline.counters().persons.load(),
            " persons in ", seconds, " s");
  log::Info("listening on http://", config.server.bind_address == "0.0.0.0" ? "127.0.0.1" : config.server.bind_address,
            ":", server.port(), " (data in ", config.data_dir, ")");

  int sig = 0;
  sigwait(&signals, &sig);
  log::Info(sig == SIGINT ? "SIGINT" : "SIGTERM", " received, shutting down");
  server.Stop();
  pipeline.Stop();
  if (absl::Status failed = pipeline.background_error(); !failed.ok()) {
    log::Warn("stopped after a store failure (", failed.message(), "); the next start recovers from the store");
  }
  return absl::OkStatus();
}

}  // namespace facet::app

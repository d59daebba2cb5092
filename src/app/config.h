// Config: every setting of `facet serve`, from a YAML file and flags.
//
//   Config c;
//   RETURN_IF_ERROR(LoadConfigFile("facet.yaml", &c));   // optional
//   c.write_keys.push_back(flag_key);                    // flags add to the file
//
// The file format is documented in docs/configuration.md.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "api/server.h"
#include "base/log.h"
#include "identity/identifier.h"
#include "ingest/pipeline.h"
#include "segments/catalog.h"
#include "segments/person_table.h"

namespace facet::app {

struct Config {
  std::string data_dir = "./facet-data";
  api::ServerOptions server;            // port, keys, limits, parser options
  ingest::PipelineOptions pipeline;     // dedupe window, checkpoints
  segments::CatalogOptions segments;    // time zone of hour_share, tag depth
  segments::PersonTableOptions traits;  // bounds on the trait paths indexed
  // The HMAC key file; default <data_dir>/hmac.key, created (mode 0600) with
  // a random key on first start. The key must stay the same for the life of
  // the data directory: identifiers are indexed by it.
  std::string hmac_key_file;
  size_t block_cache_mb = 256;
  // Free heap kept faulted in ahead of need (app/heap_reserve.h); 0 = off.
  size_t heap_reserve_mb = 256;
  // The server's diagnostics below this level are dropped (base/log.h).
  log::Level log_level = log::Level::kInfo;
};

// Reads `path` into `config`, overriding only the keys present. Errors name
// the file, the key and why (unknown keys are errors, so typos are caught).
absl::Status LoadConfigFile(const std::string& path, Config* config);

// Parses durations such as "7d", "36h", "90m", "30s", "250ms".
absl::StatusOr<TimeMs> ParseDuration(std::string_view text);

// Loads (or creates) the HMAC key for `config` into config->server.parse.identity.
absl::Status LoadOrCreateHmacKey(Config* config);

}  // namespace facet::app

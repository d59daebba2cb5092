// `facet serve`: opens the data directory, recovers state and serves the
// HTTP API until SIGINT or SIGTERM.
#pragma once

#include "absl/status/status.h"
#include "app/config.h"

namespace facet::app {

// Runs the server with `config` until a termination signal. Returns the
// first error of start-up (bad config, store cannot open, port taken).
absl::Status Serve(Config config);

}  // namespace facet::app

// Ids for messages that arrive without a messageId.
#pragma once

#include <string>

namespace facet::ingest::internal {

// A random RFC 4122 version 4 UUID in lower-case hex
// ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"). Thread-safe: each thread draws
// from its own generator, seeded from std::random_device.
std::string GenerateMessageId();

}  // namespace facet::ingest::internal

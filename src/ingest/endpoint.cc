// The Segment Tracking API's paths, long and short.
#include <utility>

#include "ingest/tracking_parser.h"

namespace facet::ingest {

std::optional<Endpoint> EndpointFromPath(std::string_view path) {
  if (const size_t q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  constexpr std::string_view kPrefix = "/v1/";
  if (!path.starts_with(kPrefix)) return std::nullopt;
  path.remove_prefix(kPrefix.size());
  static constexpr std::pair<std::string_view, Endpoint> kNames[] = {
      {"batch", Endpoint::kBatch}, {"b", Endpoint::kBatch},     {"identify", Endpoint::kIdentify},
      {"i", Endpoint::kIdentify},  {"track", Endpoint::kTrack}, {"t", Endpoint::kTrack},
      {"page", Endpoint::kPage},   {"p", Endpoint::kPage},      {"screen", Endpoint::kScreen},
      {"s", Endpoint::kScreen},    {"group", Endpoint::kGroup}, {"g", Endpoint::kGroup},
      {"alias", Endpoint::kAlias}, {"a", Endpoint::kAlias}};
  for (const auto& [name, endpoint] : kNames) {
    if (path == name) return endpoint;
  }
  return std::nullopt;
}

}  // namespace facet::ingest

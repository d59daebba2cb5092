#include "app/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "base/status.h"

namespace facet::app {
namespace {

absl::Status Bad(const std::string& path, const std::string& key, const std::string& why) {
  return absl::InvalidArgumentError(path + ": " + key + ": " + why);
}

absl::Status CheckKeys(const std::string& path, const std::string& prefix, const YAML::Node& node,
                       const std::set<std::string>& allowed) {
  if (!node.IsMap()) return Bad(path, prefix.empty() ? "(top level)" : prefix, "expected a mapping");
  for (const auto& kv : node) {
    std::string k = kv.first.as<std::string>();
    if (!allowed.count(k)) {
      return Bad(path, prefix.empty() ? k : prefix + "." + k, "unknown setting");
    }
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status Read(const std::string& path, const std::string& key, const YAML::Node& node, T* out) {
  if (!node) return absl::OkStatus();
  try {
    *out = node.as<T>();
  } catch (const YAML::Exception& e) {
    return Bad(path, key, std::string("wrong type: ") + e.what());
  }
  return absl::OkStatus();
}

absl::Status ReadStrings(const std::string& path, const std::string& key, const YAML::Node& node,
                         std::vector<std::string>* out) {
  if (!node) return absl::OkStatus();
  if (node.IsScalar()) {
    out->push_back(node.as<std::string>());
    return absl::OkStatus();
  }
  if (!node.IsSequence()) return Bad(path, key, "expected a list of strings");
  for (const auto& item : node) {
    if (!item.IsScalar()) return Bad(path, key, "expected a list of strings");
    out->push_back(item.as<std::string>());
  }
  return absl::OkStatus();
}

absl::Status ReadDuration(const std::string& path, const std::string& key, const YAML::Node& node, TimeMs* out) {
  if (!node) return absl::OkStatus();
  auto d = ParseDuration(node.as<std::string>());
  if (!d.ok()) return Bad(path, key, std::string(d.status().message()));
  *out = *d;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TimeMs> ParseDuration(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  if (i == 0 || i > 12)
    return absl::InvalidArgumentError("invalid duration \"" + std::string(text) +
                                      "\": expected a number and a unit (ms, s, m, h, d)");
  int64_t n = std::stoll(std::string(text.substr(0, i)));
  std::string_view unit = text.substr(i);
  int64_t mult;
  if (unit == "ms")
    mult = 1;
  else if (unit == "s")
    mult = 1000;
  else if (unit == "m")
    mult = 60'000;
  else if (unit == "h")
    mult = 3'600'000;
  else if (unit == "d")
    mult = 86'400'000;
  else
    return absl::InvalidArgumentError("invalid duration \"" + std::string(text) + "\": unit must be ms, s, m, h or d");
  return n * mult;
}

absl::Status LoadConfigFile(const std::string& path, Config* c) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return absl::NotFoundError(path + ": cannot read config file");
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(path + ": line " + std::to_string(e.mark.line + 1) + ", column " +
                                      std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (root.IsNull()) return absl::OkStatus();
  RETURN_IF_ERROR(CheckKeys(
      path, "", root, {"data_dir", "server", "keys", "ingest", "identity", "segments", "storage", "memory", "log"}));
  RETURN_IF_ERROR(Read(path, "data_dir", root["data_dir"], &c->data_dir));
  if (auto s = root["server"]) {
    RETURN_IF_ERROR(CheckKeys(path, "server", s, {"port", "bind", "threads"}));
    RETURN_IF_ERROR(Read(path, "server.port", s["port"], &c->server.port));
    RETURN_IF_ERROR(Read(path, "server.bind", s["bind"], &c->server.bind_address));
    RETURN_IF_ERROR(Read(path, "server.threads", s["threads"], &c->server.threads));
  }
  if (auto k = root["keys"]) {
    RETURN_IF_ERROR(CheckKeys(path, "keys", k, {"write", "server_write", "admin", "pii"}));
    RETURN_IF_ERROR(ReadStrings(path, "keys.write", k["write"], &c->server.write_keys));
    RETURN_IF_ERROR(ReadStrings(path, "keys.server_write", k["server_write"], &c->server.server_write_keys));
    RETURN_IF_ERROR(ReadStrings(path, "keys.admin", k["admin"], &c->server.admin_keys));
    RETURN_IF_ERROR(ReadStrings(path, "keys.pii", k["pii"], &c->server.pii_keys));
  }
  if (auto in = root["ingest"]) {
    RETURN_IF_ERROR(
        CheckKeys(path, "ingest", in,
                  {"max_event_bytes", "max_batch_bytes", "dedupe_window", "quarantine_capacity", "checkpoint_events",
                   "checkpoint_interval", "sync", "max_trait_paths", "max_trait_depth", "max_future_skew"}));
    RETURN_IF_ERROR(Read(path, "ingest.max_event_bytes", in["max_event_bytes"], &c->server.parse.max_event_bytes));
    RETURN_IF_ERROR(Read(path, "ingest.max_batch_bytes", in["max_batch_bytes"], &c->server.parse.max_batch_bytes));
    c->server.max_body_bytes = c->server.parse.max_batch_bytes;
    RETURN_IF_ERROR(ReadDuration(path, "ingest.dedupe_window", in["dedupe_window"], &c->pipeline.dedupe_window_ms));
    RETURN_IF_ERROR(
        Read(path, "ingest.quarantine_capacity", in["quarantine_capacity"], &c->pipeline.quarantine_capacity));
    RETURN_IF_ERROR(Read(path, "ingest.checkpoint_events", in["checkpoint_events"], &c->pipeline.checkpoint_events));
    RETURN_IF_ERROR(ReadDuration(path, "ingest.checkpoint_interval", in["checkpoint_interval"],
                                 &c->pipeline.checkpoint_interval_ms));
    RETURN_IF_ERROR(Read(path, "ingest.sync", in["sync"], &c->pipeline.sync));
    RETURN_IF_ERROR(Read(path, "ingest.max_trait_paths", in["max_trait_paths"], &c->traits.max_trait_paths));
    RETURN_IF_ERROR(Read(path, "ingest.max_trait_depth", in["max_trait_depth"], &c->traits.max_trait_depth));
    if (c->traits.max_trait_depth == 0) return Bad(path, "ingest.max_trait_depth", "must be at least 1");
    RETURN_IF_ERROR(
        ReadDuration(path, "ingest.max_future_skew", in["max_future_skew"], &c->server.parse.max_future_skew_ms));
  }
  if (auto seg = root["segments"]) {
    RETURN_IF_ERROR(CheckKeys(path, "segments", seg, {"eval_budget"}));
    RETURN_IF_ERROR(ReadDuration(path, "segments.eval_budget", seg["eval_budget"], &c->segments.eval_budget_ms));
    if (c->segments.eval_budget_ms <= 0) return Bad(path, "segments.eval_budget", "must be positive");
  }
  if (auto id = root["identity"]) {
    auto& io = c->server.parse.identity;
    RETURN_IF_ERROR(CheckKeys(path, "identity", id,
                              {"hmac_key_file", "default_country_code", "limits", "pii_namespaces", "pii_trait_words",
                               "claim_namespaces", "sources"}));
    RETURN_IF_ERROR(Read(path, "identity.hmac_key_file", id["hmac_key_file"], &c->hmac_key_file));
    RETURN_IF_ERROR(Read(path, "identity.default_country_code", id["default_country_code"], &io.default_country_code));
    if (auto limits = id["limits"]) {
      if (!limits.IsMap()) return Bad(path, "identity.limits", "expected a mapping of namespace: number");
      for (const auto& kv : limits) {
        std::string ns = kv.first.as<std::string>();
        int n = 0;
        RETURN_IF_ERROR(Read(path, "identity.limits." + ns, kv.second, &n));
        if (n < 0) return Bad(path, "identity.limits." + ns, "must be >= 0 (0 = unlimited)");
        if (n == 0) {
          io.max_per_namespace.erase(ns);
        } else {
          io.max_per_namespace[ns] = n;
        }
      }
    }
    if (auto words = id["pii_trait_words"]) {
      io.pii_trait_words.clear();
      RETURN_IF_ERROR(ReadStrings(path, "identity.pii_trait_words", words, &io.pii_trait_words));
      for (std::string& w : io.pii_trait_words) {
        for (char& ch : w) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      }
    }
    if (auto claims = id["claim_namespaces"]) {
      io.claim_namespaces.clear();
      RETURN_IF_ERROR(ReadStrings(path, "identity.claim_namespaces", claims, &io.claim_namespaces));
    }
    if (auto pii = id["pii_namespaces"]) {
      io.pii_namespaces.clear();
      RETURN_IF_ERROR(ReadStrings(path, "identity.pii_namespaces", pii, &io.pii_namespaces));
    }
    if (auto sources = id["sources"]) {
      if (!sources.IsSequence()) return Bad(path, "identity.sources", "expected a list of {ns, path}");
      c->server.parse.identifier_sources.clear();  // the file's list replaces the defaults
      int i = 0;
      for (const auto& src : sources) {
        std::string key = "identity.sources[" + std::to_string(i++) + "]";
        RETURN_IF_ERROR(CheckKeys(path, key, src, {"ns", "path"}));
        ingest::IdentifierSource s;
        RETURN_IF_ERROR(Read(path, key + ".ns", src["ns"], &s.ns));
        RETURN_IF_ERROR(Read(path, key + ".path", src["path"], &s.path));
        if (s.ns.empty() || s.path.empty()) return Bad(path, key, "both ns and path are required");
        c->server.parse.identifier_sources.push_back(std::move(s));
      }
    }
  }
  if (auto st = root["storage"]) {
    RETURN_IF_ERROR(CheckKeys(path, "storage", st, {"block_cache_mb"}));
    RETURN_IF_ERROR(Read(path, "storage.block_cache_mb", st["block_cache_mb"], &c->block_cache_mb));
  }
  if (auto m = root["memory"]) {
    RETURN_IF_ERROR(CheckKeys(path, "memory", m, {"heap_reserve_mb"}));
    RETURN_IF_ERROR(Read(path, "memory.heap_reserve_mb", m["heap_reserve_mb"], &c->heap_reserve_mb));
  }
  if (auto lg = root["log"]) {
    RETURN_IF_ERROR(CheckKeys(path, "log", lg, {"level"}));
    std::string level;
    RETURN_IF_ERROR(Read(path, "log.level", lg["level"], &level));
    if (!level.empty()) {
      absl::StatusOr<log::Level> parsed = log::ParseLevel(level);
      if (!parsed.ok()) return Bad(path, "log.level", std::string(parsed.status().message()));
      c->log_level = *parsed;
    }
  }
  return absl::OkStatus();
}

absl::Status LoadOrCreateHmacKey(Config* c) {
  std::string file = c->hmac_key_file.empty() ? c->data_dir + "/hmac.key" : c->hmac_key_file;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(file).parent_path(), ec);
  std::ifstream in(file, std::ios::binary);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    std::string key = ss.str();
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
    if (key.size() < 16) return absl::InvalidArgumentError(file + ": HMAC key shorter than 16 bytes");
    c->server.parse.identity.hmac_key = key;
    return absl::OkStatus();
  }
  std::random_device rd;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string key;
  for (int i = 0; i < 64; ++i) key.push_back(kHex[rd() % 16]);
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return absl::InternalError(file + ": cannot create HMAC key: " + std::strerror(errno));
  std::string line = key + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return absl::InternalError(file + ": cannot write HMAC key");
  c->server.parse.identity.hmac_key = key;
  return absl::OkStatus();
}

}  // namespace facet::app

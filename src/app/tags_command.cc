#include "app/tags_command.h"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <utility>

#include "base/json_string.h"
#include "base/status.h"
#include "client/http_client.h"
#include "segments/ast.h"
#include "segments/parser.h"

namespace facet::app {
namespace {

constexpr size_t kMaxNameBytes = 128;

std::string Where(const std::string& path, int line, int column) {
  return path + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string Where(const std::string& path, const YAML::Mark& m) { return Where(path, m.line + 1, m.column + 1); }

absl::Status Bad(const std::string& path, const YAML::Node& node, const std::string& why) {
  return absl::InvalidArgumentError(Where(path, node.Mark()) + ": " + why);
}

absl::Status CheckKeys(const std::string& path, const YAML::Node& node, const std::set<std::string>& allowed,
                       const std::string& what) {
  if (!node.IsMap()) return Bad(path, node, what + " must be a mapping");
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    if (!allowed.count(key)) return Bad(path, kv.first, "unknown key \"" + key + "\" in " + what);
  }
  return absl::OkStatus();
}

// A scalar member as text; absent or null gives "".
absl::Status ReadText(const std::string& path, const YAML::Node& node, const std::string& key, std::string* out) {
  const YAML::Node v = node[key];
  if (!v || v.IsNull()) return absl::OkStatus();
  if (!v.IsScalar()) return Bad(path, v, "\"" + key + "\" must be text");
  *out = v.Scalar();
  return absl::OkStatus();
}

std::string NameProblem(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return "must be 1 to 128 bytes long";
  if (name.front() == ' ' || name.back() == ' ') return "may not start or end with a space";
  for (unsigned char c : name) {
    if (c == '/' || c == '"' || c == '\'' || c < 0x20 || c == 0x7f) {
      return "may not contain '/', quotes or control characters";
    }
  }
  return "";
}

struct Reader {
  std::string path;
  size_t max_depth;
  std::string default_owner;
  TagPack pack;
  std::map<std::string, size_t, std::less<>> index;  // name -> position in pack.tags

  absl::Status ReadList(const YAML::Node& list, const std::string& parent, size_t depth) {
    if (!list.IsSequence()) return Bad(path, list, "expected a list of tags");
    for (const YAML::Node& node : list) RETURN_IF_ERROR(ReadTag(node, parent, depth));
    return absl::OkStatus();
  }

  absl::Status ReadTag(const YAML::Node& node, const std::string& parent, size_t depth) {
    RETURN_IF_ERROR(
        CheckKeys(path, node, {"name", "display_name", "description", "owner", "kind", "rule", "children"}, "a tag"));
    PackTag t;
    t.line = node.Mark().line + 1;
    t.column = node.Mark().column + 1;
    t.parent = parent;
    t.owner = default_owner;
    RETURN_IF_ERROR(ReadText(path, node, "name", &t.name));
    RETURN_IF_ERROR(ReadText(path, node, "display_name", &t.display_name));
    RETURN_IF_ERROR(ReadText(path, node, "description", &t.description));
    RETURN_IF_ERROR(ReadText(path, node, "owner", &t.owner));
    RETURN_IF_ERROR(ReadText(path, node, "kind", &t.kind));
    RETURN_IF_ERROR(ReadText(path, node, "rule", &t.rule));
    if (t.name.empty()) return Bad(path, node, "a tag needs a \"name\"");
    if (std::string why = NameProblem(t.name); !why.empty()) {
      return Bad(path, node["name"], "tag name \"" + t.name + "\" " + why);
    }
    if (auto it = index.find(t.name); it != index.end()) {
      const PackTag& first = pack.tags[it->second];
      return Bad(path, node["name"],
                 "tag \"" + t.name + "\" is defined twice (first at line " + std::to_string(first.line) + ")");
    }
    if (depth > max_depth) {
      return Bad(path, node, "tag \"" + t.name + "\" is deeper than " + std::to_string(max_depth) + " levels");
    }
    if (t.kind.empty()) t.kind = t.rule.empty() ? "" : "rule";
    if (t.kind != "rule" && t.kind != "manual" && t.kind != "model") {
      return Bad(path, node["kind"] ? node["kind"] : node,
                 "tag \"" + t.name + "\" needs a rule, or kind: manual or kind: model");
    }
    if (t.kind == "rule") {
      if (t.rule.empty()) return Bad(path, node, "rule tag \"" + t.name + "\" needs a rule");
      const YAML::Mark m = node["rule"].Mark();
      t.rule_line = m.line + 1;
      t.rule_column = m.column + 1;
      segments::ParseError error;
      absl::StatusOr<segments::Expr> expr = segments::Parse(t.rule, &error);
      if (!expr.ok()) {
        return absl::InvalidArgumentError(Where(path, m) + ": rule of tag \"" + t.name + "\", line " +
                                          std::to_string(error.line) + ", column " + std::to_string(error.column) +
                                          ": " + error.message);
      }
      std::vector<std::string> tags, segments;
      segments::CollectRefs(*expr, &tags, &segments);
      for (const std::string& ref : tags) {
        if (ref == t.name) return Bad(path, node["rule"], "rule of tag \"" + t.name + "\" refers to itself");
        if (!index.count(ref) && RefersLater(ref)) {
          return Bad(path, node["rule"],
                     "rule of tag \"" + t.name + "\" refers to tag \"" + ref +
                         "\", which comes later in the pack; define it first");
        }
      }
    } else if (!t.rule.empty()) {
      return Bad(path, node["rule"], t.kind + " tag \"" + t.name + "\" cannot have a rule");
    }
    index.emplace(t.name, pack.tags.size());
    const std::string name = t.name;
    pack.tags.push_back(std::move(t));
    if (const YAML::Node children = node["children"]; children && !children.IsNull()) {
      RETURN_IF_ERROR(ReadList(children, name, depth + 1));
    }
    return absl::OkStatus();
  }

  // Whether `name` is a tag of the pack not read yet.
  bool RefersLater(const std::string& name) const { return later.count(name) > 0; }
  std::set<std::string, std::less<>> later;  // every name in the file

  void CollectNames(const YAML::Node& list) {
    if (!list.IsSequence()) return;
    for (const YAML::Node& node : list) {
      if (!node.IsMap()) continue;
      if (const YAML::Node n = node["name"]; n && n.IsScalar()) later.insert(n.Scalar());
      if (const YAML::Node c = node["children"]; c) CollectNames(c);
    }
  }
};

std::string TagBody(const PackTag& t) {
  std::string out = "{";
  auto field = [&](std::string_view key, std::string_view value) {
    if (out.size() > 1) out.push_back(',');
    AppendJsonString(&out, key);
    out.push_back(':');
    AppendJsonString(&out, value);
  };
  field("display_name", t.display_name);
  field("parent", t.parent);
  field("description", t.description);
  field("owner", t.owner);
  field("kind", t.kind);
  if (t.kind == "rule") field("rule", t.rule);
  out.push_back('}');
  return out;
}

// One path segment, percent-encoded (RFC 3986 unreserved characters stay).
std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// The server's replies are JSON, which yaml-cpp reads as YAML flow style.
YAML::Node ParseReply(const std::string& body) {
  try {
    return YAML::Load(body);
  } catch (const YAML::Exception&) {
    return YAML::Node();
  }
}

// The server's error message and the field it names, from an error reply.
std::string ServerMessage(const client::HttpResponse& r) {
  const YAML::Node doc = ParseReply(r.body);
  std::string message = "HTTP " + std::to_string(r.status);
  if (doc.IsMap() && doc["field"] && doc["field"].IsScalar() && !doc["field"].IsNull()) {
    message += " (" + doc["field"].Scalar() + ")";
  }
  if (doc.IsMap() && doc["error"] && doc["error"].IsScalar()) return message + ": " + doc["error"].Scalar();
  return message + ": " + r.body.substr(0, 200);
}

absl::StatusOr<client::HttpResponse> Send(client::HttpClient& http, const TagsOptions& options, std::string method,
                                          std::string target, std::string body) {
  client::HttpRequest req;
  req.method = std::move(method);
  req.target = std::move(target);
  req.body = std::move(body);
  req.headers.emplace_back("Authorization", "Bearer " + options.admin_key);
  ASSIGN_OR_RETURN(client::HttpResponse r, http.Send(req));
  if (r.status == 401) return absl::UnauthenticatedError("the server refused the admin key: " + ServerMessage(r));
  if (r.status == 403) return absl::PermissionDeniedError("the key is not an admin key: " + ServerMessage(r));
  return r;
}

void PrintTree(const YAML::Node& list, int depth, std::FILE* out) {
  if (!list.IsSequence()) return;
  for (const YAML::Node& t : list) {
    if (!t.IsMap()) continue;
    auto text = [&](const char* key) { return t[key] && t[key].IsScalar() ? t[key].Scalar() : std::string(); };
    std::fprintf(out, "%*s%s  %s  [%s]  %s\n", depth * 2, "", text("name").c_str(), text("display_name").c_str(),
                 text("kind").c_str(), text("count").c_str());
    PrintTree(t["children"], depth + 1, out);
  }
}

}  // namespace

absl::StatusOr<TagPack> ParseTagPack(std::string_view text, const std::string& path, size_t max_depth) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(Where(path, e.mark) + ": " + e.msg);
  }
  Reader reader;
  reader.path = path;
  reader.max_depth = max_depth;
  reader.pack.path = path;
  if (!root || root.IsNull()) return absl::InvalidArgumentError(path + ": the file is empty");
  try {
    RETURN_IF_ERROR(CheckKeys(path, root, {"version", "description", "owner", "tags"}, "the pack"));
    if (const YAML::Node v = root["version"]; v && (!v.IsScalar() || v.Scalar() != "1")) {
      return Bad(path, v, "version must be 1");
    }
    RETURN_IF_ERROR(ReadText(path, root, "owner", &reader.default_owner));
    const YAML::Node tags = root["tags"];
    if (!tags) return Bad(path, root, "the pack needs a \"tags\" list");
    reader.CollectNames(tags);
    RETURN_IF_ERROR(reader.ReadList(tags, "", 1));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(Where(path, e.mark) + ": " + e.msg);
  }
  if (reader.pack.tags.empty()) return absl::InvalidArgumentError(path + ": the pack has no tags");
  return std::move(reader.pack);
}

absl::StatusOr<TagPack> ReadTagPack(const std::string& path, size_t max_depth) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(path + ": cannot read the tag pack");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseTagPack(ss.str(), path, max_depth);
}

absl::StatusOr<LoadSummary> LoadTagPack(const TagPack& pack, const TagsOptions& options, std::FILE* log) {
  ASSIGN_OR_RETURN(std::unique_ptr<client::HttpClient> http, client::HttpClient::Connect(options.url));
  LoadSummary summary;
  std::set<std::string, std::less<>> not_loaded;
  for (const PackTag& t : pack.tags) {
    const std::string where = Where(pack.path, t.line, t.column) + ": tag " + t.name + ": ";
    if (!t.parent.empty() && not_loaded.count(t.parent)) {
      std::fprintf(log, "%sskipped: its parent %s was not loaded\n", where.c_str(), t.parent.c_str());
      not_loaded.insert(t.name);
      ++summary.failed;
      continue;
    }
    absl::StatusOr<client::HttpResponse> r =
        Send(*http, options, "PUT", "/v1/tags/" + PercentEncode(t.name), TagBody(t));
    if (!r.ok()) return Annotate(r.status(), "loading tag " + t.name);
    if (r->status == 200) {
      ++summary.loaded;
      continue;
    }
    const std::string at = r->body.find("\"field\":\"rule\"") != std::string::npos && t.rule_line > 0
                               ? Where(pack.path, t.rule_line, t.rule_column) + ": tag " + t.name + ": "
                               : where;
    std::fprintf(log, "%s%s\n", at.c_str(), ServerMessage(*r).c_str());
    not_loaded.insert(t.name);
    ++summary.failed;
  }
  return summary;
}

absl::Status ListServerTags(const TagsOptions& options, std::FILE* out) {
  ASSIGN_OR_RETURN(std::unique_ptr<client::HttpClient> http, client::HttpClient::Connect(options.url));
  ASSIGN_OR_RETURN(client::HttpResponse r, Send(*http, options, "GET", "/v1/tags", ""));
  if (r.status != 200) return absl::UnavailableError("GET /v1/tags: " + ServerMessage(r));
  const YAML::Node doc = ParseReply(r.body);
  if (!doc.IsMap() || !doc["tags"]) return absl::DataLossError("GET /v1/tags: unexpected reply");
  PrintTree(doc["tags"], 0, out);
  return absl::OkStatus();
}

}  // namespace facet::app

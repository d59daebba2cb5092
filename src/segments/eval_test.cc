// Runs testdata/eval.seg: a small world, and expressions with the persons
// they must select (see the file's header for the format).
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/time_format.h"
#include "gtest/gtest.h"
#include "segments/catalog.h"
#include "store/mem_kv_store.h"

namespace facet::segments {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

// Splits `line` into its first `n` space-separated words and the rest.
std::vector<std::string> Words(const std::string& line, size_t n) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (out.size() < n && pos < line.size()) {
    size_t end = line.find(' ', pos);
    if (end == std::string::npos) end = line.size();
    out.push_back(line.substr(pos, end - pos));
    pos = line.find_first_not_of(' ', end);
    if (pos == std::string::npos) pos = line.size();
  }
  out.push_back(pos < line.size() ? line.substr(pos) : "");
  return out;
}

// The {...} object starting at `pos` in `s` (braces balanced, strings
// skipped), advancing pos past it.
std::string TakeObject(const std::string& s, size_t* pos) {
  size_t start = s.find('{', *pos);
  if (start == std::string::npos) return "";
  int depth = 0;
  bool in_string = false;
  for (size_t i = start; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}' && --depth == 0) {
      *pos = i + 1;
      return s.substr(start, i + 1 - start);
    }
  }
  return "";
}

TEST(EvalSegTest, ExpressionsSelectTheExpectedPersons) {
  std::ifstream in(std::string(FACET_SEGMENTS_TESTDATA) + "/eval.seg");
  ASSERT_TRUE(in) << "cannot open eval.seg";
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);

  store::MemKvStore kv;
  PersonTable table;
  Catalog catalog(kv, table);
  store::WriteBatch batch;
  EventSeq seq = 0;
  TimeMs as_of = 0;
  bool defined = false;  // tags and segments are defined at the first as_of
  std::vector<std::pair<std::string, std::string>> pending_segments;
  std::vector<std::pair<std::string, std::vector<PersonId>>> pending_tags;
  int cases = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string line = Trim(lines[i]);
    if (line.empty() || line[0] == '#') continue;
    SCOPED_TRACE("eval.seg line " + std::to_string(i + 1));
    std::vector<std::string> w = Words(line, 1);
    const std::string& kind = w[0];
    if (kind == "person") {
      std::vector<std::string> pw = Words(line, 2);
      PersonId id = static_cast<PersonId>(std::stoul(pw[1]));
      std::map<std::string, profiles::TraitValue, std::less<>> traits;
      std::string obj = pw[2];
      // Top-level members: re-serialise each through the JSON flattening.
      FlattenJsonObject(obj, [&](std::string_view path, const Value&) {
        if (path.find('.') == std::string_view::npos) traits[std::string(path)];
      });
      // Values as JSON text: cut them out of the object by key.
      for (auto& [key, tv] : traits) {
        size_t k = obj.find("\"" + key + "\":");
        ASSERT_NE(k, std::string::npos);
        size_t v = k + key.size() + 3;
        while (obj[v] == ' ') ++v;
        size_t end = v;
        if (obj[v] == '{') {
          tv.json = TakeObject(obj, &end);
        } else if (obj[v] == '[') {
          end = obj.find(']', v) + 1;
          tv.json = obj.substr(v, end - v);
        } else if (obj[v] == '"') {
          end = obj.find('"', v + 1) + 1;
          tv.json = obj.substr(v, end - v);
        } else {
          end = obj.find_first_of(",}", v);
          tv.json = Trim(obj.substr(v, end - v));
        }
      }
      table.Touch(id);
      table.SetTraits(id, traits);
    } else if (kind == "event" || kind == "page") {
      std::vector<std::string> ew = Words(line, 3);
      profiles::Event e;
      e.seq = ++seq;
      e.person = static_cast<PersonId>(std::stoul(ew[1]));
      absl::StatusOr<TimeMs> t = ParseIso8601(ew[2]);
      ASSERT_TRUE(t.ok()) << ew[2];
      e.timestamp = *t;
      e.type = kind == "event" ? profiles::EventType::kTrack : profiles::EventType::kPage;
      const std::string& rest = ew[3];
      size_t q1 = rest.find('"'), q2 = rest.find('"', q1 + 1);
      e.name = rest.substr(q1 + 1, q2 - q1 - 1);
      size_t pos = q2 + 1;
      std::string props = TakeObject(rest, &pos);
      if (!props.empty()) e.properties = props;
      std::string context = TakeObject(rest, &pos);
      if (!context.empty()) e.context = context;
      size_t at = rest.find('@', pos);
      if (at != std::string::npos) {
        profiles::Location loc;
        loc.latitude = std::stod(rest.substr(at + 1));
        loc.longitude = std::stod(rest.substr(rest.find(',', at) + 1));
        e.location = loc;
      }
      table.AddEvent(e.person, e);
    } else if (kind == "tag") {
      std::istringstream ids(w[1]);
      std::string name;
      ids >> name;
      std::vector<PersonId> members;
      for (PersonId p; ids >> p;) members.push_back(p);
      pending_tags.emplace_back(name, members);
    } else if (kind == "segment") {
      std::vector<std::string> sw = Words(line, 2);
      pending_segments.emplace_back(sw[1], sw[2]);
    } else if (kind == "as_of") {
      absl::StatusOr<TimeMs> t = ParseIso8601(w[1]);
      ASSERT_TRUE(t.ok()) << w[1];
      as_of = *t;
      if (!defined) {
        for (const auto& [name, members] : pending_tags) {
          TagDef def;
          def.name = name;
          def.kind = TagKind::kManual;
          ASSERT_TRUE(catalog.PutTag(def, as_of, &batch).ok());
          ASSERT_TRUE(catalog.AddMembers(name, members, as_of, &batch).ok());
        }
        for (const auto& [name, text] : pending_segments) {
          SegmentDef def;
          def.name = name;
          def.expression = text;
          absl::Status s = catalog.PutSegment(def, as_of, &batch);
          ASSERT_TRUE(s.ok()) << s;
        }
        defined = true;
      }
    } else if (kind == "expr") {
      std::string text;
      size_t j = i + 1;
      for (; j < lines.size() && Trim(lines[j]) != "----"; ++j) text += lines[j] + "\n";
      ASSERT_LT(j + 1, lines.size()) << "case without ---- and expected ids";
      std::vector<PersonId> want;
      std::istringstream ids(lines[j + 1]);
      for (PersonId p; ids >> p;) want.push_back(p);
      i = j + 1;
      absl::StatusOr<bitmap::Bitmap> got = catalog.Evaluate(text, as_of, as_of);
      ASSERT_TRUE(got.ok()) << got.status() << "\n" << text;
      EXPECT_EQ(got->ToVector(), want) << text;
      ++cases;
    } else {
      FAIL() << "unknown line: " << line;
    }
  }
  EXPECT_GE(cases, 40);
}

}  // namespace
}  // namespace facet::segments

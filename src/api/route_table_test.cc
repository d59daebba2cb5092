#include "api/route_table.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace facet::api {
namespace {

TEST(RouteTableTest, PercentDecode) {
  EXPECT_EQ(*PercentDecode("li.lei%40example.com"), "li.lei@example.com");
  EXPECT_EQ(*PercentDecode("%2B8613800138000"), "+8613800138000");
  EXPECT_EQ(*PercentDecode("+86 138"), "+86 138");  // "+" is not a space in paths
  EXPECT_EQ(*PercentDecode("a%2Fb"), "a/b");
  EXPECT_EQ(*PercentDecode("%E6%9D%8E%E9%9B%B7"), "李雷");
  EXPECT_EQ(*PercentDecode(""), "");
}

TEST(RouteTableTest, PercentDecodeRejectsMalformedInput) {
  EXPECT_FALSE(PercentDecode("%").ok());
  EXPECT_FALSE(PercentDecode("%4").ok());
  EXPECT_FALSE(PercentDecode("%zz").ok());
  EXPECT_FALSE(PercentDecode("a%00b").ok());
  EXPECT_FALSE(PercentDecode("%FF").ok());        // not UTF-8
  EXPECT_FALSE(PercentDecode("%C0%AF").ok());     // overlong
  EXPECT_FALSE(PercentDecode("%ED%A0%80").ok());  // surrogate
}

TEST(RouteTableTest, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("佛山 😀"));
  EXPECT_FALSE(IsValidUtf8("\xe4\xbd"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\x80"));
}

TEST(RouteTableTest, ParseQuery) {
  auto q = ParseQuery("limit=10&cursor=ab%3D+c&&flag");
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 3u);
  EXPECT_EQ((*q)[0], (std::pair<std::string, std::string>("limit", "10")));
  EXPECT_EQ((*q)[1], (std::pair<std::string, std::string>("cursor", "ab=+c")));
  EXPECT_EQ((*q)[2], (std::pair<std::string, std::string>("flag", "")));
  EXPECT_FALSE(ParseQuery("a=%zz").ok());
  EXPECT_TRUE(ParseQuery("")->empty());
}

TEST(RouteTableTest, MatchesPersonRoutesWithDecodedParams) {
  auto m = MatchRoute("GET", "/v1/persons/email/li.lei%40example.com");
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(m->has_value());
  EXPECT_EQ((*m)->id, RouteId::kPerson);
  EXPECT_EQ((*m)->route, "/v1/persons/{ns}/{value}");
  EXPECT_TRUE((*m)->method_allowed);
  EXPECT_EQ((*m)->params, (std::vector<std::string>{"email", "li.lei@example.com"}));

  m = MatchRoute("GET", "/v1/persons/user_id/a%2Fb/events");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->id, RouteId::kPersonEvents);
  EXPECT_EQ((*m)->params[1], "a/b");

  m = MatchRoute("GET", "/v1/persons/user_id/u1/merges");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->id, RouteId::kPersonMerges);
}

TEST(RouteTableTest, MethodMismatchIsReported) {
  auto m = MatchRoute("POST", "/v1/stats");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_FALSE((*m)->method_allowed);
  EXPECT_EQ((*m)->allow, "GET");

  m = MatchRoute("GET", "/v1/merges/12/undo");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->id, RouteId::kUndoMerge);
  EXPECT_FALSE((*m)->method_allowed);
  EXPECT_EQ((*m)->params, (std::vector<std::string>{"12"}));
}

TEST(RouteTableTest, IngestEndpointsAndShortForms) {
  auto m = MatchRoute("POST", "/v1/t");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->id, RouteId::kIngest);
  EXPECT_EQ((*m)->endpoint, ingest::Endpoint::kTrack);
  EXPECT_EQ((*m)->route, "/v1/track");
  EXPECT_TRUE((*m)->method_allowed);

  m = MatchRoute("OPTIONS", "/v1/batch");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_TRUE((*m)->method_allowed);

  m = MatchRoute("GET", "/v1/batch");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_FALSE((*m)->method_allowed);
}

TEST(RouteTableTest, UnknownPaths) {
  for (std::string_view path : {"/", "", "/v1", "/v1/persons/email", "/v1/stats/", "/v2/stats", "/v1/persons/a/b/c"}) {
    auto m = MatchRoute("GET", path);
    ASSERT_TRUE(m.ok()) << path;
    EXPECT_FALSE(m->has_value()) << path;
    EXPECT_EQ(RouteTemplate(path), kUnmatchedRoute) << path;
  }
}

TEST(RouteTableTest, MalformedParameterIsInvalidArgument) {
  auto m = MatchRoute("GET", "/v1/persons/email/%zz");
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RouteTemplate("/v1/persons/email/%zz"), "/v1/persons/{ns}/{value}");
}

TEST(RouteTableTest, TemplatesNeverContainRawValues) {
  EXPECT_EQ(RouteTemplate("/v1/events/msg-123"), "/v1/events/{messageId}");
  EXPECT_EQ(RouteTemplate("/v1/b"), "/v1/batch");
  std::vector<std::string> all = AllRouteTemplates();
  EXPECT_NE(std::find(all.begin(), all.end(), "/v1/events/{messageId}"), all.end());
  EXPECT_NE(std::find(all.begin(), all.end(), "/v1/alias"), all.end());
  EXPECT_EQ(std::find(all.begin(), all.end(), "/v1/a"), all.end());
}

TEST(RouteTableTest, OnePathServesSeveralMethods) {
  auto m = MatchRoute("GET", "/v1/tags/%E9%AB%98%E4%BB%B7%E5%80%BC");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->id, RouteId::kGetTag);
  EXPECT_EQ((*m)->route, "/v1/tags/{name}");
  EXPECT_EQ((*m)->params, (std::vector<std::string>{"高价值"}));
  EXPECT_TRUE((*m)->method_allowed);

  m = MatchRoute("PUT", "/v1/tags/vip");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->id, RouteId::kPutTag);
  m = MatchRoute("DELETE", "/v1/tags/vip");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->id, RouteId::kDeleteTag);

  m = MatchRoute("POST", "/v1/tags/vip");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_FALSE((*m)->method_allowed);
  EXPECT_EQ((*m)->allow, "GET, PUT, DELETE");
  EXPECT_EQ((*m)->route, "/v1/tags/{name}");

  m = MatchRoute("POST", "/v1/tags/vip/members");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->id, RouteId::kAddTagMembers);
  m = MatchRoute("DELETE", "/v1/tags/vip/members");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->id, RouteId::kRemoveTagMembers);
  m = MatchRoute("GET", "/v1/tags/vip/members");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->id, RouteId::kTagMembers);
}

TEST(RouteTableTest, LiteralSegmentRoutesBeatNamesForTheirMethod) {
  auto m = MatchRoute("POST", "/v1/segments/preview");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->id, RouteId::kPreviewSegment);
  EXPECT_EQ((*m)->route, "/v1/segments/preview");

  m = MatchRoute("POST", "/v1/segments/overlap");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->id, RouteId::kSegmentOverlap);

  // Other methods reach the segment of that name.
  m = MatchRoute("GET", "/v1/segments/preview");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->id, RouteId::kGetSegment);
  EXPECT_EQ((*m)->params, (std::vector<std::string>{"preview"}));
  m = MatchRoute("PUT", "/v1/segments/overlap");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->id, RouteId::kPutSegment);

  m = MatchRoute("PATCH", "/v1/segments/lapsed");
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_FALSE((*m)->method_allowed);
  EXPECT_EQ((*m)->allow, "GET, PUT, DELETE");
}

TEST(RouteTableTest, AudienceRoutes) {
  struct Case {
    std::string_view method, path;
    RouteId id;
  };
  for (const Case& c :
       {Case{"GET", "/v1/tags", RouteId::kListTags}, Case{"GET", "/v1/tags/a/changes", RouteId::kTagChanges},
        Case{"GET", "/v1/segments", RouteId::kListSegments},
        Case{"GET", "/v1/segments/a/members", RouteId::kSegmentMembers},
        Case{"GET", "/v1/segments/a/changes", RouteId::kSegmentChanges},
        Case{"GET", "/v1/persons/user_id/u1/segments", RouteId::kPersonMemberships}}) {
    auto m = MatchRoute(c.method, c.path);
    ASSERT_TRUE(m.ok() && m->has_value()) << c.path;
    EXPECT_EQ((*m)->id, c.id) << c.path;
    EXPECT_TRUE((*m)->method_allowed) << c.path;
    EXPECT_TRUE(IsAudienceRoute(c.id)) << c.path;
  }
  EXPECT_FALSE(IsAudienceRoute(RouteId::kPerson));
  EXPECT_FALSE(IsAudienceRoute(RouteId::kIngest));
}

TEST(RouteTableTest, TemplatesAreListedOnce) {
  std::vector<std::string> all = AllRouteTemplates();
  EXPECT_EQ(std::count(all.begin(), all.end(), "/v1/tags/{name}"), 1);
  EXPECT_EQ(std::count(all.begin(), all.end(), "/v1/tags/{name}/members"), 1);
  EXPECT_EQ(std::count(all.begin(), all.end(), "/v1/segments/preview"), 1);
  std::vector<std::string> sorted = all;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
}

}  // namespace
}  // namespace facet::api

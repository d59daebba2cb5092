#include "importer/ndjson_reader.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace facet::importer {
namespace {

TEST(NdjsonReaderTest, ReadsColumnsByNameAndDottedPath) {
  std::string text =
      "{\"userId\":\"u1\",\"properties\":{\"total\":12.5,\"ok\":true},\"n\":null}\n"
      "\n"
      "{\"userId\":7,\"context.ip\":\"1.2.3.4\",\"properties\":{\"items\":[1,2]}}\r\n";
  absl::StatusOr<std::unique_ptr<NdjsonReader>> reader = NdjsonReader::Open(
      MemorySource(text), {"userId", "properties.total", "properties.ok", "n", "context.ip", "properties.items"});
  ASSERT_TRUE(reader.ok());
  Record r;
  ASSERT_TRUE(*(*reader)->Next(&r));
  EXPECT_EQ(r.line, 1);
  EXPECT_EQ(r.fields, (std::vector<std::string>{"u1", "12.5", "true", "", "", ""}));
  ASSERT_TRUE(*(*reader)->Next(&r));
  EXPECT_EQ(r.line, 3);
  EXPECT_EQ(r.fields, (std::vector<std::string>{"7", "", "", "", "1.2.3.4", "[1,2]"}));
  EXPECT_EQ(r.raw.back(), '}');
  EXPECT_FALSE(*(*reader)->Next(&r));
}

TEST(NdjsonReaderTest, BadLinesAreRowErrors) {
  absl::StatusOr<std::unique_ptr<NdjsonReader>> reader =
      NdjsonReader::Open(MemorySource("{\"a\":1}\n[1,2]\n{oops\n{\"a\":2}"), {"a"});
  ASSERT_TRUE(reader.ok());
  Record r;
  ASSERT_TRUE(*(*reader)->Next(&r));
  EXPECT_TRUE(r.error.empty());
  ASSERT_TRUE(*(*reader)->Next(&r));
  EXPECT_EQ(r.error, "a JSON array, expected an object");
  EXPECT_EQ(r.line, 2);
  ASSERT_TRUE(*(*reader)->Next(&r));
  EXPECT_EQ(r.error, "not valid JSON");
  ASSERT_TRUE(*(*reader)->Next(&r));
  EXPECT_EQ(r.fields[0], "2");
  EXPECT_EQ(r.line, 4);
  EXPECT_FALSE(*(*reader)->Next(&r));
}

}  // namespace
}  // namespace facet::importer

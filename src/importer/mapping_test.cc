#include "importer/mapping.h"

#include <string>

#include "gtest/gtest.h"

namespace facet::importer {
namespace {

constexpr char kRetail[] = R"(
type: track
event:
  default: Order Completed
  when:
    - {column: InvoiceNo, starts_with: "C", value: Order Refunded}
user_id: {column: CustomerID, transforms: [trim, {strip_suffix: ".0"}]}
anonymous_id: {template: "guest-{InvoiceNo}", only_without_user_id: true}
message_id: "retail-{InvoiceNo}"
timestamp: {column: InvoiceDate, format: "%Y-%m-%d %H:%M:%S"}
traits:
  country: Country
properties:
  order_id: InvoiceNo
constants:
  properties.currency: GBP
  properties.channel: {web: true}
  context.batch: 3
group_by:
  key: InvoiceNo
  items:
    property: products
    fields:
      product_id: StockCode
      quantity: {column: Quantity, type: int}
      price: {column: UnitPrice, type: float}
  aggregates:
    revenue: {sum_product: [Quantity, UnitPrice]}
    lines: {count: true}
)";

std::string ErrorOf(const std::string& yaml) {
  absl::StatusOr<Mapping> m = ParseMapping(yaml, "m.yaml");
  EXPECT_FALSE(m.ok()) << "parsed: " << yaml;
  return m.ok() ? "" : std::string(m.status().message());
}

TEST(MappingTest, ParsesTheOnlineRetailMapping) {
  absl::StatusOr<Mapping> m = ParseMapping(kRetail, "retail.yaml");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->type, "track");
  ASSERT_TRUE(m->event);
  EXPECT_EQ(m->event->kind, ValueSource::Kind::kConstant);
  EXPECT_EQ(m->event->constant, "Order Completed");
  ASSERT_EQ(m->event->rules.size(), 1u);
  EXPECT_EQ(m->event->rules[0].condition.column, "InvoiceNo");
  EXPECT_EQ(m->event->rules[0].condition.op, Condition::Op::kStartsWith);
  EXPECT_EQ(m->event->rules[0].value, "Order Refunded");

  ASSERT_TRUE(m->user_id);
  EXPECT_EQ(m->user_id->column, "CustomerID");
  ASSERT_EQ(m->user_id->transforms.size(), 2u);
  EXPECT_EQ(m->user_id->transforms[1].kind, Transform::Kind::kStripSuffix);
  EXPECT_EQ(m->user_id->transforms[1].arg, ".0");
  ASSERT_TRUE(m->anonymous_id);
  EXPECT_EQ(m->anonymous_id->kind, ValueSource::Kind::kTemplate);
  EXPECT_TRUE(m->anonymous_id_only_without_user_id);
  ASSERT_TRUE(m->message_id);
  EXPECT_EQ(m->message_id->kind, ValueSource::Kind::kTemplate);
  ASSERT_EQ(m->message_id->parts.size(), 2u);
  EXPECT_EQ(m->message_id->parts[0].text, "retail-");
  EXPECT_TRUE(m->message_id->parts[1].is_column);
  ASSERT_TRUE(m->timestamp);
  EXPECT_EQ(m->timestamp->format, "%Y-%m-%d %H:%M:%S");
  EXPECT_EQ(m->timestamp->timezone, "UTC");

  ASSERT_EQ(m->traits.size(), 1u);
  EXPECT_EQ(m->traits[0].name, "country");
  EXPECT_EQ(m->traits[0].source.column, "Country");
  ASSERT_EQ(m->constants.size(), 3u);
  EXPECT_EQ(m->constants[0].path, (std::vector<std::string>{"properties", "currency"}));
  EXPECT_EQ(m->constants[0].json, "\"GBP\"");
  EXPECT_EQ(m->constants[1].path, (std::vector<std::string>{"properties", "channel", "web"}));
  EXPECT_EQ(m->constants[1].json, "true");
  EXPECT_EQ(m->constants[2].json, "3");

  ASSERT_TRUE(m->group_by);
  EXPECT_EQ(m->group_by->key.column, "InvoiceNo");
  EXPECT_EQ(m->group_by->items_property, "products");
  ASSERT_EQ(m->group_by->item_fields.size(), 3u);
  EXPECT_EQ(m->group_by->item_fields[1].source.type, ValueType::kInt);
  EXPECT_EQ(m->group_by->item_fields[2].source.type, ValueType::kFloat);
  ASSERT_EQ(m->group_by->aggregates.size(), 2u);
  EXPECT_EQ(m->group_by->aggregates[0].kind, Aggregate::Kind::kSumProduct);
  EXPECT_EQ(m->group_by->aggregates[0].round, 2);
  EXPECT_EQ(m->group_by->aggregates[1].kind, Aggregate::Kind::kCount);

  EXPECT_EQ(m->ReferencedColumns(), (std::vector<std::string>{"InvoiceNo", "CustomerID", "InvoiceDate", "Country",
                                                              "StockCode", "Quantity", "UnitPrice"}));
}

TEST(MappingTest, PlainStringsAreColumnsForFieldsAndConstantsForEventNames) {
  absl::StatusOr<Mapping> m = ParseMapping(R"(
event: Signed Up
user_id: id
properties:
  plan: Plan
  label: "{Plan}-{Tier}"
  fixed: {value: "yes"}
)",
                                           "m.yaml");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->event->kind, ValueSource::Kind::kConstant);
  EXPECT_EQ(m->event->constant, "Signed Up");
  EXPECT_EQ(m->user_id->kind, ValueSource::Kind::kColumn);
  EXPECT_EQ(m->properties[0].source.kind, ValueSource::Kind::kColumn);
  EXPECT_EQ(m->properties[1].source.kind, ValueSource::Kind::kTemplate);
  EXPECT_EQ(m->properties[2].source.kind, ValueSource::Kind::kConstant);
}

TEST(MappingTest, HeaderlessWhitespaceFile) {
  absl::StatusOr<Mapping> m = ParseMapping(R"(
delimiter: whitespace
header: false
columns: [customer_id, date, cds, dollars]
type: track
event: Order Completed
user_id: customer_id
timestamp: {column: date, format: "%Y%m%d"}
)",
                                           "cdnow.yaml");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE(m->whitespace_separated);
  EXPECT_FALSE(m->has_header);
  EXPECT_EQ(m->columns.size(), 4u);
}

TEST(MappingTest, ErrorsNameTheFileLineKeyAndWhy) {
  EXPECT_EQ(ErrorOf("event: A\nuser_id: u\nproperties:\n  x: {column: X, type: integr}\n"),
            "m.yaml:4: properties.x.type: unknown type \"integr\" (expected string, int, float "
            "or bool)");
  EXPECT_EQ(ErrorOf("event: A\nuser_id: u\nevnt: B\n"),
            "m.yaml:3: evnt: unknown key (expected one of: format, delimiter, header, columns, "
            "encoding, type, event, name, user_id, anonymous_id, group_id, previous_id, "
            "message_id, timestamp, traits, properties, context, constants, group_by)");
  EXPECT_EQ(ErrorOf("type: track\nuser_id: u\n"),
            "m.yaml:1: event: a track mapping needs `event` (a name, a column or rules)");
  EXPECT_EQ(ErrorOf("event: A\n"), "m.yaml:1: user_id: the mapping needs user_id or anonymous_id (or both)");
  EXPECT_EQ(ErrorOf("type: purchase\nuser_id: u\n"),
            "m.yaml:1: type: unknown type \"purchase\" (expected track, identify, page, screen, "
            "group or alias)");
}

TEST(MappingTest, ValueErrors) {
  EXPECT_NE(ErrorOf("event: A\nuser_id: {column: u, transforms: [strip_suffix]}\n")
                .find("user_id.transforms[0]: \"strip_suffix\" needs an argument"),
            std::string::npos);
  EXPECT_NE(ErrorOf("event: A\nuser_id: {column: u, transforms: [shout]}\n").find("unknown transform \"shout\""),
            std::string::npos);
  EXPECT_NE(ErrorOf("event: A\nuser_id: {column: u, template: \"x{u}\"}\n")
                .find("user_id: takes only one of column, template and value"),
            std::string::npos);
  EXPECT_NE(ErrorOf("event: A\nuser_id: \"guest-{Invoice\"\n").find("has an unclosed '{'"), std::string::npos);
  EXPECT_NE(
      ErrorOf("event: {when: [{column: X, value: B}]}\nuser_id: u\n").find("event.when[0]: needs exactly one test"),
      std::string::npos);
  EXPECT_NE(ErrorOf("event: A\nuser_id: u\nmessage_id: fixed\n")
                .find("message_id: a constant would give every event the same id"),
            std::string::npos);
}

TEST(MappingTest, TimestampErrors) {
  EXPECT_NE(ErrorOf("event: A\nuser_id: u\ntimestamp: {column: t, format: dd/mm/yyyy}\n")
                .find("m.yaml:3: timestamp.format: unknown format \"dd/mm/yyyy\""),
            std::string::npos);
  EXPECT_NE(ErrorOf("event: A\nuser_id: u\ntimestamp: {column: t, format: \"%Y %Q\"}\n")
                .find("timestamp.format: format \"%Y %Q\": %Q is not supported"),
            std::string::npos);
  EXPECT_NE(ErrorOf("event: A\nuser_id: u\ntimestamp: {column: t, timezone: Mars/Base}\n")
                .find("timestamp.timezone: unknown timezone \"Mars/Base\""),
            std::string::npos);
}

TEST(MappingTest, GroupByErrors) {
  EXPECT_NE(ErrorOf("event: A\nuser_id: u\ngroup_by: {items: {fields: {a: A}}}\n").find("group_by: needs `key`"),
            std::string::npos);
  EXPECT_NE(ErrorOf("event: A\nuser_id: u\ngroup_by: {key: K, aggregates: {r: {sum_product: [Q]}}}\n")
                .find("group_by.aggregates.r.sum_product: must list two or more columns"),
            std::string::npos);
  EXPECT_NE(ErrorOf("event: A\nuser_id: u\ngroup_by: {key: K, aggregates: {r: {average: Q}}}\n")
                .find("group_by.aggregates.r.average: unknown key"),
            std::string::npos);
  EXPECT_NE(ErrorOf("event: A\nuser_id: u\ngroup_by: {key: K, on_oversize: drop}\n")
                .find("\"drop\" is not truncate_items or reject"),
            std::string::npos);
}

TEST(MappingTest, ConstantsMustGoToASection) {
  EXPECT_NE(ErrorOf("event: A\nuser_id: u\nconstants: {currency: GBP}\n")
                .find("constants.currency: must start with properties., traits. or context."),
            std::string::npos);
}

TEST(MappingTest, InvalidYamlHasALine) {
  std::string e = ErrorOf("event: A\nuser_id: [u\n");
  EXPECT_EQ(e.rfind("m.yaml:", 0), 0u) << e;
  EXPECT_NE(e.find("not valid YAML"), std::string::npos) << e;
}

TEST(MappingTest, MissingFileIsNotFound) {
  EXPECT_EQ(LoadMapping("/nonexistent/mapping.yaml").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace facet::importer

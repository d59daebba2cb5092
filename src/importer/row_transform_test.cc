#include "importer/row_transform.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "importer/csv_reader.h"
#include "nlohmann/json.hpp"

namespace facet::importer {
namespace {

using nlohmann::json;

constexpr char kRetailMapping[] = R"(
type: track
event:
  default: Order Completed
  when: [{column: InvoiceNo, starts_with: "C", value: Order Refunded}]
user_id: {column: CustomerID, transforms: [trim, {strip_suffix: ".0"}]}
anonymous_id: {template: "guest-{InvoiceNo}", only_without_user_id: true}
message_id: "online-retail-{InvoiceNo}"
timestamp: {column: InvoiceDate, format: "%Y-%m-%d %H:%M:%S"}
traits: {country: Country}
properties: {order_id: InvoiceNo}
constants: {properties.currency: GBP}
group_by:
  key: InvoiceNo
  items:
    property: products
    fields:
      product_id: StockCode
      name: {column: Description, transforms: [trim]}
      quantity: {column: Quantity, type: int}
      price: {column: UnitPrice, type: float}
  aggregates:
    revenue: {sum_product: [Quantity, UnitPrice], round: 2}
)";

constexpr char kRetailCsv[] =
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United "
    "Kingdom\n"                                                                       // line 2
    "536366,22633,\"HAND WARMER, UNION JACK \",6,2010-12-01 08:28:00,1.85,,France\n"  // line 3
    "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom\n"
    "C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527.0,United Kingdom\n"  // line 5
    "536365,22752,SET 7 BABUSHKA NESTING BOXES,abc,2010-12-01 08:26:00,7.65,17850.0,United "
    "Kingdom\n"                                                                   // line 6
    "536400,1,A,x,2010-12-01 10:00:00,1,12345.0,Spain\n"                          // line 7
    "536365,21730,GLASS STAR,1,2010-12-01 08:26:00,0.1,17850.0,United Kingdom\n"  // line 8
    "536365,21731,GLASS MOON,2,2010-12-01 08:26:00,0.1,17850.0,United Kingdom\n";

struct Output {
  std::vector<RowEvent> events;
  std::vector<Rejection> rejections;
};

Mapping MustParse(const std::string& yaml) {
  absl::StatusOr<Mapping> m = ParseMapping(yaml, "test.yaml");
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *m : Mapping();
}

std::unique_ptr<CsvReader> Reader(const std::string& csv) {
  absl::StatusOr<std::unique_ptr<CsvReader>> r = CsvReader::Open(MemorySource(csv), {});
  EXPECT_TRUE(r.ok()) << r.status();
  return std::move(*r);
}

Output Convert(const Mapping& mapping, const std::string& csv, size_t max_event_bytes = 32000) {
  Output out;
  std::unique_ptr<CsvReader> reader = Reader(csv);
  absl::StatusOr<RowTransformer> t =
      RowTransformer::Create(mapping, reader->columns(), {.input_name = "in.csv", .max_event_bytes = max_event_bytes});
  EXPECT_TRUE(t.ok()) << t.status();
  std::optional<EventGrouper> grouper;
  if (mapping.group_by) grouper.emplace(mapping, max_event_bytes);
  Record r;
  std::string json, reason;
  while (*reader->Next(&r)) {
    RowRef ref{0, r.line};
    if (grouper) {
      if (!grouper->Add(*t, r, ref, &reason)) out.rejections.push_back({{ref}, reason, r.raw});
    } else if (t->Transform(r, &json, &reason)) {
      out.events.push_back({json, {ref}, r.raw, 0});
    } else {
      out.rejections.push_back({{ref}, reason, r.raw});
    }
  }
  if (grouper) {
    grouper->Finish([&](RowEvent e) { out.events.push_back(std::move(e)); },
                    [&](Rejection x) { out.rejections.push_back(std::move(x)); });
  }
  return out;
}

TEST(RowTransformTest, GroupsInvoiceLinesAcrossTheFile) {
  Mapping m = MustParse(kRetailMapping);
  Output out = Convert(m, kRetailCsv);

  // Four invoices seen; 536400's only row is bad, so it emits nothing.
  ASSERT_EQ(out.events.size(), 3u);
  json order = json::parse(out.events[0].json);
  EXPECT_EQ(order["type"], "track");
  EXPECT_EQ(order["event"], "Order Completed");
  EXPECT_EQ(order["userId"], "17850");
  EXPECT_FALSE(order.contains("anonymousId"));
  EXPECT_EQ(order["messageId"], "online-retail-536365");
  EXPECT_EQ(order["timestamp"], "2010-12-01T08:26:00.000Z");
  EXPECT_EQ(order["context"]["traits"]["country"], "United Kingdom");
  EXPECT_EQ(order["properties"]["order_id"], "536365");
  EXPECT_EQ(order["properties"]["currency"], "GBP");
  // Lines 2, 4, 8 and 9; line 6 (Quantity "abc") is rejected on its own.
  ASSERT_EQ(order["properties"]["products"].size(), 4u);
  EXPECT_EQ(order["properties"]["products"][0],
            json::parse(R"({"product_id":"85123A","name":"WHITE HANGING HEART T-LIGHT HOLDER",
                            "quantity":6,"price":2.55})"));
  EXPECT_EQ(order["properties"]["products"][1]["product_id"], "71053");
  // 6*2.55 + 6*3.39 + 1*0.1 + 2*0.1 = 35.94 (float noise rounded away).
  EXPECT_EQ(order["properties"]["revenue"].dump(), "35.94");
  std::vector<int64_t> lines;
  for (const RowRef& r : out.events[0].rows) lines.push_back(r.line);
  EXPECT_EQ(lines, (std::vector<int64_t>{2, 4, 8, 9}));
  EXPECT_EQ(std::count(out.events[0].raw.begin(), out.events[0].raw.end(), '\n'), 3);

  json guest = json::parse(out.events[1].json);
  EXPECT_FALSE(guest.contains("userId"));
  EXPECT_EQ(guest["anonymousId"], "guest-536366");
  EXPECT_EQ(guest["properties"]["products"][0]["name"], "HAND WARMER, UNION JACK");
  EXPECT_EQ(guest["context"]["traits"]["country"], "France");

  json refund = json::parse(out.events[2].json);
  EXPECT_EQ(refund["event"], "Order Refunded");
  EXPECT_EQ(refund["userId"], "14527");
  EXPECT_EQ(refund["properties"]["revenue"].dump(), "-27.5");

  ASSERT_EQ(out.rejections.size(), 2u);
  EXPECT_EQ(out.rejections[0].rows[0].line, 6);
  EXPECT_EQ(out.rejections[0].reason, "Quantity: \"abc\" is not an integer");
  EXPECT_EQ(out.rejections[1].rows[0].line, 7);
  EXPECT_EQ(out.rejections[1].reason, "Quantity: \"x\" is not an integer");
}

TEST(RowTransformTest, AggregatesRejectNonNumbersEvenWithoutATypedItemField) {
  Mapping m = MustParse(R"(
event: Order Completed
user_id: c
group_by:
  key: k
  aggregates:
    revenue: {sum_product: [q, p]}
    units: {sum: q, round: 0}
    lines: {count: true}
    top: {max: p}
)");
  Output out = Convert(m, "k,c,q,p\n1,u,2,0.1\n1,u,abc,1\n1,u,1,0.2\n1,u,,5\n");
  ASSERT_EQ(out.events.size(), 1u);
  json e = json::parse(out.events[0].json);
  EXPECT_EQ(e["properties"]["revenue"].dump(), "0.4");
  EXPECT_EQ(e["properties"]["units"].dump(), "3");
  EXPECT_EQ(e["properties"]["lines"].dump(), "3");
  EXPECT_EQ(e["properties"]["top"].dump(), "5");
  ASSERT_EQ(out.rejections.size(), 1u);
  EXPECT_EQ(out.rejections[0].reason, "q: \"abc\" is not a number");
  EXPECT_EQ(out.rejections[0].rows[0].line, 3);
}

TEST(RowTransformTest, OversizedGroupKeepsTheItemsThatFitAndSaysHowManyWereLeftOut) {
  Mapping m = MustParse(kRetailMapping);
  std::string csv = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n";
  for (int i = 0; i < 200; ++i) {
    csv += "9," + std::to_string(i) + ",SOME LONG PRODUCT DESCRIPTION NUMBER " + std::to_string(i) +
           ",1,2011-01-01 10:00:00,1.5,1.0,UK\n";
  }
  Output out = Convert(m, csv, 4000);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_LE(out.events[0].json.size(), 4000u);
  json e = json::parse(out.events[0].json);
  size_t kept = e["properties"]["products"].size();
  EXPECT_GT(kept, 10u);
  EXPECT_EQ(e["properties"]["products_omitted"].get<size_t>(), 200 - kept);
  EXPECT_EQ(out.events[0].items_omitted, 200 - kept);
  EXPECT_EQ(e["properties"]["revenue"].dump(), "300");  // all rows still count
  EXPECT_EQ(out.events[0].rows.size(), 200u);

  Mapping strict = MustParse(std::string(kRetailMapping) + "  on_oversize: reject\n");
  Output refused = Convert(strict, csv, 4000);
  EXPECT_TRUE(refused.events.empty());
  ASSERT_EQ(refused.rejections.size(), 1u);
  EXPECT_EQ(refused.rejections[0].rows.size(), 200u);
  EXPECT_NE(refused.rejections[0].reason.find("over the 4000-byte limit"), std::string::npos);
}

TEST(RowTransformTest, OneRowOneIdentifyEventWithTypedTraits) {
  Mapping m = MustParse(R"(
type: identify
user_id: customerID
traits:
  email: {column: Email, transforms: [trim, lower]}
  tenure: {column: tenure, type: int}
  monthly: {column: MonthlyCharges, type: float}
  senior: {column: SeniorCitizen, type: bool}
  address.city: City
timestamp: {column: Since, format: unix_ms}
)");
  Output out = Convert(m,
                       "customerID,Email,tenure,MonthlyCharges,SeniorCitizen,City,Since\n"
                       "7590-VHVEG, A@Example.COM ,1,29.85,0,Foshan,1700000000000\n"
                       "5575-GNVDE,,34, ,yes,,\n"
                       "3668-QPYBK,,2,n/a,0,,\n"
                       ",,2,1,0,,\n");
  ASSERT_EQ(out.events.size(), 2u);
  json a = json::parse(out.events[0].json);
  EXPECT_EQ(a["type"], "identify");
  EXPECT_EQ(a["userId"], "7590-VHVEG");
  EXPECT_EQ(a["traits"]["email"], "a@example.com");
  EXPECT_EQ(a["traits"]["tenure"], 1);
  EXPECT_EQ(a["traits"]["monthly"], 29.85);
  EXPECT_EQ(a["traits"]["senior"], false);
  EXPECT_EQ(a["traits"]["address"]["city"], "Foshan");
  EXPECT_EQ(a["timestamp"], "2023-11-14T22:13:20.000Z");
  // Default messageIds are stable: a hash of the file name and line.
  EXPECT_EQ(a["messageId"], DefaultMessageId("", "in.csv:2"));
  json b = json::parse(out.events[1].json);
  EXPECT_FALSE(b["traits"].contains("email"));
  EXPECT_FALSE(b.contains("timestamp"));
  EXPECT_EQ(b["traits"]["senior"], true);
  EXPECT_FALSE(b["traits"].contains("monthly"));  // blank, as telco's TotalCharges can be

  ASSERT_EQ(out.rejections.size(), 2u);
  EXPECT_EQ(out.rejections[0].rows[0].line, 4);
  EXPECT_EQ(out.rejections[0].reason, "MonthlyCharges: \"n/a\" is not a number");
  EXPECT_EQ(out.rejections[1].reason, "no userId or anonymousId (customerID is empty)");
}

TEST(RowTransformTest, TimestampFormatsAndZones) {
  Mapping m = MustParse(R"(
event: Order Completed
user_id: id
timestamp: {column: d, format: "%Y%m%d", timezone: "+08:00"}
)");
  Output out = Convert(m, "id,d\n1,19970101\n2,19970230\n");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(json::parse(out.events[0].json)["timestamp"], "1996-12-31T16:00:00.000Z");
  ASSERT_EQ(out.rejections.size(), 1u);
  EXPECT_EQ(out.rejections[0].reason, "d: \"19970230\" does not match the format \"%Y%m%d\"");

  Mapping london = MustParse(R"(
event: E
user_id: id
timestamp: {column: d, format: "%d/%m/%Y %I:%M %p", timezone: Europe/London}
)");
  Output summer = Convert(london, "id,d\n1,01/07/2011 1:30 PM\n");
  ASSERT_EQ(summer.events.size(), 1u);
  EXPECT_EQ(json::parse(summer.events[0].json)["timestamp"], "2011-07-01T12:30:00.000Z");

  Mapping iso = MustParse("event: E\nuser_id: id\ntimestamp: {column: d, timezone: \"-05:00\"}\n");
  Output isos = Convert(iso, "id,d\n1,2024-05-01T12:00:00Z\n2,2024-05-01 12:00:00\n");
  ASSERT_EQ(isos.events.size(), 2u);
  EXPECT_EQ(json::parse(isos.events[0].json)["timestamp"], "2024-05-01T12:00:00.000Z");
  EXPECT_EQ(json::parse(isos.events[1].json)["timestamp"], "2024-05-01T17:00:00.000Z");
}

TEST(RowTransformTest, RulesTemplatesAndConstants) {
  Mapping m = MustParse(R"(
event:
  column: action
  when:
    - {column: amount, less_than: 0, value: Order Refunded}
    - {column: action, in: [buy, purchase], value: Order Completed}
  default: Unknown
user_id: {column: u, transforms: [upper]}
properties:
  label: "{action}/{amount}"
  amount: {column: amount, type: float}
constants:
  properties.source: import
  traits.vip: true
context:
  ip: ip
)");
  Output out = Convert(m, "action,amount,u,ip\nbuy,5,ab,1.2.3.4\nbuy,-5,ab,\nlook,1,ab,\n,1,ab,\n");
  ASSERT_EQ(out.events.size(), 4u);
  json a = json::parse(out.events[0].json);
  EXPECT_EQ(a["event"], "Order Completed");
  EXPECT_EQ(a["userId"], "AB");
  EXPECT_EQ(a["properties"]["label"], "buy/5");
  EXPECT_EQ(a["properties"]["amount"], 5);
  EXPECT_EQ(a["properties"]["source"], "import");
  EXPECT_EQ(a["context"]["traits"]["vip"], true);
  EXPECT_EQ(a["context"]["ip"], "1.2.3.4");
  EXPECT_EQ(json::parse(out.events[1].json)["event"], "Order Refunded");
  // No rule holds: the column's value, or the default when it is empty.
  EXPECT_EQ(json::parse(out.events[2].json)["event"], "look");
  EXPECT_EQ(json::parse(out.events[3].json)["event"], "Unknown");
}

TEST(RowTransformTest, MissingColumnIsAnErrorNamingKeyAndColumn) {
  Mapping m = MustParse(kRetailMapping);
  std::unique_ptr<CsvReader> reader = Reader("InvoiceNo,StockCode\n1,2\n");
  absl::Status s = RowTransformer::Create(m, reader->columns(), {}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(s.message()),
            "user_id: column \"CustomerID\" is not in the input (columns: InvoiceNo, StockCode)");
}

TEST(RowTransformTest, InvalidUtf8IsRejectedUnlessTheMappingSaysLatin1) {
  std::string csv = "id,name\n1,caf\xE9\n";
  Output utf8 = Convert(MustParse("event: E\nuser_id: id\nproperties: {name: name}\n"), csv);
  ASSERT_EQ(utf8.rejections.size(), 1u);
  EXPECT_EQ(utf8.rejections[0].reason, "name: not valid UTF-8 (set `encoding: latin1` for Latin-1 files)");
  Output latin1 = Convert(MustParse("encoding: latin1\nevent: E\nuser_id: id\nproperties: {name: name}\n"), csv);
  ASSERT_EQ(latin1.events.size(), 1u);
  EXPECT_EQ(json::parse(latin1.events[0].json)["properties"]["name"], "caf\xC3\xA9");
}

TEST(RowTransformTest, BadRecordsAreRejectedWithTheReadersReason) {
  Output out = Convert(MustParse("event: E\nuser_id: id\n"), "id,x\n1,2,3\n");
  ASSERT_EQ(out.rejections.size(), 1u);
  EXPECT_EQ(out.rejections[0].reason, "has 3 fields, the header has 2");
}

TEST(RowTransformTest, DefaultMessageIdIsStableAndDistinct) {
  EXPECT_EQ(DefaultMessageId("k", "a.csv:2"), DefaultMessageId("k", "a.csv:2"));
  EXPECT_NE(DefaultMessageId("k", "a.csv:2"), DefaultMessageId("k", "a.csv:3"));
  EXPECT_EQ(DefaultMessageId("k", "x").size(), 36u);
  // Keyed: without the key, nobody can compute a row's id ahead of the import.
  EXPECT_NE(DefaultMessageId("k", "a.csv:2"), DefaultMessageId("other", "a.csv:2"));
}

}  // namespace
}  // namespace facet::importer

#include "importer/csv_reader.h"

#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace facet::importer {
namespace {

// Hands out its bytes one at a time, to cross every buffer boundary.
class TrickleSource final : public ByteSource {
 public:
  explicit TrickleSource(std::string data) : data_(std::move(data)) {}
  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    if (pos_ == data_.size() || n == 0) return 0;
    buf[0] = data_[pos_++];
    return 1;
  }
  uint64_t consumed() const override { return pos_; }
  uint64_t size() const override { return data_.size(); }

 private:
  std::string data_;
  size_t pos_ = 0;
};

std::string GzipBytes(const std::string& data) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::vector<Record> ReadAll(std::unique_ptr<ByteSource> source, CsvOptions options = {},
                            std::vector<std::string>* columns = nullptr) {
  absl::StatusOr<std::unique_ptr<CsvReader>> reader = CsvReader::Open(std::move(source), options);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return {};
  if (columns != nullptr) *columns = (*reader)->columns();
  std::vector<Record> out;
  while (true) {
    Record r;
    absl::StatusOr<bool> more = (*reader)->Next(&r);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    out.push_back(r);
  }
  return out;
}

std::vector<Record> ReadText(const std::string& text, CsvOptions options = {}) {
  return ReadAll(MemorySource(text), options);
}

TEST(CsvReaderTest, ReadsHeaderAndRowsWithLineNumbers) {
  std::vector<std::string> columns;
  std::vector<Record> rows = ReadAll(MemorySource("a,b,c\n1,2,3\n4,,6\n"), {}, &columns);
  EXPECT_EQ(columns, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].fields, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(rows[0].line, 2);
  EXPECT_EQ(rows[0].raw, "1,2,3");
  EXPECT_EQ(rows[1].fields, (std::vector<std::string>{"4", "", "6"}));
  EXPECT_EQ(rows[1].line, 3);
}

TEST(CsvReaderTest, QuotedFieldsKeepCommasQuotesAndNewlines) {
  std::string text =
      "InvoiceNo,Description,Quantity\n"
      "536381,\"AIRLINE LOUNGE,METAL SIGN\",2\n"
      "536477,\"RECORD FRAME 7\"\" SINGLE SIZE \",48\n"
      "536500,\"TWO\nLINES\",1\n"
      "536501,after,3\n";
  std::vector<Record> rows = ReadText(text);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].fields[1], "AIRLINE LOUNGE,METAL SIGN");
  EXPECT_EQ(rows[1].fields[1], "RECORD FRAME 7\" SINGLE SIZE ");
  EXPECT_EQ(rows[1].raw, "536477,\"RECORD FRAME 7\"\" SINGLE SIZE \",48");
  EXPECT_EQ(rows[2].fields[1], "TWO\nLINES");
  EXPECT_EQ(rows[2].line, 4);
  EXPECT_EQ(rows[3].line, 6);  // the quoted newline counts as a line
  EXPECT_EQ(rows[3].fields[1], "after");
}

TEST(CsvReaderTest, HandlesCrLfAndNoFinalNewline) {
  std::vector<Record> rows = ReadText("a,b\r\n1,\"x\r\ny\"\r\n3,4");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].fields, (std::vector<std::string>{"1", "x\r\ny"}));
  EXPECT_EQ(rows[1].fields, (std::vector<std::string>{"3", "4"}));
  EXPECT_EQ(rows[1].line, 4);
  EXPECT_EQ(rows[1].raw, "3,4");
}

TEST(CsvReaderTest, SameResultWhenBytesArriveOneByOne) {
  std::string text = "\xEF\xBB\xBFid,name\r\n1,\"a,\"\"b\"\"\"\r\n\r\n2,c\r\n";
  std::vector<Record> whole = ReadText(text);
  std::vector<Record> trickled = ReadAll(std::make_unique<TrickleSource>(text));
  ASSERT_EQ(whole.size(), 2u);
  ASSERT_EQ(trickled.size(), 2u);
  for (size_t i = 0; i < whole.size(); ++i) {
    EXPECT_EQ(whole[i].fields, trickled[i].fields);
    EXPECT_EQ(whole[i].line, trickled[i].line);
    EXPECT_EQ(whole[i].raw, trickled[i].raw);
  }
  EXPECT_EQ(whole[0].fields[1], "a,\"b\"");
  EXPECT_EQ(whole[1].line, 4);  // the blank line is skipped but counted
}

TEST(CsvReaderTest, ByteOrderMarkIsNotPartOfTheFirstColumn) {
  std::vector<std::string> columns;
  ReadAll(MemorySource("\xEF\xBB\xBFid,x\n1,2\n"), {}, &columns);
  EXPECT_EQ(columns[0], "id");
}

TEST(CsvReaderTest, OtherDelimiters) {
  std::vector<Record> semi = ReadText("age;job\n58;\"management;x\"\n", {.delimiter = ';'});
  ASSERT_EQ(semi.size(), 1u);
  EXPECT_EQ(semi[0].fields, (std::vector<std::string>{"58", "management;x"}));
  std::vector<Record> tab = ReadText("a\tb\n1\t2 3\n", {.delimiter = '\t'});
  ASSERT_EQ(tab.size(), 1u);
  EXPECT_EQ(tab[0].fields, (std::vector<std::string>{"1", "2 3"}));
}

TEST(CsvReaderTest, WhitespaceSeparatedLikeCdnow) {
  std::string text =
      " customer_id  date number_of_cds  dollar_value\r\n"
      " 00001 19970101  1   11.77\r\n"
      "   \r\n"
      " 00002 19970112  1   12.00\r\n";
  std::vector<std::string> columns;
  std::vector<Record> rows = ReadAll(MemorySource(text), {.whitespace = true}, &columns);
  EXPECT_EQ(columns, (std::vector<std::string>{"customer_id", "date", "number_of_cds", "dollar_value"}));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].fields, (std::vector<std::string>{"00001", "19970101", "1", "11.77"}));
  EXPECT_EQ(rows[1].line, 4);
}

TEST(CsvReaderTest, ColumnNamesWithoutHeader) {
  std::vector<std::string> columns;
  std::vector<Record> rows = ReadAll(MemorySource("1 19970101\n2 19970102\n"),
                                     {.whitespace = true, .header = false, .columns = {"id", "d"}}, &columns);
  EXPECT_EQ(columns, (std::vector<std::string>{"id", "d"}));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].line, 1);
}

TEST(CsvReaderTest, WrongFieldCountIsARowErrorNotAReadError) {
  std::vector<Record> rows = ReadText("a,b\n1,2,3\n4\n5,6\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].error, "has 3 fields, the header has 2");
  EXPECT_EQ(rows[0].raw, "1,2,3");
  EXPECT_EQ(rows[0].fields.size(), 2u);
  EXPECT_EQ(rows[1].error, "has 1 field, the header has 2");
  EXPECT_TRUE(rows[2].error.empty());
}

TEST(CsvReaderTest, UnclosedQuoteIsReportedWithItsLine) {
  std::vector<Record> rows = ReadText("a,b\n1,2\n3,\"open\n4,5\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].line, 3);
  EXPECT_EQ(rows[1].error, "the quoted field that starts on line 3 is not closed before the end of the input");
}

TEST(CsvReaderTest, HeaderErrors) {
  EXPECT_EQ(CsvReader::Open(MemorySource(""), {}).status().code(), absl::StatusCode::kInvalidArgument);
  absl::Status dup = CsvReader::Open(MemorySource("a,b,a\n"), {}).status();
  EXPECT_EQ(dup.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(dup.message()).find("\"a\" appears twice"), std::string::npos) << dup;
  EXPECT_FALSE(CsvReader::Open(MemorySource("a,,c\n"), {}).ok());
}

TEST(CsvReaderTest, ReadsGzipFromMemoryAndFromAFile) {
  std::string text = "a,b\n1,\"x,y\"\n2,z\n";
  std::vector<Record> rows = ReadAll(MemorySource(GzipBytes(text)));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].fields[1], "x,y");

  // A file whose name does not say it is compressed: found by its magic bytes.
  char path[] = "/tmp/csv_reader_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string gz = GzipBytes(text) + GzipBytes("3,w\n");  // two gzip members
  ASSERT_EQ(write(fd, gz.data(), gz.size()), static_cast<ssize_t>(gz.size()));
  close(fd);
  absl::StatusOr<std::unique_ptr<ByteSource>> file = OpenInputFile(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->size(), gz.size());
  std::vector<Record> from_file = ReadAll(std::move(*file));
  ASSERT_EQ(from_file.size(), 3u);
  EXPECT_EQ(from_file[2].fields, (std::vector<std::string>{"3", "w"}));
  std::remove(path);
}

TEST(CsvReaderTest, CorruptGzipIsDataLoss) {
  std::string gz = GzipBytes(std::string(100000, 'x'));
  gz.resize(gz.size() / 2);
  char path[] = "/tmp/csv_reader_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, gz.data(), gz.size()), static_cast<ssize_t>(gz.size()));
  close(fd);
  absl::StatusOr<std::unique_ptr<ByteSource>> file = OpenInputFile(path);
  ASSERT_TRUE(file.ok());
  char buf[4096];
  absl::Status status;
  while (true) {
    absl::StatusOr<size_t> n = (*file)->Read(buf, sizeof buf);
    if (!n.ok()) {
      status = n.status();
      break;
    }
    if (*n == 0) break;
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  std::remove(path);
}

TEST(CsvReaderTest, MissingFileIsNotFound) {
  EXPECT_EQ(OpenInputFile("/nonexistent/x.csv").status().code(), absl::StatusCode::kNotFound);
}

TEST(CsvReaderTest, InputBaseNameDropsDirectoriesAndGz) {
  EXPECT_EQ(InputBaseName("/x/y/orders.csv.gz"), "orders.csv");
  EXPECT_EQ(InputBaseName("orders.csv"), "orders.csv");
}

}  // namespace
}  // namespace facet::importer

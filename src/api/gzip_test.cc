#include "api/gzip.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace facet::api {
namespace {

// Compresses with zlib's deflate; gzip framing when `gzip`, else zlib.
std::string Compress(std::string_view data, bool gzip = true) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, gzip ? 15 + 16 : 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

TEST(GzipTest, RoundTrip) {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "{\"type\":\"track\",\"event\":\"Viewed " + std::to_string(i) + "\"}";
  std::string gz = Compress(text);
  EXPECT_TRUE(LooksGzipped(gz));
  absl::StatusOr<std::string> back = Decompress(gz, text.size());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, text);
}

TEST(GzipTest, EmptyPayload) {
  absl::StatusOr<std::string> back = Decompress(Compress(""), 10);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, "");
}

TEST(GzipTest, AcceptsZlibStreams) {
  absl::StatusOr<std::string> back = Decompress(Compress("hello", /*gzip=*/false), 100);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, "hello");
}

TEST(GzipTest, ConcatenatedMembers) {
  absl::StatusOr<std::string> back = Decompress(Compress("hello ") + Compress("world"), 100);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, "hello world");
}

TEST(GzipTest, SizeCapIsOutOfRange) {
  std::string zeros(1 << 20, '0');  // compresses to about a kilobyte
  std::string gz = Compress(zeros);
  ASSERT_LT(gz.size(), 8192u);
  absl::StatusOr<std::string> back = Decompress(gz, zeros.size() - 1);
  EXPECT_EQ(back.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(Decompress(gz, zeros.size()).ok());
}

TEST(GzipTest, CorruptOrTruncatedIsInvalidArgument) {
  std::string gz = Compress("some text that is long enough to matter, some text");
  EXPECT_EQ(Decompress(gz.substr(0, gz.size() / 2), 1000).status().code(), absl::StatusCode::kInvalidArgument);
  std::string corrupt = gz;
  corrupt[12] = static_cast<char>(corrupt[12] ^ 0x55);
  corrupt[13] = static_cast<char>(corrupt[13] ^ 0x55);
  EXPECT_FALSE(Decompress(corrupt, 1000).ok());
  EXPECT_EQ(Decompress("not compressed", 1000).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Decompress("", 1000).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(GzipTest, MagicDetection) {
  EXPECT_FALSE(LooksGzipped(""));
  EXPECT_FALSE(LooksGzipped("\x1f"));
  EXPECT_FALSE(LooksGzipped("{\"batch\":[]}"));
  EXPECT_TRUE(LooksGzipped(std::string("\x1f\x8b", 2)));
}

}  // namespace
}  // namespace facet::api

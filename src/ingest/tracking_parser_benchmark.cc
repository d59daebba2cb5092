#include <benchmark/benchmark.h>

#include <string>

#include "ingest/tracking_parser.h"

namespace facet::ingest {
namespace {

// A batch like the ones analytics.js and analytics-node send: mostly track
// and page events with a realistic context, some identifies.
std::string MakeBatch(int events) {
  std::string body = R"({"writeKey":"wk_bench","sentAt":"2024-05-01T12:00:05.000Z","batch":[)";
  for (int i = 0; i < events; ++i) {
    const std::string n = std::to_string(i);
    if (i) body += ",";
    const std::string context = R"("context":{"library":{"name":"analytics.js","version":"5.2.0"},)"
                                R"("page":{"path":"/products/)" +
                                n + R"(","url":"https://shop.example.cn/products/)" + n +
                                R"(","referrer":"https://www.baidu.com/"},"locale":"zh-CN","ip":"203.0.113.7",)"
                                R"j("userAgent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",)j"
                                R"("device":{"id":"dev-)" +
                                n + R"("},"location":{"city":"上海","country":"中国"}})";
    const std::string ids =
        R"("anonymousId":"anon-)" + std::to_string(i % 37) + R"(","userId":"user-)" + std::to_string(i % 11) + R"(",)";
    const std::string common = R"("messageId":"ajs-next-)" + n + R"(","originalTimestamp":"2024-05-01T12:00:00.000Z",)";
    if (i % 10 == 0) {
      body += R"({"type":"identify",)" + ids + common + R"("traits":{"email":"User)" + n +
              R"(@Example.com","phone":"138 0013 8)" + std::to_string(100 + i % 900) +
              R"(","name":"李雷","plan":"pro"},)" + context + "}";
    } else if (i % 3 == 0) {
      body += R"({"type":"page","name":"Product",)" + ids + common +
              R"("properties":{"title":"商品详情","path":"/products/)" + n + R"("},)" + context + "}";
    } else {
      body += R"({"type":"track","event":"Product Viewed",)" + ids + common + R"("properties":{"product_id":"p-)" + n +
              R"(","price":199.9,"currency":"CNY","category":"茶叶","quantity":1},)" + context + "}";
    }
  }
  body += "]}";
  return body;
}

void BM_ParseBatch(benchmark::State& state) {
  const int events = static_cast<int>(state.range(0));
  const std::string body = MakeBatch(events);
  ParseOptions options;
  options.identity.hmac_key = "bench";
  options.identifier_sources = {{"wechat_openid", "traits.wechat_openid"}};
  for (auto _ : state) {
    RequestParse r = ParseRequest(Endpoint::kBatch, body, 1714566600000, options);
    if (r.fatal || r.events.size() != static_cast<size_t>(events)) {
      state.SkipWithError("batch not parsed");
      break;
    }
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * events);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_ParseBatch)->Arg(1)->Arg(100);

}  // namespace
}  // namespace facet::ingest

// ingest_bench: end-to-end ingest throughput and acknowledgement latency of a
// running Facet server, in the spirit of LevelDB's db_bench.
//
//   ingest_bench --url=http://127.0.0.1:8080 --write-key=KEY
//   ingest_bench --spawn=build/src/app/facet             # own server, temp dir
//   ingest_bench --spawn=build/src/app/facet --mode=single --connections=128
//
// Modes: "single" posts one event per request to /v1/track; "batched" posts
// --batch-size events per request to /v1/batch; "both" runs batched, then
// single. Many keep-alive connections are kept busy by an asynchronous
// client: each sends its next request as soon as the previous one is
// acknowledged, so the server's group commit always has requests in flight.
// Every event is a distinct ~300-byte "Product Viewed" track with a unique
// messageId, so nothing is de-duplicated away.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/clock.h"
#include "base/status.h"
#include "base/str_cat.h"
#include "base/time_format.h"
#include "bench/flags.h"
#include "client/http_client.h"

extern char** environ;

namespace facet::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

enum class Mode { kBatched, kSingle };

struct Flags {
  std::string url = "http://127.0.0.1:8080";
  std::string write_key;  // default: "bench" with --spawn, else "demo-write-key" (make run's)
  std::string mode = "both";
  int connections = 0;  // 0: 8 batched, 128 single
  int64_t events = 0;   // 0: 1,000,000 batched, 200,000 single
  int batch_size = 100;
  double duration_seconds = 0;  // 0: no cap
  int threads = 2;              // client I/O threads
  std::string spawn;            // path to the facet binary
};

constexpr char kUsage[] = R"(usage: ingest_bench [flags]
  --url=URL               server (default http://127.0.0.1:8080)
  --write-key=KEY         write key (default: "bench" with --spawn, else "demo-write-key")
  --mode=batched|single|both   (default both)
  --connections=N         keep-alive connections (default 8 batched, 128 single)
  --events=N              events per mode (default 1000000 batched, 200000 single)
  --batch-size=N          events per batched request (default 100)
  --duration-seconds=S    stop sending after S seconds (default: no cap)
  --threads=N             client I/O threads (default 2)
  --spawn=PATH            start `PATH serve` on a free port and a fresh temp dir, and stop it after
)";

absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags f;
  ASSIGN_OR_RETURN(std::vector<Flag> flags, SplitFlags(argc, argv, kUsage));
  for (const auto& [name, value] : flags) {
    auto number = [&](auto* out) -> absl::Status {
      double d = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), d);
      if (ec != std::errc() || end != value.data() + value.size() || d < 0) {
        return absl::InvalidArgumentError("--" + name + ": not a non-negative number: '" + value + "'");
      }
      *out = static_cast<std::remove_pointer_t<decltype(out)>>(d);
      return absl::OkStatus();
    };
    if (name == "url")
      f.url = value;
    else if (name == "write-key")
      f.write_key = value;
    else if (name == "mode")
      f.mode = value;
    else if (name == "connections")
      RETURN_IF_ERROR(number(&f.connections));
    else if (name == "events")
      RETURN_IF_ERROR(number(&f.events));
    else if (name == "batch-size")
      RETURN_IF_ERROR(number(&f.batch_size));
    else if (name == "duration-seconds")
      RETURN_IF_ERROR(number(&f.duration_seconds));
    else if (name == "threads")
      RETURN_IF_ERROR(number(&f.threads));
    else if (name == "spawn")
      f.spawn = value;
    else
      return absl::InvalidArgumentError("unknown flag --" + name + "\n" + kUsage);
  }
  if (f.mode != "batched" && f.mode != "single" && f.mode != "both") {
    return absl::InvalidArgumentError("--mode must be batched, single or both");
  }
  if (f.batch_size < 1) return absl::InvalidArgumentError("--batch-size must be at least 1");
  if (f.threads < 1) f.threads = 1;
  if (f.write_key.empty()) f.write_key = f.spawn.empty() ? "demo-write-key" : "bench";
  return f;
}

// ---------------------------------------------------------------------------
// A server started for the run: `facet serve` on a free port and a temporary
// data directory, stopped (SIGTERM, then SIGKILL) and cleaned up afterwards.
class SpawnedServer {
 public:
  static absl::StatusOr<std::unique_ptr<SpawnedServer>> Start(const std::string& binary) {
    auto server = std::unique_ptr<SpawnedServer>(new SpawnedServer());
    char tmpl[] = "/tmp/ingest_bench.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp: " + std::string(std::strerror(errno)));
    server->dir_ = tmpl;
    ASSIGN_OR_RETURN(server->port_, FreePort());
    const std::string port = std::to_string(server->port_);
    const std::string data_dir = server->dir_ + "/data";
    const std::string log = server->dir_ + "/server.log";
    std::vector<std::string> args = {
        binary,  "serve",       "--port",     port, "--data-dir", data_dir, "--server-write-key",
        "bench", "--admin-key", "bench-admin"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    const int rc = posix_spawn(&server->pid_, binary.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return absl::InternalError("starting " + binary + ": " + std::strerror(rc));
    RETURN_IF_ERROR(server->WaitHealthy());
    return server;
  }

  ~SpawnedServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      if (!WaitExit(std::chrono::seconds(15))) {
        kill(pid_, SIGKILL);
        WaitExit(std::chrono::seconds(5));
      }
    }
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }

 private:
  SpawnedServer() = default;

  static absl::StatusOr<uint16_t> FreePort() {
    asio::io_context ioc;
    beast::error_code ec;
    tcp::acceptor a(ioc);
    a.open(tcp::v4(), ec);
    if (!ec) a.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), ec);
    if (ec) return absl::UnavailableError("finding a free port: " + ec.message());
    return a.local_endpoint().port();
  }

  absl::Status WaitHealthy() {
    const auto deadline = SteadyClock::now() + std::chrono::seconds(60);
    while (SteadyClock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return absl::UnavailableError("the server exited during start-up; its log:\n" + LogTail());
      }
      if (auto c = client::HttpClient::Connect(url()); c.ok()) {
        client::HttpRequest req;
        req.target = "/healthz";
        if (auto r = (*c)->Send(req); r.ok() && r->status == 200) return absl::OkStatus();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return absl::DeadlineExceededError("the server did not answer /healthz within 60 s; its log:\n" + LogTail());
  }

  bool WaitExit(std::chrono::seconds limit) {
    const auto deadline = SteadyClock::now() + limit;
    while (SteadyClock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::string LogTail() const {
    std::string text;
    if (FILE* f = std::fopen((dir_ + "/server.log").c_str(), "r")) {
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
      std::fclose(f);
    }
    return text.size() > 4000 ? text.substr(text.size() - 4000) : text;
  }

  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// ---------------------------------------------------------------------------
// Events.

// Appends one ~300-byte "Product Viewed" track with messageId
// "bench-<run>-<n>".
void AppendEvent(std::string* out, std::string_view run_id, uint64_t n, std::string_view timestamp) {
  static constexpr std::string_view kProducts[] = {
      R"("product_id":"SKU10001","name":"清透日抛隐形眼镜 30片装","category":"隐形眼镜","price":189.0)",
      R"("product_id":"SKU20001","name":"星河棕日抛美瞳 10片装","category":"彩色隐形眼镜","price":99.0)",
      R"("product_id":"SKU30001","name":"多功能护理液 360ml","category":"护理液","price":69.0)",
      R"("product_id":"SKU40001","name":"超轻钛架 TF-201","category":"框架眼镜","price":699.0)",
  };
  char num[24];
  auto digits = [&](uint64_t v) {
    auto r = std::to_chars(num, num + sizeof num, v);
    return std::string_view(num, static_cast<size_t>(r.ptr - num));
  };
  out->append(R"({"type":"track","event":"Product Viewed","messageId":"bench-)");
  out->append(run_id);
  out->push_back('-');
  out->append(digits(n));
  out->append(R"(","userId":"bench-user-)");
  out->append(digits(n % 100'000));
  out->append(R"(","timestamp":")");
  out->append(timestamp);
  out->append(R"(","properties":{)");
  out->append(kProducts[n % 4]);
  out->append(R"(,"currency":"CNY","position":)");
  out->append(digits(n % 20));
  out->append(R"(},"context":{"library":{"name":"ingest_bench"},"channel":"app"}})");
}

// ---------------------------------------------------------------------------
// The load: connections that each keep one request in flight.

struct Load {
  Mode mode;
  int batch_size;
  std::string run_id;
  std::string timestamp;
  std::string auth;
  std::string host;
  tcp::endpoint endpoint;
  SteadyClock::time_point deadline;

  std::atomic<int64_t> next_event{0};
  int64_t total_events = 0;
  std::atomic<int64_t> acked_events{0};
  std::atomic<int64_t> acked_requests{0};
  std::atomic<int64_t> errors{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::string first_error;

  // Claims the next events for one request: [first, first + count).
  bool Claim(int64_t* first, int* count) {
    if (stop.load() || SteadyClock::now() >= deadline) return false;
    const int want = mode == Mode::kSingle ? 1 : batch_size;
    const int64_t f = next_event.fetch_add(want);
    if (f >= total_events) return false;
    *first = f;
    *count = static_cast<int>(std::min<int64_t>(want, total_events - f));
    return true;
  }

  void Error(const std::string& what) {
    ++errors;
    std::lock_guard<std::mutex> lock(mu);
    if (first_error.empty()) first_error = what;
    // A wrong key or a dead server makes every request fail: stop early.
    if (errors.load() > 1000 || what.rfind("HTTP 401", 0) == 0 || what.rfind("HTTP 403", 0) == 0) stop = true;
  }
};

bool IEquals(std::string_view a, std::string_view b) {
  return beast::iequals(beast::string_view(a.data(), a.size()), beast::string_view(b.data(), b.size()));
}

// One keep-alive connection with one request in flight. The request is
// written as prepared bytes and the response read by a minimal HTTP/1.1
// parser (status, Content-Length, Connection), so that the client spends
// as little of the shared machine's CPU as it can.
class Connection {
 public:
  Connection(asio::io_context& ioc, Load& load) : load_(load), stream_(ioc) {
    latencies_us_.reserve(1 << 16);
    head_ = Cat("POST ", load_.mode == Mode::kSingle ? "/v1/track" : "/v1/batch", " HTTP/1.1\r\nHost: ", load_.host,
                "\r\nAuthorization: ", load_.auth, "\r\nContent-Type: application/json\r\nContent-Length: ");
    out_.reserve(static_cast<size_t>(load_.batch_size) * 400 + 512);
    in_.resize(16 * 1024);
  }

  void Start() { Connect(); }

  const std::vector<uint32_t>& latencies_us() const { return latencies_us_; }

 private:
  void Connect() {
    stream_.expires_after(std::chrono::seconds(10));
    stream_.async_connect(load_.endpoint, [this](beast::error_code ec) {
      if (ec) {
        load_.Error("connect: " + ec.message());
        load_.stop = true;
        return;
      }
      beast::error_code ignored;
      stream_.socket().set_option(tcp::no_delay(true), ignored);
      SendNext();
    });
  }

  void SendNext() {
    int64_t first = 0;
    int count = 0;
    if (!load_.Claim(&first, &count)) {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      return;
    }
    count_ = count;
    body_.clear();
    if (load_.mode == Mode::kSingle) {
      AppendEvent(&body_, load_.run_id, static_cast<uint64_t>(first), load_.timestamp);
    } else {
      body_.append(R"({"batch":[)");
      for (int i = 0; i < count; ++i) {
        if (i > 0) body_.push_back(',');
        AppendEvent(&body_, load_.run_id, static_cast<uint64_t>(first + i), load_.timestamp);
      }
      body_.append("]}");
    }
    out_.assign(head_);
    out_.append(std::to_string(body_.size())).append("\r\n\r\n").append(body_);
    sent_at_ = SteadyClock::now();
    stream_.expires_after(std::chrono::seconds(30));
    asio::async_write(stream_, asio::buffer(out_), [this](beast::error_code ec, size_t) {
      if (ec) return Reconnect("write: " + ec.message());
      used_ = 0;
      Read();
    });
  }

  void Read() {
    if (used_ == in_.size()) in_.resize(in_.size() * 2);
    stream_.async_read_some(asio::buffer(in_.data() + used_, in_.size() - used_),
                            [this](beast::error_code ec, size_t n) {
                              if (ec) return Reconnect("read: " + ec.message());
                              used_ += n;
                              OnBytes();
                            });
  }

  // Parses the response once it is whole; reads on until then.
  void OnBytes() {
    const std::string_view in(in_.data(), used_);
    const size_t head_end = in.find("\r\n\r\n");
    if (head_end == std::string_view::npos) return Read();
    const std::string_view head = in.substr(0, head_end + 2);
    int status = 0;
    if (!head.starts_with("HTTP/1.") || head.size() < 12 ||
        std::from_chars(head.data() + 9, head.data() + 12, status).ec != std::errc()) {
      return Reconnect("malformed response: " + std::string(head.substr(0, 80)));
    }
    size_t length = 0;
    bool close = head.starts_with("HTTP/1.0");
    for (size_t at = head.find("\r\n") + 2; at < head.size();) {
      const size_t eol = head.find("\r\n", at);
      const std::string_view line = head.substr(at, eol - at);
      at = eol + 2;
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      const std::string_view name = line.substr(0, colon);
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (IEquals(name, "content-length")) {
        std::from_chars(value.data(), value.data() + value.size(), length);
      } else if (IEquals(name, "connection")) {
        close = IEquals(value, "close");
      } else if (IEquals(name, "transfer-encoding")) {
        return Reconnect("unexpected Transfer-Encoding: " + std::string(value));
      }
    }
    if (in.size() < head_end + 4 + length) return Read();
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - sent_at_).count();
    latencies_us_.push_back(static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
    if (status == 200) {
      load_.acked_events += count_;
      ++load_.acked_requests;
    } else {
      load_.Error("HTTP " + std::to_string(status) + ": " +
                  std::string(in.substr(head_end + 4, std::min<size_t>(length, 300))));
    }
    if (close) return Reconnect("");
    SendNext();
  }

  void Reconnect(const std::string& error) {
    if (!error.empty()) load_.Error(error);
    beast::error_code ec;
    stream_.socket().close(ec);
    used_ = 0;
    if (load_.stop.load()) return;
    Connect();
  }

  Load& load_;
  beast::tcp_stream stream_;
  std::string head_;  // request line and headers up to the Content-Length value
  std::string body_, out_;
  std::vector<char> in_;
  size_t used_ = 0;
  SteadyClock::time_point sent_at_;
  int count_ = 0;
  std::vector<uint32_t> latencies_us_;
};

// CPU seconds (user + system) used so far by this process, or by `pid`
// (from /proc; -1 when unreadable).
double SelfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double ProcessCpuSeconds(pid_t pid) {
  if (pid <= 0) return -1;
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) return -1;
  char buf[1024];
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // Fields after the parenthesised command name; utime and stime are the
  // 14th and 15th fields overall.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return -1;
  unsigned long long utime = 0, stime = 0;
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) {
    return -1;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct Result {
  Mode mode;
  int connections = 0;
  int batch_size = 1;
  int64_t requests = 0;
  int64_t events = 0;
  int64_t errors = 0;
  double seconds = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
  double client_cpu_s = 0;
  double server_cpu_s = -1;  // only for a spawned server
  std::string first_error;
};

double Percentile(std::vector<uint32_t>& v, double q) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k] / 1000.0;
}

absl::StatusOr<Result> RunMode(const Flags& flags, const std::string& url, Mode mode, pid_t server_pid) {
  Load load;
  load.mode = mode;
  load.batch_size = mode == Mode::kSingle ? 1 : flags.batch_size;
  load.total_events = flags.events > 0 ? flags.events : mode == Mode::kSingle ? 200'000 : 1'000'000;
  load.auth = client::BasicAuth(flags.write_key, "");
  load.timestamp = FormatIso8601(SystemClock().NowMs());
  load.run_id = std::to_string(SystemClock().NowMs()) + (mode == Mode::kSingle ? "s" : "b");
  const int connections = flags.connections > 0 ? flags.connections : mode == Mode::kSingle ? 128 : 8;

  // "http://host:port" -> endpoint.
  std::string_view hp = url;
  hp.remove_prefix(std::string_view("http://").size());
  while (!hp.empty() && hp.back() == '/') hp.remove_suffix(1);
  load.host = std::string(hp);
  const size_t colon = hp.rfind(':');
  {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto results = resolver.resolve(std::string(hp.substr(0, colon)),
                                    colon == std::string_view::npos ? "80" : std::string(hp.substr(colon + 1)), ec);
    if (ec || results.empty()) return absl::UnavailableError("resolving " + url + ": " + ec.message());
    load.endpoint = results.begin()->endpoint();
  }

  const int threads = std::min(flags.threads, connections);
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (int i = 0; i < threads; ++i) contexts.push_back(std::make_unique<asio::io_context>(1));
  std::vector<std::unique_ptr<Connection>> conns;
  for (int i = 0; i < connections; ++i) {
    conns.push_back(std::make_unique<Connection>(*contexts[static_cast<size_t>(i % threads)], load));
  }

  const auto start = SteadyClock::now();
  const double client_cpu_start = SelfCpuSeconds();
  const double server_cpu_start = ProcessCpuSeconds(server_pid);
  load.deadline = flags.duration_seconds > 0 ? start + std::chrono::duration_cast<SteadyClock::duration>(
                                                           std::chrono::duration<double>(flags.duration_seconds))
                                             : SteadyClock::time_point::max();
  for (auto& c : conns) c->Start();
  std::vector<std::thread> workers;
  for (auto& ioc : contexts) workers.emplace_back([&ioc] { ioc->run(); });
  for (auto& t : workers) t.join();
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();

  std::vector<uint32_t> all;
  for (auto& c : conns) all.insert(all.end(), c->latencies_us().begin(), c->latencies_us().end());
  Result r;
  r.mode = mode;
  r.connections = connections;
  r.batch_size = load.batch_size;
  r.requests = load.acked_requests.load();
  r.events = load.acked_events.load();
  r.errors = load.errors.load();
  r.seconds = seconds;
  r.first_error = load.first_error;
  r.client_cpu_s = SelfCpuSeconds() - client_cpu_start;
  const double server_cpu_end = ProcessCpuSeconds(server_pid);
  if (server_cpu_start >= 0 && server_cpu_end >= 0) r.server_cpu_s = server_cpu_end - server_cpu_start;
  r.p50_ms = Percentile(all, 0.50);
  r.p90_ms = Percentile(all, 0.90);
  r.p99_ms = Percentile(all, 0.99);
  r.max_ms = all.empty() ? 0 : *std::max_element(all.begin(), all.end()) / 1000.0;
  return r;
}

void PrintResults(const std::vector<Result>& results) {
  std::printf("\n%-8s %6s %6s %10s %10s %8s %10s %10s %8s %8s %8s %8s %7s\n", "mode", "conns", "batch", "requests",
              "events", "seconds", "events/s", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors");
  for (const Result& r : results) {
    std::printf("%-8s %6d %6d %10lld %10lld %8.2f %10.0f %10.0f %8.2f %8.2f %8.2f %8.2f %7lld\n",
                r.mode == Mode::kSingle ? "single" : "batched", r.connections, r.batch_size,
                static_cast<long long>(r.requests), static_cast<long long>(r.events), r.seconds, r.events / r.seconds,
                r.requests / r.seconds, r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms, static_cast<long long>(r.errors));
  }
  for (const Result& r : results) {
    if (!r.first_error.empty()) {
      std::printf("first error (%s): %s\n", r.mode == Mode::kSingle ? "single" : "batched", r.first_error.c_str());
    }
  }
  std::printf("latency: per request, from sending it to the server's acknowledgement (durable).\n");
  std::printf("\n%-8s %16s %16s %16s\n", "mode", "client cpu s", "client us/event", "server us/event");
  for (const Result& r : results) {
    const double events = static_cast<double>(std::max<int64_t>(r.events, 1));
    char server[32] = "n/a (--spawn)";
    if (r.server_cpu_s >= 0) std::snprintf(server, sizeof server, "%.1f", r.server_cpu_s * 1e6 / events);
    std::printf("%-8s %16.2f %16.1f %16s\n", r.mode == Mode::kSingle ? "single" : "batched", r.client_cpu_s,
                r.client_cpu_s * 1e6 / events, server);
  }
}

int Main(int argc, char** argv) {
  auto flags = ParseFlags(argc, argv);
  if (!flags.ok()) return ReportFlagsStatus(flags.status());
  std::unique_ptr<SpawnedServer> server;
  std::string url = flags->url;
  if (!flags->spawn.empty()) {
    auto s = SpawnedServer::Start(flags->spawn);
    if (!s.ok()) {
      std::fprintf(stderr, "ingest_bench: %s\n", std::string(s.status().message()).c_str());
      return 1;
    }
    server = std::move(s).value();
    url = server->url();
  } else {
    auto c = client::HttpClient::Connect(url);
    if (!c.ok()) {
      std::fprintf(stderr,
                   "ingest_bench: no server at %s (%s).\nStart one (make run) or pass "
                   "--spawn=build/src/app/facet.\n",
                   url.c_str(), std::string(c.status().message()).c_str());
      return 1;
    }
  }
  std::printf("ingest_bench: %s%s, write key '%s', %d client threads, %u cores\n", url.c_str(),
              server ? (" (spawned " + flags->spawn + ", fresh data dir)").c_str() : "", flags->write_key.c_str(),
              flags->threads, std::thread::hardware_concurrency());
  std::string sample;
  AppendEvent(&sample, "1700000000000b", 123456, FormatIso8601(SystemClock().NowMs()));
  std::printf("event: %zu bytes, e.g. %s\n", sample.size(), sample.c_str());

  std::vector<Mode> modes;
  if (flags->mode != "single") modes.push_back(Mode::kBatched);
  if (flags->mode != "batched") modes.push_back(Mode::kSingle);
  std::vector<Result> results;
  for (Mode m : modes) {
    std::printf("running %s...\n", m == Mode::kSingle ? "single" : "batched");
    std::fflush(stdout);
    auto r = RunMode(*flags, url, m, server ? server->pid() : -1);
    if (!r.ok()) {
      std::fprintf(stderr, "ingest_bench: %s\n", std::string(r.status().message()).c_str());
      return 1;
    }
    results.push_back(*std::move(r));
  }
  PrintResults(results);
  int64_t errors = 0;
  for (const Result& r : results) errors += r.errors;
  return errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace facet::bench

int main(int argc, char** argv) { return facet::bench::Main(argc, argv); }

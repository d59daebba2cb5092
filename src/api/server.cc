#include "api/server.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "api/internal/response_head.h"
#include "api/json_render.h"
#include "api/metrics.h"
#include "api/router.h"
#include "base/log.h"
#include "base/thread_name.h"

namespace facet::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::chrono::seconds kIdleTimeout{60};
constexpr std::chrono::seconds kLingerTimeout{5};
constexpr uint32_t kHeaderLimit = 16 * 1024;
// Beast reads into the free capacity of a connection's buffer, and at least
// 512 bytes: a buffer left small would take a 36 KB batch in 70 reads (and
// as many timer updates and epoll waits). It holds at least the first
// size, and grows for a body of known length up to the second.
constexpr size_t kMinReadBuffer = 4 * 1024;
constexpr size_t kMaxReadBuffer = 64 * 1024;

void LogTransport(std::string_view what, const beast::error_code& ec) { log::Warn("api: ", what, ": ", ec.message()); }

// Errors that only mean the peer went away or the server is stopping.
bool IsQuietError(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::operation_aborted ||
         ec == beast::error::timeout || ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::error::not_connected || ec == http::error::partial_message;
}

Response TransportError(int status, std::string_view error) {
  Response r;
  r.status = status;
  r.body = Dump(ErrorJson(error));
  return r;
}

class Session;

// Shared by the server and every completion callback handed to the router:
// callbacks post to a connection only while the server is running, so a
// pipeline acknowledgement that arrives after Stop() touches nothing.
struct Gate {
  std::mutex mu;
  bool open = true;
};

class ServerCore {
 public:
  ServerCore(ServerOptions options, Services services)
      : options_(std::move(options)),
        pipeline_(services.pipeline),
        metrics_(AllRouteTemplates()),
        router_(options_, services, metrics_),
        gate_(std::make_shared<Gate>()) {}

  ~ServerCore() { Stop(); }
  ServerCore(const ServerCore&) = delete;
  ServerCore& operator=(const ServerCore&) = delete;

  absl::Status Start();
  void Stop();
  void Wait();
  uint16_t port() const { return port_.load(); }

  const ServerOptions& options() const { return options_; }
  Router& router() { return router_; }
  Metrics& metrics() { return metrics_; }
  const std::shared_ptr<Gate>& gate() const { return gate_; }

  void Register(const std::shared_ptr<Session>& s);
  void Unregister(Session* s);

 private:
  absl::Status Listen();
  void Accept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void CloseAll();

  const ServerOptions options_;
  ingest::Pipeline& pipeline_;
  Metrics metrics_;
  Router router_;
  std::shared_ptr<Gate> gate_;

  // Live sessions; each removes itself when its connection ends. Declared
  // before the io_context so that sessions still queued in it are destroyed
  // first.
  std::mutex sessions_mu_;
  std::unordered_map<Session*, std::shared_ptr<Session>> sessions_;

  net::io_context ioc_;
  std::optional<tcp::acceptor> acceptor_;
  std::vector<std::thread> threads_;
  std::atomic<uint16_t> port_{0};

  std::mutex start_mu_;
  std::mutex state_mu_;
  std::condition_variable state_cv_;
  bool started_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  int running_threads_ = 0;
};

// One connection: reads requests one after another (keep-alive), hands each
// to the router and writes its response (a response with a body source a
// piece at a time). Everything runs on the connection's strand; responses
// from other threads are posted to it.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, ServerCore& server) : stream_(std::move(socket)), server_(server) {}

  void Start() {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::ReadHeader, shared_from_this()));
  }

  // Closes the connection; pending operations complete with an error.
  void Shutdown() {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->Finish(); });
  }

 private:
  void ReadHeader() {
    ingest_ = false;
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    // The body limit is applied once the header is known, so that an
    // oversized Content-Length is answered with a 413 that names the route.
    // (Boost 1.74 compares Content-Length against an empty optional as
    // "over the limit", so the header phase uses the largest limit instead.)
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    if (buffer_.capacity() < kMinReadBuffer) buffer_.reserve(kMinReadBuffer);
    stream_.expires_after(kIdleTimeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, std::size_t) {
    if (ec) {
      if (ec == http::error::header_limit) {
        WriteTransportError(431, "request header too large", /*linger=*/true);
      } else if (IsQuietError(ec)) {
        Finish();
      } else {
        WriteTransportError(400, "malformed HTTP request: " + ec.message(), /*linger=*/true);
      }
      return;
    }
    started_ = Clock::now();
    const auto& req = parser_->get();
    std::string_view target(req.target().data(), req.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    route_ = std::string(RouteTemplate(path));
    ingest_ = ingest::EndpointFromPath(path).has_value();
    keep_alive_ = req.keep_alive();

    const size_t limit = server_.options().max_body_bytes;
    boost::optional<std::uint64_t> length = parser_->content_length();
    if (length && *length > limit) {
      WriteTransportError(413, BodyTooLargeMessage(), /*linger=*/true);
      return;
    }
    parser_->body_limit(limit);
    if (length) buffer_.reserve(std::min<size_t>(buffer_.size() + *length, kMaxReadBuffer));
    if (beast::iequals(req[http::field::expect], "100-continue") && !parser_->is_done()) {
      continue_.emplace(http::status::continue_, req.version());
      stream_.expires_after(kIdleTimeout);
      http::async_write(stream_, *continue_, beast::bind_front_handler(&Session::OnContinue, shared_from_this()));
      return;
    }
    ReadBody();
  }

  void OnContinue(beast::error_code ec, std::size_t) {
    continue_.reset();
    if (ec) {
      Finish();
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnBody, shared_from_this()));
  }

  void OnBody(beast::error_code ec, std::size_t) {
    if (ec == http::error::body_limit) {
      WriteTransportError(413, BodyTooLargeMessage(), /*linger=*/true);
      return;
    }
    if (ec) {
      if (IsQuietError(ec)) {
        Finish();
      } else {
        WriteTransportError(400, "malformed HTTP request: " + ec.message(), /*linger=*/true);
      }
      return;
    }
    http::request<http::string_body> req = parser_->release();
    parser_.reset();
    Request request;
    request.method = std::string(req.method_string());
    std::string_view target(req.target().data(), req.target().size());
    size_t question = target.find('?');
    request.path = std::string(target.substr(0, question));
    if (question != std::string_view::npos) request.query = std::string(target.substr(question + 1));
    request.headers.reserve(static_cast<size_t>(std::distance(req.begin(), req.end())));
    for (const auto& field : req) {
      request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(req.body());
    version_ = req.version();

    std::weak_ptr<Session> weak = weak_from_this();
    std::shared_ptr<Gate> gate = server_.gate();
    server_.router().Handle(std::move(request), [weak, gate](Response response) {
      std::lock_guard<std::mutex> lock(gate->mu);
      if (!gate->open) return;
      std::shared_ptr<Session> self = weak.lock();
      if (!self) return;
      net::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->Write(std::move(response), /*force_close=*/false, /*linger=*/false);
      });
    });
  }

  std::string BodyTooLargeMessage() const {
    return "request body exceeds " + std::to_string(server_.options().max_body_bytes) + " bytes";
  }

  void WriteTransportError(int status, std::string_view error, bool linger) {
    if (parser_ && parser_->is_header_done()) {
      version_ = parser_->get().version();
    } else {
      started_ = Clock::now();
      version_ = 11;
    }
    Response r = TransportError(status, error);
    r.route = route_.empty() ? std::string(kUnmatchedRoute) : route_;
    // Browsers only show the SDK an ingest error that carries CORS headers.
    if (ingest_) r.headers.emplace_back("Access-Control-Allow-Origin", "*");
    Write(std::move(r), /*force_close=*/true, linger);
  }

  void Write(Response r, bool force_close, bool linger) {
    if (closed_) return;
    route_ = std::move(r.route);
    close_after_write_ = force_close || !keep_alive_;
    linger_ = linger;
    status_ = r.status;
    if (!r.body_source) {
      WriteWhole(std::move(r));
    } else if (version_ >= 11) {
      WriteStreamHeader(std::move(r));
    } else {
      // HTTP/1.0 has no chunked encoding: collect the pieces into one body.
      source_ = std::move(r.body_source);
      collecting_.emplace(std::move(r));
      Collect();
    }
  }

  template <typename Body>
  void SetHeader(const Response& r, http::response<Body>* m) const {
    m->set(http::field::server, "Facet");
    if (!r.content_type.empty()) m->set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) m->insert(name, value);
    m->keep_alive(!close_after_write_);
  }

  // Sends `r` (without a body source) with Content-Length: the head as
  // bytes written here, then the body, in one gathering write.
  void WriteWhole(Response r) {
    head_.clear();
    body_ = std::move(r.body);
    if (internal::StatusHasNoBody(r.status)) body_.clear();
    internal::AppendResponseHead({.status = r.status,
                                  .version = version_,
                                  .keep_alive = !close_after_write_,
                                  .content_type = r.content_type,
                                  .headers = r.headers},
                                 body_.size(), &head_);
    const std::array<net::const_buffer, 2> buffers{net::buffer(head_), net::buffer(body_)};
    stream_.expires_after(kIdleTimeout);
    net::async_write(stream_, buffers, beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  // The next piece of the streamed body, appended to *out; an exception is an
  // error like any other.
  absl::StatusOr<bool> NextPiece(std::string* out) {
    try {
      return source_->Next(out);
    } catch (const std::exception& e) {
      return absl::InternalError(e.what());
    }
  }

  // HTTP/1.0: one piece per turn of the strand, so that a long body does not
  // hold up the thread's other connections.
  void Collect() {
    if (closed_) return;
    absl::StatusOr<bool> more = NextPiece(&collecting_->body);
    if (more.ok() && *more) {
      net::post(stream_.get_executor(), beast::bind_front_handler(&Session::Collect, shared_from_this()));
      return;
    }
    source_.reset();
    Response r = std::move(*collecting_);
    collecting_.reset();
    if (!more.ok()) {
      // Nothing is sent yet, so the client can still be told.
      LogBodyError(more.status());
      r = TransportError(500, "internal error");
      status_ = r.status;
    }
    WriteWhole(std::move(r));
  }

  // HTTP/1.1: the header with "Transfer-Encoding: chunked", then each piece
  // as a chunk once the previous one is sent, then the last chunk. Memory
  // stays at one piece whatever the length of the body.
  void WriteStreamHeader(Response r) {
    source_ = std::move(r.body_source);
    more_ = true;
    piece_ = std::move(r.body);
    stream_header_.emplace(static_cast<http::status>(r.status), version_);
    SetHeader(r, &*stream_header_);
    stream_header_->chunked(true);
    serializer_.emplace(*stream_header_);
    stream_.expires_after(kIdleTimeout);
    http::async_write_header(stream_, *serializer_,
                             beast::bind_front_handler(&Session::OnStreamHeader, shared_from_this()));
  }

  void OnStreamHeader(beast::error_code ec, std::size_t n) {
    if (ec || closed_) {
      OnWrite(ec, n);
      return;
    }
    WritePiece();
  }

  // Sends piece_ (refilled from the source when empty), or the last chunk
  // once the source is done. An error from the source closes the connection
  // without the last chunk: the client sees a truncated body.
  void WritePiece() {
    while (piece_.empty() && more_) {
      absl::StatusOr<bool> more = NextPiece(&piece_);
      if (!more.ok()) {
        LogBodyError(more.status());
        RecordRequest();
        ResetResponse();
        Finish();
        return;
      }
      more_ = *more;
    }
    stream_.expires_after(kIdleTimeout);  // per piece
    if (piece_.empty()) {
      net::async_write(stream_, http::make_chunk_last(),
                       beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
      return;
    }
    net::async_write(stream_, http::make_chunk(net::buffer(piece_)),
                     beast::bind_front_handler(&Session::OnPieceWritten, shared_from_this()));
  }

  void OnPieceWritten(beast::error_code ec, std::size_t n) {
    piece_.clear();  // keeps its capacity for the next piece
    if (ec || closed_) {
      OnWrite(ec, n);
      return;
    }
    WritePiece();
  }

  void LogBodyError(const absl::Status& s) const {
    log::Error("api: response body of ", route_, " ended early: ", s.ToString());
  }

  void RecordRequest() {
    double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    server_.metrics().RecordRequest(route_, status_, seconds);
  }

  // Releases what the last response held.
  void ResetResponse() {
    // head_ keeps its capacity for the next response; a large body goes.
    if (body_.capacity() > kMaxReadBuffer) std::string().swap(body_);
    serializer_.reset();
    stream_header_.reset();
    source_.reset();
    collecting_.reset();
    std::string().swap(piece_);
    more_ = false;
    route_.clear();
  }

  // The response, or its last chunk, is sent (or failed): once per request.
  void OnWrite(beast::error_code ec, std::size_t) {
    RecordRequest();
    ResetResponse();
    if (ec || closed_) {
      if (ec && !IsQuietError(ec)) LogTransport("write", ec);
      Finish();
      return;
    }
    if (!close_after_write_) {
      ReadHeader();
      return;
    }
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (linger_) {
      // The client may still be sending a body we refused; reading it for a
      // moment lets the client see the response instead of a reset.
      Drain();
    } else {
      Finish();
    }
  }

  void Drain() {
    stream_.expires_after(kLingerTimeout);
    stream_.async_read_some(net::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > 64 * self->server_.options().max_body_bytes) {
                                self->Finish();
                              } else {
                                self->Drain();
                              }
                            });
  }

  void Finish() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    server_.Unregister(this);
  }

  beast::tcp_stream stream_;
  ServerCore& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  // A whole response: its head and body, kept until written.
  std::string head_;
  std::string body_;
  // A response with a body source: its header and serializer (HTTP/1.1) or
  // the response collecting its body (HTTP/1.0), the source, and the piece
  // being sent.
  std::optional<http::response<http::empty_body>> stream_header_;
  std::optional<http::response_serializer<http::empty_body>> serializer_;
  std::optional<Response> collecting_;
  std::unique_ptr<BodySource> source_;
  std::string piece_;
  bool more_ = false;
  std::array<char, 16 * 1024> drain_buffer_;
  size_t drained_ = 0;
  Clock::time_point started_;
  std::string route_;
  unsigned version_ = 11;
  int status_ = 0;
  bool keep_alive_ = true;
  bool ingest_ = false;
  bool close_after_write_ = false;
  bool linger_ = false;
  bool closed_ = false;
};

void ServerCore::Register(const std::shared_ptr<Session>& s) {
  std::lock_guard<std::mutex> lock(sessions_mu_);
  sessions_.emplace(s.get(), s);
}

void ServerCore::Unregister(Session* s) {
  std::shared_ptr<Session> last;  // destroyed outside the lock
  std::lock_guard<std::mutex> lock(sessions_mu_);
  auto it = sessions_.find(s);
  if (it == sessions_.end()) return;
  last = std::move(it->second);
  sessions_.erase(it);
}

absl::Status ServerCore::Start() {
  std::lock_guard<std::mutex> serialise(start_mu_);
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    if (started_) return absl::FailedPreconditionError("server already started");
  }
  absl::Status listening = Listen();
  if (!listening.ok()) {
    acceptor_.reset();
    return listening;
  }
  Accept();
  // Acknowledgements run on these threads, a group commit's worth per task,
  // so that the pipeline's committer goes straight on to the next group.
  pipeline_.SetCompletionExecutor([this](std::function<void()> task) { net::post(ioc_, std::move(task)); });

  int n = options_.threads > 0 ? options_.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    started_ = true;
    running_threads_ = n;
  }
  threads_.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([this] {
      NameThisThread("facet-http");
      for (;;) {
        try {
          ioc_.run();
          break;
        } catch (const std::exception& e) {
          // Handlers do not throw by design; keep serving if one does.
          log::Error("api: exception in server thread: ", e.what());
        }
      }
      std::lock_guard<std::mutex> lock(state_mu_);
      --running_threads_;
      state_cv_.notify_all();
    });
  }
  return absl::OkStatus();
}

absl::Status ServerCore::Listen() {
  beast::error_code ec;
  net::ip::address address = net::ip::make_address(options_.bind_address, ec);
  if (ec) {
    return absl::InvalidArgumentError("bad bind address \"" + options_.bind_address + "\": " + ec.message());
  }
  tcp::endpoint endpoint(address, options_.port);
  const std::string where = options_.bind_address + ":" + std::to_string(options_.port);
  acceptor_.emplace(net::make_strand(ioc_));
  if (acceptor_->open(endpoint.protocol(), ec); ec) {
    return absl::UnavailableError("cannot listen on " + where + ": " + ec.message());
  }
  if (acceptor_->set_option(net::socket_base::reuse_address(true), ec); ec) {
    return absl::UnavailableError("cannot listen on " + where + ": " + ec.message());
  }
  if (acceptor_->bind(endpoint, ec); ec) {
    return absl::UnavailableError("cannot listen on " + where + ": " + ec.message());
  }
  if (acceptor_->listen(net::socket_base::max_listen_connections, ec); ec) {
    return absl::UnavailableError("cannot listen on " + where + ": " + ec.message());
  }
  port_.store(acceptor_->local_endpoint().port());
  return absl::OkStatus();
}

void ServerCore::Accept() {
  acceptor_->async_accept(net::make_strand(ioc_), beast::bind_front_handler(&ServerCore::OnAccept, this));
}

void ServerCore::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_->is_open()) return;
  if (ec) {
    // E.g. too many open files: keep accepting, the condition may pass.
    LogTransport("accept", ec);
  } else {
    // Replies are written whole, or a chunk at a time; send them at once
    // rather than waiting on the peer's delayed ACK.
    socket.set_option(tcp::no_delay(true), ec);
    auto session = std::make_shared<Session>(std::move(socket), *this);
    Register(session);
    session->Start();
  }
  Accept();
}

void ServerCore::CloseAll() {
  if (acceptor_) {
    net::post(acceptor_->get_executor(), [this] {
      beast::error_code ignored;
      acceptor_->close(ignored);
    });
  }
  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    for (auto& [ptr, s] : sessions_) sessions.push_back(s);
  }
  for (auto& s : sessions) s->Shutdown();
}

void ServerCore::Stop() {
  {
    std::unique_lock<std::mutex> lock(state_mu_);
    if (!started_ || stopped_) return;
    if (stopping_) {
      state_cv_.wait(lock, [this] { return stopped_; });
      return;
    }
    stopping_ = true;
  }
  pipeline_.SetCompletionExecutor(nullptr);
  CloseAll();
  {
    // Threads return once every connection has closed; force them after a
    // grace period (e.g. a connection accepted while closing).
    std::unique_lock<std::mutex> lock(state_mu_);
    state_cv_.wait_for(lock, std::chrono::seconds(5), [this] { return running_threads_ == 0; });
  }
  ioc_.stop();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  {
    std::lock_guard<std::mutex> lock(gate_->mu);
    gate_->open = false;
  }
  {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    sessions_.clear();
  }
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    stopped_ = true;
  }
  state_cv_.notify_all();
}

void ServerCore::Wait() {
  std::unique_lock<std::mutex> lock(state_mu_);
  state_cv_.wait(lock, [this] { return !started_ || stopped_; });
}

}  // namespace

class Server::Impl : public ServerCore {
 public:
  using ServerCore::ServerCore;
};

Server::Server(ServerOptions options, Services services)
    : impl_(std::make_unique<Impl>(std::move(options), services)) {}

Server::~Server() = default;

absl::Status Server::Start() { return impl_->Start(); }

uint16_t Server::port() const { return impl_->port(); }

void Server::Stop() { impl_->Stop(); }

void Server::Wait() { impl_->Wait(); }

}  // namespace facet::api

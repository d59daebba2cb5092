// LoopbackHttpServer: a blocking HTTP/1.1 server on 127.0.0.1:<ephemeral>
// for tests of Facet's HTTP clients. One thread per connection; keep-alive
// as the handler's response says. Test-only.
//
//   LoopbackHttpServer server([](const auto& req, int connection, auto& res) {
//     res.body() = req.body();
//     return LoopbackHttpServer::After::kContinue;
//   });
//   auto client = HttpClient::Connect(server.url());
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace facet::client::testing {

class LoopbackHttpServer {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  // What to do once the handler has filled the response.
  enum class After {
    kContinue,  // send it; keep the connection if the response says keep-alive
    kDrop,      // send it, then close the connection without saying so
    kHang,      // send nothing until the server stops
  };
  // Fills `res` (status 200 and the request's keep-alive preset) for `req`,
  // received on connection number `connection` (counted from 1). Runs on
  // the connection's thread.
  using Handler = std::function<After(const Request& req, int connection, Response& res)>;

  explicit LoopbackHttpServer(Handler handler)
      : handler_(std::move(handler)), acceptor_(ioc_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~LoopbackHttpServer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      for (auto& s : sockets_) {
        boost::beast::error_code ec;
        s->shutdown(tcp::socket::shutdown_both, ec);
      }
    }
    cv_.notify_all();
    {
      // Wake the blocking accept().
      boost::asio::io_context ioc;
      tcp::socket wake(ioc);
      boost::beast::error_code ec;
      wake.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_), ec);
    }
    accept_thread_.join();
    for (auto& t : connection_threads_) t.join();
  }

  LoopbackHttpServer(const LoopbackHttpServer&) = delete;
  LoopbackHttpServer& operator=(const LoopbackHttpServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return accepted_.load(); }

 private:
  using tcp = boost::asio::ip::tcp;

  void AcceptLoop() {
    for (;;) {
      auto socket = std::make_shared<tcp::socket>(ioc_);
      boost::beast::error_code ec;
      acceptor_.accept(*socket, ec);
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      if (ec) continue;
      sockets_.push_back(socket);
      const int id = ++accepted_;
      connection_threads_.emplace_back([this, socket, id] { Serve(*socket, id); });
    }
  }

  void Serve(tcp::socket& socket, int id) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buffer;
    for (;;) {
      Request req;
      boost::beast::error_code ec;
      http::read(socket, buffer, req, ec);
      if (ec) break;
      Response res{http::status::ok, req.version()};
      res.keep_alive(req.keep_alive());
      const After after = handler_(req, id, res);
      if (after == After::kHang) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_; });
        break;
      }
      res.prepare_payload();
      http::write(socket, res, ec);
      if (ec || after == After::kDrop || !res.keep_alive()) break;
    }
    boost::beast::error_code ec;
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

  Handler handler_;
  boost::asio::io_context ioc_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread accept_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
  std::vector<std::thread> connection_threads_;
  std::atomic<int> accepted_{0};
};

}  // namespace facet::client::testing

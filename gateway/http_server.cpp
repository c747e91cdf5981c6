#include "gateway/http_server.hpp"

#include <chrono>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include "gateway/routes.hpp"

namespace berth::gateway {

namespace {

using namespace std::chrono_literals;

constexpr auto kIdleTimeout = 60s;  // a keep-alive connection with no request is closed
constexpr auto kBodyTimeout = 60s;  // to receive a whole request once its header is in
constexpr size_t kHeaderLimit = 64 * 1024;
// After refusing a body as too large the rest of it is read and dropped for a while, so a
// client still sending it gets to read the 413 instead of a connection reset.
constexpr auto kDrainTime = 2s;
constexpr size_t kDrainBytes = 64u << 20;

struct ActiveGuard {
  explicit ActiveGuard(std::atomic<int>& n) : n_(n) { ++n_; }
  ~ActiveGuard() { --n_; }
  std::atomic<int>& n_;
};

// Beast's own errors (bad method, bad field, ...) as opposed to socket errors and timeouts.
bool is_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
}

Response plain_error(unsigned version, int status, const std::string& message) {
  Request fake;
  fake.version(version);
  auto res = error_response(fake, ApiError{status, message});
  res.keep_alive(false);
  return res;
}

awaitable<void> refuse_body(beast::tcp_stream& stream, unsigned version, uint64_t limit) {
  co_await send(stream, plain_error(version, 413,
                                    "request body is larger than " + std::to_string(limit) +
                                        " bytes (max_body_bytes)"));
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(kDrainTime);
  std::array<char, 16384> sink;
  size_t drained = 0;
  while (!ec && drained < kDrainBytes)
    drained += co_await stream.async_read_some(net::buffer(sink),
                                               net::redirect_error(net::use_awaitable, ec));
}

awaitable<void> session(Context& ctx, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buf;
  const uint64_t limit = ctx.config.max_body_bytes;
  while (!ctx.stopping) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(limit);
    beast::error_code ec;
    stream.expires_after(kIdleTimeout);
    co_await http::async_read_header(stream, buf, parser,
                                     net::redirect_error(net::use_awaitable, ec));
    if (ec == http::error::header_limit) {
      co_await send(stream, plain_error(11, 431, "request header too large"));
      break;
    }
    if (ec == http::error::body_limit) {  // a Content-Length over the limit: refused unread
      co_await refuse_body(stream, parser.get().version(), limit);
      break;
    }
    if (ec && is_parse_error(ec) && ec != http::error::end_of_stream) {
      co_await send(stream, plain_error(11, 400, "malformed HTTP request: " + ec.message()));
      break;
    }
    if (ec) break;  // closed, reset or idle too long
    auto started = std::chrono::steady_clock::now();
    if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      co_await net::async_write(stream, net::buffer(kContinue),
                                net::redirect_error(net::use_awaitable, ec));
      if (ec) break;
    }
    stream.expires_after(kBodyTimeout);
    co_await http::async_read(stream, buf, parser, net::redirect_error(net::use_awaitable, ec));
    if (ec == http::error::body_limit) {  // chunked, or a body longer than announced
      co_await refuse_body(stream, parser.get().version(), limit);
      break;
    }
    if (ec && is_parse_error(ec)) {
      co_await send(stream, plain_error(11, 400, "malformed HTTP request: " + ec.message()));
      break;
    }
    if (ec) break;
    stream.expires_never();  // a wait or a stream may take as long as the job

    Request req = parser.release();
    Outcome out;
    bool failed = false;
    {
      ActiveGuard guard(ctx.active);
      try {
        out = co_await handle_request(ctx, req, stream);
      } catch (const std::exception& e) {
        // A bug, not a client error: log it and drop the connection (the response may be
        // half written). co_await is not allowed in a handler, hence the flag.
        spdlog::error("{} {}: {}", std::string(req.method_string()), std::string(req.target()),
                      e.what());
        failed = true;
      }
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    ctx.metrics.request(failed ? 500 : out.status, seconds);
    spdlog::debug("{} {} -> {} in {:.1f} ms", std::string(req.method_string()),
                  std::string(req.target()), out.status, seconds * 1000);
    if (failed || !out.keep_alive) break;
  }
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
}

}  // namespace

std::expected<std::unique_ptr<HttpServer>, std::string> HttpServer::listen(
    net::io_context& ioc, Context& ctx, const ListenAddress& addr) {
  std::unique_ptr<HttpServer> s(new HttpServer(ioc, ctx));
  beast::error_code ec;
  auto ip = net::ip::make_address(addr.host, ec);
  if (ec) return std::unexpected("listen: '" + addr.host + "' is not an IP address");
  tcp::endpoint ep(ip, addr.port);
  s->acceptor_.open(ep.protocol(), ec);
  if (!ec) s->acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s->acceptor_.bind(ep, ec);
  if (!ec) s->acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return std::unexpected("listen on " + addr.host + ":" + std::to_string(addr.port) + ": " +
                           ec.message());
  return s;
}

void HttpServer::start() {
  net::co_spawn(acceptor_.get_executor(), accept_loop(), net::detached);
}

void HttpServer::stop() {
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ec;
    acceptor_.close(ec);
  });
}

awaitable<void> HttpServer::accept_loop() {
  while (true) {
    beast::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(
        net::make_strand(ioc_), net::redirect_error(net::use_awaitable, ec));
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      // Out of file descriptors and the like: say so and give the system a moment.
      spdlog::warn("accept: {}", ec.message());
      net::steady_timer t(ioc_, 100ms);
      co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto ex = socket.get_executor();
    net::co_spawn(ex, session(ctx_, std::move(socket)), net::detached);
  }
}

}  // namespace berth::gateway

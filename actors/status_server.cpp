#include "actors/status_server.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace berth::actors {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

// Scrapes are tiny: a client that takes longer than this to send a request is dropped.
constexpr auto kRequestTimeout = std::chrono::seconds(10);

std::string json_error(std::string_view message) {
  std::string out = "{\"error\": \"";
  for (char c : message) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"}\n";
}

http::response<http::string_body> answer(const http::request<http::string_body>& req,
                                         const StatusServer::Handler& handler) {
  StatusResponse r;
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  bool allow_header = false;
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    r = {405, "application/json", json_error("method not allowed: use GET")};
    allow_header = true;
  } else if (auto got = handler(path)) {
    r = std::move(*got);
  } else {
    r = {404, "application/json",
         json_error("no such endpoint: " + std::string(path) + " (try /healthz or /metrics)")};
  }
  http::response<http::string_body> res{static_cast<http::status>(r.status), req.version()};
  res.set(http::field::server, "berth-worker");
  res.set(http::field::content_type, r.content_type);
  if (allow_header) res.set(http::field::allow, "GET, HEAD");
  res.keep_alive(req.keep_alive());
  res.body() = req.method() == http::verb::head ? std::string() : std::move(r.body);
  res.prepare_payload();
  return res;
}

net::awaitable<void> serve(tcp::socket socket, const StatusServer::Handler& handler) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  beast::error_code ec;
  for (;;) {
    http::request<http::string_body> req;
    stream.expires_after(kRequestTimeout);
    co_await http::async_read(stream, buffer, req, net::redirect_error(net::use_awaitable, ec));
    if (ec) break;  // closed, timed out or not HTTP: nothing to answer
    auto res = answer(req, handler);
    co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
    if (ec || !res.keep_alive()) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
}

net::awaitable<void> accept_loop(tcp::acceptor& acceptor, const StatusServer::Handler& handler) {
  for (;;) {
    beast::error_code ec;
    tcp::socket s = co_await acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
    if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // EMFILE and the like: wait a moment instead of spinning on the error.
      spdlog::warn("status server: accept: {}", ec.message());
      net::steady_timer t(acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
      continue;
    }
    net::co_spawn(acceptor.get_executor(), serve(std::move(s), handler), net::detached);
  }
}

}  // namespace

struct StatusServer::Impl {
  net::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  Handler handler;
  std::thread thread;
};

StatusServer::StatusServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::expected<std::unique_ptr<StatusServer>, std::string> StatusServer::start(
    const ListenAddress& addr, Handler handler) {
  auto impl = std::make_unique<Impl>();
  impl->handler = std::move(handler);
  auto where = addr.host + ":" + std::to_string(addr.port);
  beast::error_code ec;
  auto ip = net::ip::make_address(addr.host, ec);
  if (ec) return std::unexpected("status_listen " + where + ": not an IP address");
  tcp::endpoint ep(ip, addr.port);
  auto& a = impl->acceptor;
  if (a.open(ep.protocol(), ec); ec)
    return std::unexpected("status_listen " + where + ": " + ec.message());
  a.set_option(net::socket_base::reuse_address(true), ec);
  if (a.bind(ep, ec); ec) return std::unexpected("status_listen " + where + ": " + ec.message());
  if (a.listen(net::socket_base::max_listen_connections, ec); ec)
    return std::unexpected("status_listen " + where + ": " + ec.message());
  net::co_spawn(impl->ioc, accept_loop(a, impl->handler), net::detached);
  impl->thread = std::thread([i = impl.get()] { i->ioc.run(); });
  return std::unique_ptr<StatusServer>(new StatusServer(std::move(impl)));
}

StatusServer::~StatusServer() {
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

uint16_t StatusServer::port() const {
  beast::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

}  // namespace berth::actors

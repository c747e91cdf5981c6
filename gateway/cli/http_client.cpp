#include "gateway/cli/http_client.hpp"

#include <array>
#include <limits>
#include <utility>  // before asio: boost 1.74 awaitable.hpp uses std::exchange unincluded

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace berth::gateway::cli {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Result = std::expected<HttpReply, std::string>;

constexpr auto kConnectTimeout = std::chrono::seconds(10);

net::awaitable<Result> exchange(const GatewayUrl& url, const std::string& method,
                                const std::string& target, const std::string& body,
                                const DataHandler* on_data,
                                std::optional<std::chrono::milliseconds> timeout) {
  auto ex = co_await net::this_coro::executor;
  beast::error_code ec;
  auto fail = [&](const std::string& what) -> Result {
    return std::unexpected("cannot reach the gateway at " + url.text + ": " + what + ": " +
                           ec.message());
  };
  tcp::resolver resolver(ex);
  auto endpoints = co_await resolver.async_resolve(url.host, url.port,
                                                   net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return fail("resolve " + url.host);
  beast::tcp_stream stream(ex);
  stream.expires_after(timeout ? std::min<std::chrono::milliseconds>(*timeout, kConnectTimeout)
                               : kConnectTimeout);
  co_await stream.async_connect(endpoints, net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return fail("connect");
  // A deadline over the rest of the exchange; none for an open-ended stream.
  if (timeout)
    stream.expires_after(*timeout);
  else
    stream.expires_never();

  auto verb = http::string_to_verb(method);
  http::request<http::string_body> req{verb, url.base_path + target, 11};
  req.set(http::field::host, url.host);
  req.set(http::field::user_agent, "berth-cli");
  if (on_data) req.set(http::field::accept, "text/event-stream");
  if (!body.empty() || verb == http::verb::post) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  co_await http::async_write(stream, req, net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return fail("send");

  beast::flat_buffer buf;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  co_await http::async_read_header(stream, buf, parser,
                                   net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return fail("read");
  HttpReply reply;
  reply.status = parser.get().result_int();
  reply.content_type = std::string(parser.get()[http::field::content_type]);
  bool events = on_data && reply.content_type.starts_with("text/event-stream");
  std::array<char, 16384> chunk;
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    // read_some, not read: an event must be handed on as soon as it arrives, not once a
    // buffer's worth has.
    co_await http::async_read_some(stream, buf, parser,
                                   net::redirect_error(net::use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return fail("read");
    std::string_view got(chunk.data(), chunk.size() - parser.get().body().size);
    if (events) {
      if (!got.empty() && !(*on_data)(got)) break;
    } else {
      reply.body.append(got);
    }
  }
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  co_return reply;
}

Result run(const GatewayUrl& url, const std::string& method, const std::string& target,
           const std::string& body, const DataHandler* on_data,
           std::optional<std::chrono::milliseconds> timeout) {
  net::io_context ioc;
  Result result = std::unexpected(std::string("no answer"));
  net::co_spawn(ioc, exchange(url, method, target, body, on_data, timeout),
                [&](std::exception_ptr e, Result r) {
                  if (e) {
                    try {
                      std::rethrow_exception(e);
                    } catch (const std::exception& x) {
                      result = std::unexpected(std::string(x.what()));
                    }
                  } else {
                    result = std::move(r);
                  }
                });
  ioc.run();
  return result;
}

}  // namespace

std::expected<GatewayUrl, std::string> parse_gateway_url(const std::string& text) {
  std::string_view s = text;
  if (!s.starts_with("http://"))
    return std::unexpected("gateway URL must start with http:// (got '" + text + "')");
  s.remove_prefix(7);
  GatewayUrl u;
  u.text = text;
  auto slash = s.find('/');
  std::string_view hostport = s.substr(0, slash);
  if (slash != std::string_view::npos) u.base_path = std::string(s.substr(slash));
  while (!u.base_path.empty() && u.base_path.back() == '/') u.base_path.pop_back();
  if (hostport.starts_with('[')) {  // [::1]:8080
    auto close = hostport.find(']');
    if (close == std::string_view::npos) return std::unexpected("bad gateway URL '" + text + "'");
    u.host = std::string(hostport.substr(1, close - 1));
    hostport.remove_prefix(close + 1);
    u.port = hostport.starts_with(':') ? std::string(hostport.substr(1)) : "80";
  } else {
    auto colon = hostport.rfind(':');
    u.host = std::string(hostport.substr(0, colon));
    u.port = colon == std::string_view::npos ? "80" : std::string(hostport.substr(colon + 1));
  }
  if (u.host.empty() || u.port.empty()) return std::unexpected("bad gateway URL '" + text + "'");
  return u;
}

std::expected<HttpReply, std::string> http_request(const GatewayUrl& url, const std::string& method,
                                                   const std::string& target,
                                                   const std::string& body,
                                                   std::chrono::milliseconds timeout) {
  return run(url, method, target, body, nullptr, timeout);
}

std::expected<HttpReply, std::string> http_stream(
    const GatewayUrl& url, const std::string& method, const std::string& target,
    const std::string& body, const DataHandler& on_data,
    std::optional<std::chrono::milliseconds> timeout) {
  return run(url, method, target, body, &on_data, timeout);
}

}  // namespace berth::gateway::cli

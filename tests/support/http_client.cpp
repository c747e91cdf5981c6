#include "tests/support/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace berth::test {

namespace beast = boost::beast;
namespace http_ns = beast::http;
using tcp = boost::asio::ip::tcp;

HttpResponse http(const std::string& method, uint16_t port, const std::string& target,
                  const std::string& body, std::chrono::milliseconds timeout) {
  HttpResponse out;
  try {
    boost::asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.expires_after(timeout);
    stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    http_ns::request<http_ns::string_body> req{http_ns::string_to_verb(method), target, 11};
    req.set(http_ns::field::host, "127.0.0.1");
    if (!body.empty() || method == "POST") {
      req.set(http_ns::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
    }
    http_ns::write(stream, req);
    beast::flat_buffer buf;
    http_ns::response_parser<http_ns::string_body> parser;
    parser.body_limit(256u << 20);
    http_ns::read(stream, buf, parser);
    auto& res = parser.get();
    out.status = res.result_int();
    out.body = res.body();
    for (auto& f : res) out.headers[std::string(f.name_string())] = std::string(f.value());
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

}  // namespace berth::test

#pragma once
// The berth CLI's HTTP/1.1 client (Boost.Beast): one connection per request, plain http only.
// Also used by the gateway's tests to read event streams.
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace berth::gateway::cli {

struct GatewayUrl {
  std::string host;
  std::string port;
  std::string base_path;  // prefix of every target, without a trailing slash
  std::string text;       // as given, for messages
};
// "http://host[:port][/prefix]"; the port defaults to 80.
std::expected<GatewayUrl, std::string> parse_gateway_url(const std::string& url);

struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;  // for a streamed reply: only when it was not an event stream
};

// One request with a deadline over all of it. The error is a transport failure (refused,
// timed out), already worded for a user.
std::expected<HttpReply, std::string> http_request(
    const GatewayUrl& url, const std::string& method, const std::string& target,
    const std::string& body = {}, std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Like http_request, but when the answer is text/event-stream its body goes to `on_data` as it
// arrives (return false to stop reading). `timeout`, if set, bounds the whole exchange.
using DataHandler = std::function<bool(std::string_view)>;
std::expected<HttpReply, std::string> http_stream(
    const GatewayUrl& url, const std::string& method, const std::string& target,
    const std::string& body, const DataHandler& on_data,
    std::optional<std::chrono::milliseconds> timeout = std::nullopt);

}  // namespace berth::gateway::cli

#include "gateway/http_util.hpp"

#include "gateway/job_json.hpp"

namespace berth::gateway {

Response text_response(const Request& req, int status, std::string content_type, std::string body) {
  Response res{static_cast<http::status>(status), req.version()};
  res.set(http::field::server, "berth-gateway");
  res.set(http::field::content_type, content_type);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response json_response(const Request& req, int status, const nlohmann::json& body) {
  return text_response(req, status, "application/json", dump(body) + "\n");
}

Response error_response(const Request& req, const ApiError& e) {
  return json_response(req, e.status, error_json(e.message));
}

awaitable<Outcome> send(beast::tcp_stream& stream, Response res) {
  Outcome out{static_cast<int>(res.result_int()), res.keep_alive()};
  beast::error_code ec;
  co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
  if (ec) out.keep_alive = false;
  co_return out;
}

}  // namespace berth::gateway

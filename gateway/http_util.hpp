#pragma once
// Types and small helpers of the HTTP side: Beast aliases, JSON responses, writing a
// response from a coroutine, and running a blocking call on the pool.
#include <type_traits>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "gateway/api_error.hpp"

namespace berth::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
template <class T>
using awaitable = net::awaitable<T>;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// What a handled request leaves behind: its status (for metrics and logs) and whether the
// connection may carry another request.
struct Outcome {
  int status = 0;
  bool keep_alive = false;
};

Response json_response(const Request& req, int status, const nlohmann::json& body);
Response error_response(const Request& req, const ApiError& e);
Response text_response(const Request& req, int status, std::string content_type, std::string body);

// Writes `res`; the outcome keeps the connection only if the write worked and both sides
// want keep-alive.
awaitable<Outcome> send(beast::tcp_stream& stream, Response res);

// Runs `f` (a blocking NATS call) on `pool` and resumes the awaiting coroutine on its own
// executor with the result: the I/O threads never block on NATS. `f` is taken by reference
// and must be a named object in the awaiting coroutine (it lives until the result is back).
//
// g++ 12 pitfalls this code avoids (both seen here as crashes): a closure or an aggregate
// created inside a co_await expression and passed by value to a coroutine is destroyed twice,
// and braced initializer lists inside a coroutine body are miscompiled. So: no lambdas or
// `T{...}` temporaries as coroutine arguments, and JSON literals are built in plain functions.
template <class F>
auto offload(net::thread_pool& pool, F& f) {
  using R = std::invoke_result_t<F&>;
  return net::async_initiate<const net::use_awaitable_t<>&, void(R)>(
      [&pool, fp = &f](auto handler) {
        auto ex = net::get_associated_executor(handler);
        net::post(pool, [handler = std::move(handler), fp, ex]() mutable {
          R r = (*fp)();
          // The awaitable's handler resumes the coroutine where it is called: call it on the
          // coroutine's executor (its strand), not on this pool thread.
          net::post(ex, [handler = std::move(handler), r = std::move(r)]() mutable {
            std::move(handler)(std::move(r));
          });
        });
      },
      net::use_awaitable);
}

}  // namespace berth::gateway

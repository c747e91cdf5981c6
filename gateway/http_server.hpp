#pragma once
// The HTTP listener: accepts connections and runs one coroutine per connection on its own
// strand, so any number of I/O threads may drive the io_context and a long request (a wait,
// an SSE stream) holds no thread while it waits.
#include <expected>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "gateway/config.hpp"
#include "gateway/context.hpp"
#include "gateway/http_util.hpp"

namespace berth::gateway {

class HttpServer {
 public:
  static std::expected<std::unique_ptr<HttpServer>, std::string> listen(net::io_context& ioc,
                                                                        Context& ctx,
                                                                        const ListenAddress& addr);
  // The address actually bound (port 0 resolved).
  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  void start();
  // Stops accepting; requests in flight go on (Context::stopping ends the long ones).
  void stop();

 private:
  HttpServer(net::io_context& ioc, Context& ctx) : ioc_(ioc), ctx_(ctx), acceptor_(ioc) {}
  awaitable<void> accept_loop();

  net::io_context& ioc_;
  Context& ctx_;
  tcp::acceptor acceptor_;
};

}  // namespace berth::gateway

#pragma once
// The NATS face of the API: requests on berth.api.submit carry the same JSON as
// POST /v1/jobs; the reply is {"id", "state": "queued"} or {"error", "status"}.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "gateway/context.hpp"
#include "gateway/http_util.hpp"
#include "gateway/nats_subscription.hpp"

namespace berth::gateway {

class NatsApi {
 public:
  NatsApi(net::io_context& ioc, Context& ctx) : ctx_(ctx), retry_(ioc) {}
  // Subscribes in the queue group "berth-gateway", so that with several gateways each request
  // is submitted once. Retries every second until the subscription is made.
  void start();
  void stop();

 private:
  void handle(nats::Msg msg);  // on the blocking pool

  Context& ctx_;
  net::steady_timer retry_;
  NatsSubscription sub_;
};

}  // namespace berth::gateway

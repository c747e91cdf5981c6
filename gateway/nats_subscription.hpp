#pragma once
// An asynchronous NATS subscription that is safe to drop from any thread while messages are
// arriving. The gateway opens one per waiting request and SSE stream, many per second, so it
// cannot use nats::Connection::subscribe (whose handlers live as long as the connection):
// here the handler is freed once nats.c reports, through its on-complete callback, that it
// will not run again (nats.h, natsSubscription_SetOnCompleteCB).
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "messages/nats/connection.hpp"

namespace berth::gateway {

class NatsSubscription {
 public:
  using Handler = std::function<void(nats::Msg)>;

  // `handler` runs on a nats.c thread: it must be short and must not block. With a non-empty
  // `queue`, the servers hand each message to one member of the queue group only.
  static std::expected<NatsSubscription, nats::Error> open(nats::Connection& conn,
                                                           std::string_view subject,
                                                           Handler handler,
                                                           std::string_view queue = {});
  NatsSubscription() = default;
  NatsSubscription(NatsSubscription&& o) noexcept;
  NatsSubscription& operator=(NatsSubscription&& o) noexcept;
  ~NatsSubscription();

 private:
  struct State;
  void close();
  natsSubscription* sub_ = nullptr;
  State* state_ = nullptr;
};

}  // namespace berth::gateway

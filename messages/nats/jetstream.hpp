#pragma once
// The BERTH_JOBS work queue: stream setup, publishing, and the workers' durable pull consumer.
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "messages/nats/connection.hpp"

namespace berth::nats {

struct ConsumerSettings {
  int64_t ack_wait_ms = 30'000;  // a worker that dies mid-job loses it to another after this
  int64_t max_deliver = 5;       // then the message is dropped; the record says why
};

class JetStream {
 public:
  static std::expected<std::unique_ptr<JetStream>, Error> open(Connection& conn);
  ~JetStream();
  jsCtx* get() const { return js_; }

  // Creates the work-queue stream (file storage) or leaves an existing one as it is.
  std::expected<void, Error> ensure_work_queue(std::string_view stream, std::string_view subject);
  std::expected<uint64_t, Error> publish(std::string_view subject, std::string_view data,
                                         std::string_view msg_id);

 private:
  jsCtx* js_ = nullptr;
};

class PullConsumer {
 public:
  static std::expected<PullConsumer, Error> bind(JetStream& js, std::string_view stream,
                                                 std::string_view subject, std::string_view durable,
                                                 const ConsumerSettings& settings);
  // Up to `batch` messages, waiting at most timeout_ms; none is not an error.
  std::expected<std::vector<Msg>, Error> fetch(int batch, int64_t timeout_ms);

 private:
  explicit PullConsumer(Subscription s) : sub_(std::move(s)) {}
  Subscription sub_;
};

// Acknowledgements, one per outcome (nats.c examples/docs).
std::expected<void, Error> ack(natsMsg* m);                    // done: result persisted
std::expected<void, Error> nak(natsMsg* m, int64_t delay_ms);  // transient failure
std::expected<void, Error> in_progress(natsMsg* m);            // still working: reset the ack timer
std::expected<void, Error> term(natsMsg* m);                   // poison: never redeliver
uint64_t delivery_count(natsMsg* m);

}  // namespace berth::nats

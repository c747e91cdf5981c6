#pragma once
// A job's live events (berth.events.<id>) handed from the nats.c thread to one coroutine.
// Opened *before* the job is published (or its record read), so nothing the worker says after
// that is missed.
#include <chrono>
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "gateway/api_error.hpp"
#include "gateway/http_util.hpp"
#include "gateway/nats_subscription.hpp"
#include "messages/job_event.hpp"

namespace berth::gateway {

class JobWatch {
 public:
  // `ex` is the executor (strand) of the coroutine that will call next().
  static std::expected<std::unique_ptr<JobWatch>, ApiError> open(nats::Connection& conn,
                                                                 const std::string& id,
                                                                 net::any_io_executor ex);
  // The events that arrived since the last call; waits until one does or `until` passes (then
  // the result may be empty). One caller at a time, on the executor given to open().
  awaitable<std::vector<messages::JobEvent>> next(std::chrono::steady_clock::time_point until);

  struct Inbox;  // shared with the nats.c handler, which may outlive this object briefly

 private:
  std::shared_ptr<Inbox> inbox_;
  NatsSubscription sub_;  // declared last: closed first, before the inbox is let go
};

}  // namespace berth::gateway

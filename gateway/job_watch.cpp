#include "gateway/job_watch.hpp"

#include <deque>
#include <mutex>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "messages/codec.hpp"
#include "messages/subjects.hpp"

namespace berth::gateway {

struct JobWatch::Inbox : std::enable_shared_from_this<Inbox> {
  explicit Inbox(net::any_io_executor ex) : timer(std::move(ex)) {}

  void push(messages::JobEvent e) {
    {
      std::lock_guard lock(m);
      queue.push_back(std::move(e));
    }
    // Posted, not run here: the timer belongs to the coroutine's strand.
    net::post(timer.get_executor(), [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->timer.cancel();
    });
  }

  std::vector<messages::JobEvent> take() {
    std::lock_guard lock(m);
    std::vector<messages::JobEvent> out(std::make_move_iterator(queue.begin()),
                                        std::make_move_iterator(queue.end()));
    queue.clear();
    return out;
  }

  std::mutex m;
  std::deque<messages::JobEvent> queue;
  net::steady_timer timer;  // a wake-up: the nats thread cancels the coroutine's wait
};

std::expected<std::unique_ptr<JobWatch>, ApiError> JobWatch::open(nats::Connection& conn,
                                                                  const std::string& id,
                                                                  net::any_io_executor ex) {
  auto w = std::make_unique<JobWatch>();
  w->inbox_ = std::make_shared<Inbox>(std::move(ex));
  auto sub = NatsSubscription::open(
      conn, messages::events_subject(id), [inbox = w->inbox_, id](nats::Msg m) {
        auto e = messages::decode<messages::JobEvent>(nats::data(m), "job event");
        if (!e) {
          spdlog::warn("[{}] {}", id, e.error());
          return;
        }
        inbox->push(std::move(*e));
      });
  if (!sub) return std::unexpected(nats_unreachable(sub.error()));
  w->sub_ = std::move(*sub);
  return w;
}

awaitable<std::vector<messages::JobEvent>> JobWatch::next(
    std::chrono::steady_clock::time_point until) {
  // Checked before waiting, on the strand: an event pushed earlier has its wake-up queued
  // behind us and would otherwise find no wait to cancel.
  if (auto ready = inbox_->take(); !ready.empty()) co_return ready;
  if (std::chrono::steady_clock::now() >= until) co_return std::vector<messages::JobEvent>{};
  inbox_->timer.expires_at(until);
  beast::error_code ec;
  co_await inbox_->timer.async_wait(net::redirect_error(net::use_awaitable, ec));
  co_return inbox_->take();
}

}  // namespace berth::gateway

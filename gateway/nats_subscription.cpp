#include "gateway/nats_subscription.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <utility>

#include <spdlog/spdlog.h>

namespace berth::gateway {

struct NatsSubscription::State {
  Handler handler;
  std::mutex m;
  std::condition_variable cv;
  bool complete = false;
};

namespace {
void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  static_cast<NatsSubscription::Handler*>(closure)->operator()(nats::Msg{msg});
}
}  // namespace

std::expected<NatsSubscription, nats::Error> NatsSubscription::open(nats::Connection& conn,
                                                                    std::string_view subject,
                                                                    Handler handler,
                                                                    std::string_view queue) {
  auto state = std::make_unique<State>();
  state->handler = std::move(handler);
  std::string subj(subject), q(queue);
  natsSubscription* sub = nullptr;
  // The closure is the Handler: State starts with it, and State outlives every callback.
  void* closure = &state->handler;
  natsStatus s = q.empty()
                     ? natsConnection_Subscribe(&sub, conn.get(), subj.c_str(), on_message, closure)
                     : natsConnection_QueueSubscribe(&sub, conn.get(), subj.c_str(), q.c_str(),
                                                     on_message, closure);
  if (s != NATS_OK) return std::unexpected(nats::status_error("subscribe " + subj, s));
  s = natsSubscription_SetOnCompleteCB(
      sub,
      [](void* p) {
        auto* st = static_cast<State*>(p);
        std::lock_guard lock(st->m);
        st->complete = true;
        st->cv.notify_all();
      },
      state.get());
  if (s != NATS_OK) {
    // Without the callback we cannot know when the handler is done: keep its state forever
    // rather than risk a use after free.
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    state.release();
    return std::unexpected(nats::status_error("subscribe " + subj, s));
  }
  NatsSubscription out;
  out.sub_ = sub;
  out.state_ = state.release();
  return out;
}

NatsSubscription::NatsSubscription(NatsSubscription&& o) noexcept
    : sub_(std::exchange(o.sub_, nullptr)), state_(std::exchange(o.state_, nullptr)) {}

NatsSubscription& NatsSubscription::operator=(NatsSubscription&& o) noexcept {
  if (this != &o) {
    close();
    sub_ = std::exchange(o.sub_, nullptr);
    state_ = std::exchange(o.state_, nullptr);
  }
  return *this;
}

NatsSubscription::~NatsSubscription() {
  close();
}

void NatsSubscription::close() {
  if (!sub_) return;
  natsSubscription_Unsubscribe(sub_);
  bool done = false;
  {
    // The handler only queues work, so this wait is a few microseconds; the bound covers a
    // connection closed under us, where the callback may already have fired or never will.
    std::unique_lock lock(state_->m);
    done = state_->cv.wait_for(lock, std::chrono::seconds(2), [&] { return state_->complete; });
  }
  natsSubscription_Destroy(sub_);
  if (done)
    delete state_;
  else
    spdlog::debug("nats: subscription did not report completion; keeping its handler");
  sub_ = nullptr;
  state_ = nullptr;
}

}  // namespace berth::gateway

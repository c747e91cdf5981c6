#include "gateway/nats_api.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "gateway/job_json.hpp"
#include "gateway/submit.hpp"
#include "messages/subjects.hpp"

namespace berth::gateway {

void NatsApi::start() {
  // The handler runs on a nats.c thread, which must not block: submitting takes NATS round
  // trips of its own, so it goes to the blocking pool.
  auto sub = NatsSubscription::open(
      ctx_.store.connection(), messages::kSubmitSubject,
      [this](nats::Msg m) {
        net::post(ctx_.blocking, [this, m = std::move(m)]() mutable { handle(std::move(m)); });
      },
      "berth-gateway");
  if (!sub) {
    spdlog::warn("nats api: {}; retrying", sub.error());
    retry_.expires_after(std::chrono::seconds(1));
    retry_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) start();
    });
    return;
  }
  sub_ = std::move(*sub);
  spdlog::info("nats api: answering requests on {}", messages::kSubmitSubject);
}

void NatsApi::stop() {
  retry_.cancel();
  sub_ = NatsSubscription{};
}

void NatsApi::handle(nats::Msg msg) {
  nlohmann::json reply;
  auto rec = submit_job(ctx_.store, ctx_.workers, ctx_.catalog, nats::data(msg));
  if (rec) {
    ctx_.metrics.job_submitted();
    reply = {{"id", rec->spec.id}, {"state", "queued"}};
  } else {
    reply = {{"error", rec.error().message}, {"status", rec.error().status}};
  }
  ctx_.metrics.nats_request(rec.has_value());
  if (auto r = ctx_.store.connection().respond(msg.get(), dump(reply)); !r)
    spdlog::warn("nats api: reply not sent{}: {}", rec ? " for " + rec->spec.id : "", r.error());
}

}  // namespace berth::gateway

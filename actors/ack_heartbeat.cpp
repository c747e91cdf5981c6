#include "actors/ack_heartbeat.hpp"

#include <spdlog/spdlog.h>

#include "messages/nats/jetstream.hpp"

namespace berth::actors {

AckHeartbeat::AckHeartbeat(std::shared_ptr<nats::Msg> msg, std::chrono::milliseconds interval,
                           std::string job_id)
    : msg_(std::move(msg)), job_id_(std::move(job_id)) {
  beat();  // the claim itself may have come late in the ack wait (a slow fetch, a busy worker)
  task_.emplace(interval, [this] { beat(); });
}

AckHeartbeat::~AckHeartbeat() {
  stop();
}

void AckHeartbeat::stop() {
  task_.reset();
}

void AckHeartbeat::beat() {
  if (auto r = nats::in_progress(msg_->get()); !r)
    spdlog::warn("[{}] in-progress ack failed ({}); JetStream may redeliver the job", job_id_,
                 r.error());
}

}  // namespace berth::actors

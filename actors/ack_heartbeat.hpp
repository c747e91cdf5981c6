#pragma once
// Keeps a claimed JetStream message from being redelivered while its job runs: sends
// "in progress" at once, then every `interval`, from a thread of its own, so no blocking step
// of the supervisor (a KV update, waiting for a machine to boot, a long image build) can let
// the ack wait run out. Stopped (and joined) before the message is acked or handed back, so
// nothing is sent for a message that is already settled.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "base/periodic_task.hpp"
#include "messages/nats/connection.hpp"

namespace berth::actors {

// The keep-alive interval for an ack wait: a third of it, so two heartbeats can be lost (or
// late) before JetStream gives up on the worker.
constexpr std::chrono::milliseconds heartbeat_interval(uint32_t ack_wait_ms) {
  return std::chrono::milliseconds(ack_wait_ms / 3);
}

class AckHeartbeat {
 public:
  AckHeartbeat(std::shared_ptr<nats::Msg> msg, std::chrono::milliseconds interval,
               std::string job_id);
  ~AckHeartbeat();
  AckHeartbeat(const AckHeartbeat&) = delete;
  AckHeartbeat& operator=(const AckHeartbeat&) = delete;

  // Idempotent; returns once no further "in progress" can be sent.
  void stop();

 private:
  void beat();

  std::shared_ptr<nats::Msg> msg_;
  std::string job_id_;
  std::optional<PeriodicTask> task_;
};

}  // namespace berth::actors

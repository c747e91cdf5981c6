#pragma once
// Publishes a job's progress on berth.events.<id> (core NATS; the record stays the truth).
#include <string>

#include "messages/agent_protocol.hpp"
#include "messages/job_record.hpp"
#include "messages/nats/connection.hpp"

namespace berth::actors {

class JobEvents {
 public:
  JobEvents(nats::Connection& conn, std::string job_id) : conn_(conn), id_(std::move(job_id)) {}
  void state(messages::JobState s);
  void output(const messages::OutputChunk& chunk);

 private:
  void publish(messages::JobEvent& e);
  nats::Connection& conn_;
  std::string id_;
  uint64_t seq_ = 0;
};

}  // namespace berth::actors

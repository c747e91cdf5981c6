#pragma once
// One supervisor per job: owns the job's machine, its address lease and its agent session, and
// takes the job from claimed to a persisted terminal state. It is a blocking actor on a thread
// of its own, so its linear recipe reads top to bottom:
//
//   claim ──> image ──> ip ──> boot ──> [compile] ──> run ──> persist ──> teardown ──> ack
//     │         │        │       │          │          │
//     │         └────────┴───────┴──────────┴──────────┴──> failure: persist internal_error
//     │                          └── machine lost: back to queued, nak (bounded attempts)
//     └── already finished: ack; cancel requested: persist cancelled
//
// Every wait has a deadline; cancel and shutdown are received during each of them.
#include <memory>

#include <caf/all.hpp>

#include "actors/worker.hpp"
#include "messages/job_spec.hpp"
#include "messages/nats/connection.hpp"

namespace berth::actors {

struct Ticket {
  std::shared_ptr<nats::Msg> msg;  // acked only after the terminal record is persisted
  messages::JobSpec spec;
  // Set when this worker can never run the job (it needs more memory than the worker admits):
  // the supervisor then ends it internal_error with this reason.
  std::string refusal;
};

void vm_supervisor(caf::blocking_actor* self, Worker* worker, std::shared_ptr<Ticket> ticket);

}  // namespace berth::actors

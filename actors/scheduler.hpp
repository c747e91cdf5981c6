#pragma once
// The scheduler pulls from the durable JetStream consumer only as many jobs as it has free
// slots (backpressure) and spawns one vm_supervisor per job. It is a blocking actor: a fetch
// waits on the network, so it lives on a thread of its own, never on a CAF scheduler thread.
#include <caf/all.hpp>

#include "actors/worker.hpp"
#include "messages/nats/jetstream.hpp"

namespace berth::actors {

void scheduler(caf::blocking_actor* self, Worker* worker,
               std::shared_ptr<nats::PullConsumer> consumer);

}  // namespace berth::actors

#include "actors/scheduler.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <set>

#include "actors/ack_heartbeat.hpp"
#include "actors/atoms.hpp"
#include "actors/memory_budget.hpp"
#include "actors/vm_supervisor.hpp"
#include "messages/codec.hpp"

namespace berth::actors {

namespace {
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A message whose body is not a job spec can never run: terminate it so it is not redelivered.
void reject(nats::Msg& msg, const std::string& why) {
  spdlog::error("dropping a message that is not a job: {}", why);
  (void)nats::term(msg.get());
}
}  // namespace

void scheduler(caf::blocking_actor* self, Worker* w, std::shared_ptr<nats::PullConsumer> consumer) {
  std::set<std::string> running;
  MemoryBudget memory(w->cfg.memory_mib);
  // Claimed jobs that wait for memory, oldest first; kept alive with "in progress".
  std::deque<std::shared_ptr<Ticket>> waiting;
  auto last_renewal = Clock::now();
  bool stopping = false;
  auto on_done = [&](done_atom, const std::string& id) {
    running.erase(id);
    memory.release(id);
    w->supervisors.remove(id);
  };
  auto need_of = [&](const Ticket& t) {
    return machine_memory_mib(t.spec.limits.memory_mib, w->runtime.name);
  };
  auto start = [&](std::shared_ptr<Ticket> ticket) {
    running.insert(ticket->spec.id);
    memory.reserve(ticket->spec.id, need_of(*ticket));
    auto sup = self->spawn(vm_supervisor, w, ticket);
    w->supervisors.add(ticket->spec.id, sup);
  };
  auto start_waiting = [&] {
    while (!waiting.empty() && running.size() < w->cfg.slots &&
           memory.fits(need_of(*waiting.front()))) {
      start(waiting.front());
      waiting.pop_front();
    }
    if (!waiting.empty() && Clock::now() - last_renewal > heartbeat_interval(w->cfg.ack_wait_ms)) {
      for (auto& t : waiting) (void)nats::in_progress(t->msg->get());
      last_renewal = Clock::now();
    }
  };

  while (!stopping) {
    // Take every pending notification without waiting.
    for (bool more = true; more;) {
      more = false;
      self->receive([&](done_atom a, const std::string& id) { on_done(a, id), more = true; },
                    [&](shutdown_atom) { stopping = true; }, caf::after(0ms) >> [] {});
    }
    if (stopping) break;
    start_waiting();
    size_t free = w->cfg.slots - std::min<size_t>(running.size(), w->cfg.slots);
    // A job waiting for memory holds the queue: pulling more would only add waiters.
    if (free == 0 || !waiting.empty() || !w->conn->connected()) {
      self->receive([&](done_atom a, const std::string& id) { on_done(a, id); },
                    [&](shutdown_atom) { stopping = true; }, caf::after(250ms) >> [] {});
      continue;
    }
    // Short fetches keep the scheduler responsive to done and shutdown.
    auto msgs = consumer->fetch(static_cast<int>(free), 250);
    if (!msgs) {
      spdlog::warn("fetch failed: {}", msgs.error());
      self->receive([&](shutdown_atom) { stopping = true; }, caf::after(500ms) >> [] {});
      continue;
    }
    for (auto& m : *msgs) {
      auto spec = messages::decode<messages::JobSpec>(nats::data(m), "job spec");
      if (!spec) {
        reject(m, spec.error());
        continue;
      }
      if (spec->id.empty()) {
        reject(m, "job spec without an id");
        continue;
      }
      if (running.count(spec->id)) {
        // A redelivery of a job this worker is still running (ack wait passed): keep ours.
        (void)nats::in_progress(m.get());
        continue;
      }
      auto ticket = std::make_shared<Ticket>();
      ticket->msg = std::make_shared<nats::Msg>(std::move(m));
      ticket->spec = std::move(*spec);
      auto need = need_of(*ticket);
      if (need > memory.total()) {
        // It can never run here; its supervisor ends it with the reason, like any other job.
        ticket->refusal = "the job needs " + std::to_string(need) +
                          " MiB of host memory with its machine; worker " + w->cfg.worker_id +
                          " admits at most " + std::to_string(memory.total()) + " MiB (memory_mib)";
        start(ticket);
        memory.release(ticket->spec.id);
      } else if (memory.fits(need) && waiting.empty()) {
        start(ticket);
      } else {
        spdlog::info("[{}] waits for {} MiB of memory ({} of {} MiB reserved)", ticket->spec.id,
                     need, memory.reserved(), memory.total());
        waiting.push_back(std::move(ticket));
      }
    }
  }
  // Jobs still waiting for memory never started: hand them back at once.
  for (auto& t : waiting) (void)nats::nak(t->msg->get(), 0);
  waiting.clear();

  // Drain: stop pulling, let running jobs finish for a while, then hand the rest back.
  spdlog::info("scheduler: draining {} running job(s)", running.size());
  auto deadline = Clock::now() + std::chrono::milliseconds(w->cfg.drain_timeout_ms);
  bool told = false;
  while (!running.empty()) {
    if (!told && Clock::now() >= deadline) {
      for (auto& sup : w->supervisors.all()) caf::anon_send(sup, shutdown_atom::value);
      told = true;
    }
    self->receive([&](done_atom a, const std::string& id) { on_done(a, id); },
                  [&](shutdown_atom) {}, caf::after(100ms) >> [] {});
  }
  spdlog::info("scheduler: stopped");
}

}  // namespace berth::actors

#include "actors/scheduler.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <set>

#include "actors/atoms.hpp"
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
  bool stopping = false;
  auto on_done = [&](done_atom, const std::string& id) {
    running.erase(id);
    w->supervisors.remove(id);
  };

  while (!stopping) {
    // Take every pending notification without waiting.
    for (bool more = true; more;) {
      more = false;
      self->receive([&](done_atom a, const std::string& id) { on_done(a, id), more = true; },
                    [&](shutdown_atom) { stopping = true; }, caf::after(0ms) >> [] {});
    }
    if (stopping) break;
    size_t free = w->cfg.slots - std::min<size_t>(running.size(), w->cfg.slots);
    if (free == 0 || !w->conn->connected()) {
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
      running.insert(ticket->spec.id);
      auto sup = self->spawn(vm_supervisor, w, ticket);
      w->supervisors.add(ticket->spec.id, sup);
    }
  }

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

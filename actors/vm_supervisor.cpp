#include "actors/vm_supervisor.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "actors/ack_heartbeat.hpp"
#include "actors/agent_handshake.hpp"
#include "actors/agent_link.hpp"
#include "actors/atoms.hpp"
#include "actors/job_events.hpp"
#include "actors/job_result.hpp"
#include "actors/run_plan.hpp"
#include "messages/agent_auth.hpp"
#include "messages/clock.hpp"
#include "messages/codec.hpp"
#include "messages/nats/jetstream.hpp"
#include "messages/worker_info.hpp"
#include "vmm/jail/jail_machine.hpp"
#include "vmm/kvm/kvm_machine.hpp"
#include "vmm/net/ipv4.hpp"

namespace berth::actors {

namespace {

using Clock = std::chrono::steady_clock;
using messages::JobRecord;
using messages::JobState;
using messages::NodeStatus;
using messages::Verdict;
using namespace std::chrono_literals;

// How a job's attempt on this worker ends.
enum class Outcome { finished, retry, give_back };

class Supervisor {
 public:
  Supervisor(caf::blocking_actor* self, Worker& w, Ticket& t)
      : self_(self),
        w_(w),
        t_(t),
        id_(t.spec.id),
        events_(*w.conn, t.spec.id, t.spec.limits.output_bytes),
        result_(t.spec.limits.output_bytes) {}

  void run();

 private:
  bool claim();
  Outcome prepare_and_execute();
  bool prepare_image();
  bool lease_ip();
  bool boot();
  // A network job on a worker without egress: back to the queue when another live worker
  // offers egress, otherwise refused (the gateway refuses such jobs up front; this is the race).
  bool network_refused();
  bool execute(const messages::ExecStep& step);
  void persist_and_ack(Outcome outcome);
  void teardown();
  void mark(const std::string& node, NodeStatus status, std::string detail = {});
  // Every ack, nak or term goes through here: the heartbeat stops first, so no "in progress"
  // can follow the message's settlement.
  template <class F>
  void settle(F f) {
    heartbeat_.reset();
    f(t_.msg->get());
  }
  void fail(const std::string& message) { result_.end(Verdict::internal_error, message); }

  caf::blocking_actor* self_;
  Worker& w_;
  Ticket& t_;
  std::string id_;
  JobEvents events_;
  JobResult result_;
  const images::Language* lang_ = nullptr;
  std::string rootfs_, initramfs_, ip_;
  std::unique_ptr<vmm::Machine> machine_;
  std::unique_ptr<AgentLink> link_;
  bool leased_ = false;
  bool cancelled_ = false;
  bool shutdown_ = false;
  std::string retry_reason_;
  std::string give_back_reason_ = "worker shutting down";
  int64_t give_back_delay_ms_ = 0;
  std::optional<AckHeartbeat> heartbeat_;
};

void Supervisor::run() {
  heartbeat_.emplace(t_.msg, heartbeat_interval(w_.cfg.ack_wait_ms), id_);
  if (!claim()) return;
  Outcome outcome = prepare_and_execute();
  persist_and_ack(outcome);
}

// Takes the job: a redelivered job that is already finished is acked and skipped; a job over
// its attempts ends internal_error; otherwise the record becomes scheduled with its run plan.
bool Supervisor::claim() {
  bool already_finished = false, cancel_requested = false, exhausted = false;
  lang_ = w_.catalog->find(t_.spec.language);
  auto rec = w_.store->update(
      id_,
      [&](JobRecord& r) {
        if (r.terminal()) return already_finished = true, false;
        if (r.cancel_requested) return cancel_requested = true, false;
        r.attempts++;
        if (r.attempts > w_.cfg.max_attempts) return exhausted = true, false;
        r.state = JobState::scheduled;
        r.worker_id = w_.cfg.worker_id;
        r.started_ms = messages::now_ms();
        r.plan = lang_ ? build_plan(t_.spec, *lang_) : std::vector<messages::PlanNode>{};
        r.result.reset();
        return true;
      },
      &t_.spec);
  if (!rec) {
    spdlog::error("[{}] cannot claim: {}; handing it back", id_, rec.error());
    settle([](natsMsg* m) { (void)nats::nak(m, 2000); });
    return false;
  }
  if (already_finished) {
    spdlog::info("[{}] already finished; acknowledging the redelivery", id_);
    settle([](natsMsg* m) { (void)nats::ack(m); });
    return false;
  }
  if (cancel_requested) {
    result_.end(Verdict::cancelled, "cancelled before it started");
    persist_and_ack(Outcome::finished);
    return false;
  }
  if (exhausted) {
    fail("gave up after " + std::to_string(w_.cfg.max_attempts) +
         " attempts: its machine failed each time");
    persist_and_ack(Outcome::finished);
    return false;
  }
  if (!lang_) {
    fail("language '" + t_.spec.language + "' is not known to worker " + w_.cfg.worker_id);
    persist_and_ack(Outcome::finished);
    return false;
  }
  if (!t_.refusal.empty()) {
    fail(t_.refusal);
    persist_and_ack(Outcome::finished);
    return false;
  }
  if (network_refused()) return false;
  spdlog::info("[{}] scheduled: {} (attempt {})", id_, t_.spec.language, rec->attempts);
  events_.state(JobState::scheduled);
  return true;
}

Outcome Supervisor::prepare_and_execute() {
  if (!prepare_image() || !lease_ip() || !boot())
    return shutdown_               ? Outcome::give_back
           : retry_reason_.empty() ? Outcome::finished
                                   : Outcome::retry;
  w_.store->update(id_, [](JobRecord& r) { return r.state = JobState::running, true; });
  events_.state(JobState::running);
  for (auto& step : build_steps(t_.spec, *lang_)) {
    if (cancelled_) {
      result_.end(Verdict::cancelled, "cancelled");
      break;
    }
    if (!execute(step)) break;
  }
  if (shutdown_) return Outcome::give_back;
  return retry_reason_.empty() ? Outcome::finished : Outcome::retry;
}

bool Supervisor::network_refused() {
  if (!t_.spec.network || w_.cfg.egress == "nat") return false;
  bool elsewhere = false;
  if (auto entries = w_.workers_bucket->entries())
    for (auto& [key, e] : *entries)
      if (auto info = messages::decode<messages::WorkerInfo>(e.value, "worker announcement"))
        elsewhere = elsewhere || (info->egress == "nat" && info->worker_id != w_.cfg.worker_id);
  if (elsewhere) {
    give_back_reason_ = "a network job, and this worker's egress is none";
    // Not at once: this worker would likely fetch it again before the one with egress does.
    give_back_delay_ms_ = 1000;
    persist_and_ack(Outcome::give_back);
    return true;
  }
  result_.end(Verdict::internal_error, "network access is disabled on this deployment");
  persist_and_ack(Outcome::finished);
  return true;
}

bool Supervisor::prepare_image() {
  mark("image", NodeStatus::running);
  // Asked again every few seconds so the JetStream message is kept alive through a long build;
  // the builder answers every asker of one build.
  for (auto deadline = Clock::now() + 20min; Clock::now() < deadline && !shutdown_;) {
    bool answered = false, ok = false;
    std::string key_or_error;
    self_->request(w_.image_builder, 5s, image_atom::value, t_.spec.language)
        .receive(
            [&](bool good, std::string& key, std::string& rootfs, std::string& initramfs) {
              answered = true;
              ok = good;
              key_or_error = std::move(key);
              rootfs_ = std::move(rootfs);
              initramfs_ = std::move(initramfs);
            },
            [&](caf::error&) {});
    if (!answered) continue;
    if (!ok) {
      mark("image", NodeStatus::failed, key_or_error);
      fail(key_or_error);
      return false;
    }
    mark("image", NodeStatus::done, key_or_error);
    return true;
  }
  mark("image", NodeStatus::failed, "no image within 20 minutes");
  fail("the " + t_.spec.language + " image was not ready within 20 minutes");
  return false;
}

bool Supervisor::lease_ip() {
  mark("ip", NodeStatus::running);
  bool ok = false;
  std::string ip_or_error = "the ip manager did not answer within 5 s";
  self_->request(w_.ip_manager, 5s, lease_atom::value, id_)
      .receive(
          [&](bool good, std::string& v) {
            ok = good;
            ip_or_error = std::move(v);
          },
          [&](caf::error&) {});
  if (!ok) {
    mark("ip", NodeStatus::failed, ip_or_error);
    fail("no address for the machine: " + ip_or_error);
    return false;
  }
  leased_ = true;
  ip_ = ip_or_error;
  mark("ip", NodeStatus::done, ip_);
  return true;
}

bool Supervisor::boot() {
  mark("boot", NodeStatus::running);
  auto started = Clock::now();
  vmm::MachineConfig mc;
  mc.job_id = id_;
  mc.rootfs = rootfs_;
  mc.initramfs = initramfs_;
  mc.kernel = w_.cfg.kernel;
  mc.agent = w_.cfg.agent_path;
  mc.monitor = w_.cfg.monitor_path;
  mc.run_dir = std::filesystem::path(w_.cfg.state_dir) / "machines" / id_;
  mc.net = {
      w_.cfg.bridge,  ip_, w_.prefix_len, w_.gateway_ip, t_.spec.network && w_.cfg.egress == "nat",
      w_.filter.get()};
  mc.memory_mib = t_.spec.limits.memory_mib;
  mc.processes = t_.spec.limits.processes;
  mc.cpu_percent = w_.cfg.cpu_percent;
  if (auto ip = vmm::net::Ipv4::parse(ip_)) mc.job_uid = w_.cfg.uid_base + (ip->value() & 0xffff);
  // Fresh for every machine, so a proof is worth nothing to any other.
  auto secret = messages::random_bytes(messages::kSecretBytes);
  if (!secret) {
    mark("boot", NodeStatus::failed, secret.error());
    fail("no secret for the machine: " + secret.error());
    return false;
  }
  mc.secret = *secret;
  machine_ =
      w_.runtime.name == "kvm" ? vmm::kvm::make_kvm_machine(mc) : vmm::jail::make_jail_machine(mc);
  auto booted = [&]() -> std::expected<void, std::string> {
    if (auto s = machine_->start(); !s) return s;
    auto link =
        AgentLink::connect(ip_, mc.agent_port, std::chrono::milliseconds(w_.cfg.boot_timeout_ms),
                           [&] { return machine_->poll() == vmm::MachineEnd::running; });
    if (!link) return std::unexpected(link.error());
    link_ = std::move(*link);
    link_->start_reader(caf::actor_cast<caf::actor>(self_));
    return open_agent_session(self_, *link_, mc.secret, ip_, 5s);
  }();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  if (!booted) {
    w_.metrics.machine_boot_failed();
    auto tail = machine_ ? machine_->console_tail() : std::string();
    auto message = "the machine did not come up: " + booted.error() +
                   (tail.empty() ? "" : "\n--- console ---\n" + tail);
    spdlog::error("[{}] {}", id_, message);
    mark("boot", NodeStatus::failed, booted.error());
    retry_reason_ = message;
    fail(message);
    return false;
  }
  w_.metrics.machine_booted(static_cast<double>(ms) / 1000);
  std::string detail = std::string(machine_->runtime()) + ", " + std::to_string(ms) + " ms";
  if (machine_->runtime() == "kvm")
    detail += ", kernel " + mc.kernel.string() + ", image " +
              mc.initramfs.parent_path().filename().string();
  mark("boot", NodeStatus::done, detail);
  return true;
}

bool Supervisor::execute(const messages::ExecStep& step) {
  mark(step.step, NodeStatus::running);
  spdlog::debug("[{}] actor {} sends exec {}", id_, self_->id(), step.step);
  if (auto s = link_->send(messages::make_message(step)); !s) {
    retry_reason_ = s.error();
    fail(s.error());
    mark(step.step, NodeStatus::failed, s.error());
    return false;
  }
  // The agent enforces the wall limit; this deadline is the backstop when it cannot.
  auto deadline = Clock::now() + std::chrono::milliseconds(step.limits.wall_ms) + 3s;
  std::optional<Clock::time_point> cancel_deadline;
  std::optional<messages::StepExit> exit;
  bool done = false;
  auto request_cancel = [&] {
    if (cancel_deadline) return;
    cancelled_ = true;
    cancel_deadline = Clock::now() + 800ms;
    (void)link_->send(messages::make_message(messages::Cancel{"cancelled by request"}));
  };
  auto check = [&] {
    if (cancel_deadline && Clock::now() > *cancel_deadline) {
      result_.end(Verdict::cancelled, "cancelled");
      done = true;
    } else if (Clock::now() > deadline) {
      auto tail = machine_->console_tail();
      result_.end(Verdict::time_limit, "wall limit of " + std::to_string(step.limits.wall_ms) +
                                           " ms reached (the agent did not stop the step)");
      spdlog::error("[{}] the agent did not end the {} step in time; console:\n{}", id_, step.step,
                    tail);
      done = true;
    }
  };
  self_->receive_while([&] { return !done; })(
      [&](frame_atom, std::string& body) {
        link_->consumed(body.size());
        auto m = messages::decode_agent_message(body);
        spdlog::debug("[{}] frame type {}", id_, m ? static_cast<int>(m->type) : -1);
        if (!m) {
          fail("the agent sent a bad message: " + m.error());
          done = true;
          return;
        }
        if (m->type == messages::AgentMsgType::output) {
          result_.output(*m->output);
          events_.output(*m->output);
        } else if (m->type == messages::AgentMsgType::exit) {
          exit = std::move(m->exit);
          done = true;
        }
        if (!done) check();
      },
      [&](closed_atom, std::string& why, bool agent_fault) {
        done = true;
        if (cancelled_) return result_.end(Verdict::cancelled, "cancelled");
        if (agent_fault) {
          // Like an undecodable message: the agent is broken, or the job has taken over its
          // machine. Either way a fresh machine would run the same job again, so no retry.
          spdlog::error("[{}] {}", id_, why);
          return fail(why);
        }
        auto tail = machine_->console_tail();
        retry_reason_ = "the machine stopped during the " + step.step + " step: " + why +
                        (tail.empty() ? "" : "\n--- console ---\n" + tail);
        fail(retry_reason_);
      },
      [&](cancel_atom) {
        request_cancel();
        check();
      },
      [&](shutdown_atom) {
        shutdown_ = true;
        done = true;
      },
      caf::after(100ms) >> check);
  if (exit) {
    bool next = result_.step_exit(*exit);
    mark(step.step, exit->verdict == Verdict::ok ? NodeStatus::done : NodeStatus::failed,
         std::string(messages::to_string(exit->verdict)));
    return next;
  }
  mark(step.step, NodeStatus::failed, result_.result().message);
  return false;
}

void Supervisor::persist_and_ack(Outcome outcome) {
  if (outcome == Outcome::finished) {
    auto& res = result_.result();
    auto rec = w_.store->update(id_, [&](JobRecord& r) {
      r.state = JobState::finished;
      r.result = res;
      r.finished_ms = messages::now_ms();
      for (auto& n : r.plan)
        if (n.status == NodeStatus::pending) n.status = NodeStatus::skipped;
      return true;
    });
    teardown();
    if (!rec) {
      // Never ack what is not persisted: JetStream hands the job out again.
      spdlog::error("[{}] result not persisted ({}); handing the job back", id_, rec.error());
      settle([](natsMsg* m) { (void)nats::nak(m, 2000); });
      return;
    }
    events_.state(JobState::finished);
    w_.metrics.job_finished(messages::to_string(res.verdict));
    spdlog::info("[{}] finished: {} exit={} {} ms", id_, messages::to_string(res.verdict),
                 res.exit_code ? std::to_string(*res.exit_code) : "-", res.wall_ms);
    settle([&](natsMsg* m) {
      if (auto a = nats::ack(m); !a)
        spdlog::warn("[{}] ack failed ({}); a redelivery will find it finished", id_, a.error());
    });
    return;
  }
  // retry: a fresh machine gets another attempt (counted in the record); give_back: this worker
  // is shutting down, or cannot run the job (network), and the attempt does not count.
  w_.store->update(id_, [&](JobRecord& r) {
    if (r.terminal()) return false;
    r.state = JobState::queued;
    if (outcome == Outcome::give_back && r.attempts > 0) r.attempts--;
    return true;
  });
  teardown();
  w_.metrics.job_handed_back(outcome == Outcome::retry);
  events_.state(JobState::queued);
  spdlog::warn("[{}] {}; handing it back to the queue", id_,
               outcome == Outcome::retry ? retry_reason_ : give_back_reason_);
  settle([&](natsMsg* m) {
    (void)nats::nak(m, outcome == Outcome::retry ? 500 : give_back_delay_ms_);
  });
}

void Supervisor::teardown() {
  if (link_) link_->close();
  link_.reset();
  if (machine_) machine_->stop();
  machine_.reset();
  if (leased_) {
    self_->request(w_.ip_manager, 5s, release_atom::value, id_)
        .receive([](bool) {},
                 [&](caf::error&) { spdlog::error("[{}] ip release not confirmed", id_); });
    leased_ = false;
  }
}

void Supervisor::mark(const std::string& node, NodeStatus status, std::string detail) {
  auto now = messages::now_ms();
  auto r = w_.store->update(id_, [&](JobRecord& rec) {
    auto* n = rec.node(node);
    if (!n) return false;
    n->status = status;
    if (status == NodeStatus::running)
      n->started_ms = now;
    else
      n->finished_ms = now;
    if (!detail.empty()) n->detail = detail;
    return true;
  });
  if (!r) spdlog::warn("[{}] plan node {} not updated: {}", id_, node, r.error());
}

}  // namespace

void vm_supervisor(caf::blocking_actor* self, Worker* worker, std::shared_ptr<Ticket> ticket) {
  const std::string id = ticket->spec.id;
  try {
    Supervisor(self, *worker, *ticket).run();
  } catch (const std::exception& e) {
    // Nothing here is expected to throw; if it does, the job must still not be lost: leave it
    // unacked so JetStream redelivers it after the ack wait.
    spdlog::critical("[{}] supervisor failed: {}", id, e.what());
  }
  caf::anon_send(worker->scheduler, done_atom::value, id);
}

}  // namespace berth::actors

#include "agent/session.hpp"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include "agent/log.hpp"
#include "agent/pid1.hpp"
#include "agent/poll_list.hpp"
#include "messages/agent_auth.hpp"

namespace berth::agent {

namespace {
constexpr const char* kAgentVersion = "berth-agent 0.1.0";
}

std::optional<Connection> Session::accept_supervisor(UniqueFd listener) {
  while (true) {
    pollfd fds[2] = {{listener.get(), POLLIN, 0}, {sigfd_.get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log(errno_text("poll"));
      return std::nullopt;
    }
    if (fds[1].revents && !handle_signals()) return std::nullopt;
    if (!fds[0].revents) continue;
    auto fd = accept_one(listener.get());
    if (!fd) {
      log(fd.error());
      return std::nullopt;
    }
    // Only one supervisor, ever: the listener closes here (when `listener` goes out of scope),
    // so nothing else on the network can reach the agent for the rest of the machine's life.
    if (*fd) return Connection(std::move(**fd));
  }
}

int Session::run(UniqueFd listener) {
  conn_ = accept_supervisor(std::move(listener));
  if (!conn_) {
    stop_everything();
    return 0;
  }
  log("supervisor connected");
  conn_->send(messages::make_message(
      messages::Hello{messages::kAgentProtocolVersion, kAgentVersion, uptime_ms()}));
  PollList polls;
  while (true) {
    polls.clear();
    size_t sock = polls.add(conn_->fd(), POLLIN | (conn_->pending() ? POLLOUT : 0));
    size_t sig = polls.add(sigfd_.get(), POLLIN);
    if (step_) step_->add_fds(polls);
    int timeout = step_ ? step_->timeout_ms() : -1;
    if (poll(polls.data(), polls.size(), timeout) < 0 && errno != EINTR) {
      log(errno_text("poll"));
      break;
    }
    if (polls.revents(sig) && !handle_signals()) break;
    if (polls.revents(sock) && !handle_socket(polls.revents(sock))) break;
    if (step_) {
      step_->handle(polls);
      step_->tick();
      end_step_if_done();
    }
    if (auto r = conn_->flush(); !r) {
      log(r.error());
      break;
    }
  }
  stop_everything();
  return 0;
}

bool Session::handle_signals() {
  bool keep_going = true;
  for (int sig : read_signals(sigfd_.get())) {
    if (sig == SIGCHLD) continue;  // reaped below, whichever child it was
    if (cfg_.pid1) {
      // PID 1 must not end on a stray signal: that would end the machine mid-job.
      log("ignoring signal " + std::to_string(sig));
    } else {
      log("signal " + std::to_string(sig) + ": stopping");
      keep_going = false;
    }
  }
  for (const auto& r : reap_children())
    if (step_) step_->on_reaped(r);
  return keep_going;
}

bool Session::handle_socket(short revents) {
  if (revents & (POLLIN | POLLHUP | POLLERR)) {
    auto r = conn_->read_available();
    // At EOF, messages that arrived just before are dropped: a closed connection means the
    // supervisor has given up on this machine, so nothing it sent before matters any more.
    if (!r) {
      log(r.error());
      return false;
    }
    while (true) {
      auto msg = conn_->next_message();
      if (!msg) {
        log(msg.error() + "; closing the connection");
        return false;
      }
      if (!*msg) break;
      dispatch(std::move(**msg));
    }
  }
  if (revents & POLLOUT) {
    if (auto r = conn_->flush(); !r) {
      log(r.error());
      return false;
    }
  }
  return true;
}

void Session::dispatch(messages::AgentMessage msg) {
  switch (msg.type) {
    case messages::AgentMsgType::exec:
      if (step_)
        queued_.push_back(std::move(*msg.exec));
      else
        start_step(std::move(*msg.exec));
      break;
    case messages::AgentMsgType::cancel:
      if (step_)
        step_->cancel(msg.cancel->reason);
      else
        log("cancel with no step running; ignored");
      break;
    case messages::AgentMsgType::challenge:
      answer_challenge(*msg.challenge);
      break;
    default:
      log("unexpected message type " + std::to_string(static_cast<int>(msg.type)) +
          " from the supervisor; ignored");
  }
}

void Session::answer_challenge(const messages::Challenge& c) {
  // One proof per machine: a second challenge on the one session has no honest sender.
  if (challenged_) {
    log("a second challenge; ignored");
    return;
  }
  challenged_ = true;
  if (secret_.empty()) log("challenged, but this machine was given no secret; the proof is empty");
  if (c.nonce.size() != messages::kNonceBytes)
    log("challenge nonce of " + std::to_string(c.nonce.size()) + " bytes");
  conn_->send(messages::make_message(
      messages::Proof{secret_.empty() ? std::string() : messages::agent_proof(secret_, c.nonce)}));
}

void Session::start_step(messages::ExecStep exec) {
  auto runner = StepRunner::start(std::move(exec), cfg_, ++steps_started_, *conn_);
  if (!runner) {
    conn_->send(messages::make_message(std::move(runner.error())));
    return;
  }
  step_ = std::move(*runner);
}

void Session::end_step_if_done() {
  if (step_ && step_->done()) {
    conn_->send(messages::make_message(step_->finish()));
    step_.reset();
  }
  // A queued step that fails to start answers at once, so keep going down the queue.
  while (!step_ && !queued_.empty()) {
    auto next = std::move(queued_.front());
    queued_.pop_front();
    start_step(std::move(next));
  }
}

void Session::stop_everything() {
  // Destroying the step kills its processes and removes its cgroups.
  step_.reset();
  queued_.clear();
  if (cfg_.pid1) kill(-1, SIGKILL);
  reap_children();
  log("exiting");
}

}  // namespace berth::agent

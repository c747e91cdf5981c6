#pragma once
// The agent's life after startup: accept the one supervisor connection, say hello, then serve
// `exec` and `cancel` until the connection closes. One poll loop over the socket, the
// signalfd (children to reap, termination requests) and the running step's descriptors.
#include <deque>
#include <memory>

#include "agent/connection.hpp"
#include "agent/step_runner.hpp"
#include "agent/unique_fd.hpp"

namespace berth::agent {

class Session {
 public:
  // `secret` is what the agent proves to the supervisor's challenge (messages/agent_auth.hpp).
  Session(StepConfig cfg, UniqueFd sigfd, std::string secret)
      : cfg_(std::move(cfg)), sigfd_(std::move(sigfd)), secret_(std::move(secret)) {}

  // Serves until the supervisor goes away; returns the agent's exit code.
  int run(UniqueFd listener);

 private:
  std::optional<Connection> accept_supervisor(UniqueFd listener);
  // Reaps children and handles termination requests; false when the agent should stop.
  bool handle_signals();
  // Reads and dispatches what the supervisor sent; false when the connection is over.
  bool handle_socket(short revents);
  void dispatch(messages::AgentMessage msg);
  void start_step(messages::ExecStep exec);
  void end_step_if_done();
  void stop_everything();
  void answer_challenge(const messages::Challenge& c);

  StepConfig cfg_;
  UniqueFd sigfd_;
  std::string secret_;
  bool challenged_ = false;
  std::optional<Connection> conn_;
  std::unique_ptr<StepRunner> step_;
  std::deque<messages::ExecStep> queued_;  // execs that arrived while a step ran
  int steps_started_ = 0;
};

}  // namespace berth::agent

#pragma once
// The once-only lifecycle every runtime's Machine shares: start() runs the runtime's launch
// steps exactly once (machines are never reused), times them and logs the result, and tears down
// whatever a failed launch had already made; stop() releases everything exactly once, and only
// what a start() made.
#include <expected>
#include <string>
#include <string_view>

#include "vmm/machine.hpp"

namespace berth::vmm {

class LaunchedMachine : public Machine {
 public:
  std::expected<void, std::string> start() final;
  void stop() final;

 protected:
  enum class State { fresh, started, stopped };

  // `job_id` starts every log line; `noun` names the machine in them ("microVM", "jail").
  LaunchedMachine(std::string job_id, std::string_view noun)
      : job_id_(std::move(job_id)), noun_(noun) {}
  // A derived destructor must call stop() itself: by the time ours runs, teardown() is gone.
  ~LaunchedMachine() override = default;

  State state() const { return state_; }

  // Creates the machine's host resources and starts it; on failure "step: why", and stop()
  // follows at once, so each step only has to record what it made.
  virtual std::expected<void, std::string> launch_steps() = 0;
  // What the "up in N ms" log line says after the time: pids, NIC, addresses.
  virtual std::string launch_summary() const = 0;
  // Releases everything launch_steps() made (called once, also after a failed launch).
  virtual void teardown() = 0;

 private:
  std::string job_id_;
  std::string_view noun_;
  State state_ = State::fresh;
};

}  // namespace berth::vmm

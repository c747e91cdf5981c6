#pragma once
// Folds the agent's step outcomes and output chunks into the job's Result (docs/api.md,
// "Verdicts"): a failed compile step ends the job as compile_error with the compiler's output,
// the run step's outcome is the job's.
#include <string>

#include "messages/agent_protocol.hpp"
#include "messages/result.hpp"

namespace berth::actors {

class JobResult {
 public:
  explicit JobResult(uint64_t output_cap) : cap_(output_cap) {}

  void output(const messages::OutputChunk& chunk);
  // Returns whether the next step should run.
  bool step_exit(const messages::StepExit& exit);
  // An ending the agent did not report: cancelled, a limit the supervisor enforced, a failure.
  void end(messages::Verdict verdict, std::string message);
  bool ended() const { return ended_; }
  const messages::Result& result() const { return result_; }

 private:
  static void append_capped(std::string& to, const std::string& data, uint64_t cap,
                            bool& truncated);
  uint64_t cap_;
  bool ended_ = false;
  messages::Result result_;
};

}  // namespace berth::actors

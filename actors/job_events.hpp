#pragma once
// Publishes a job's progress on berth.events.<id> (core NATS; the record stays the truth).
//
// Output events are capped like the result (JobResult): at most `output_cap` bytes per step
// kind (compile, run) and stream, the same budget the agent keeps — so an honest agent's
// output is never cut here, while a broken or hostile one cannot make the worker publish more
// than the job's limit. The event that reaches the cap carries `truncated`; past it nothing
// more of that stream is published.
#include <array>
#include <cstdint>
#include <expected>
#include <functional>
#include <string>
#include <string_view>

#include "messages/agent_protocol.hpp"
#include "messages/job_record.hpp"
#include "messages/nats/connection.hpp"

namespace berth::actors {

class JobEvents {
 public:
  using Publish = std::function<std::expected<void, std::string>(std::string_view subject,
                                                                 std::string_view body)>;
  JobEvents(Publish publish, std::string job_id, uint64_t output_cap);
  JobEvents(nats::Connection& conn, std::string job_id, uint64_t output_cap);
  void state(messages::JobState s);
  void output(const messages::OutputChunk& chunk);

 private:
  void publish(messages::JobEvent& e);
  Publish publish_;
  std::string id_;
  uint64_t cap_;
  uint64_t seq_ = 0;
  struct Budget {
    uint64_t published = 0;
    bool truncated = false;
  };
  // [compile, run] x [stdout, stderr]: the agent names the step, so anything but "compile" is
  // counted as run, as JobResult does — a made-up step name gets no budget of its own.
  std::array<Budget, 4> budgets_{};
};

}  // namespace berth::actors

#pragma once
// The supervisor's side of the agent session's opening (messages/agent_auth.hpp): the agent's
// hello, then a challenge that only the holder of the machine's secret can answer. Whatever
// fails here is a machine failure; the job is retried on a fresh machine and nothing of it has
// been sent.
#include <chrono>
#include <expected>
#include <string>

#include <caf/all.hpp>

#include "actors/agent_link.hpp"

namespace berth::actors {

// Waits for the hello (its protocol must be ours), sends a fresh challenge and checks the proof
// against `secret`. `self` owns the link's reader (start_reader), so frames arrive as
// (frame_atom, body) and the end of the stream as (closed_atom, why). `timeout` bounds each wait.
std::expected<void, std::string> open_agent_session(caf::blocking_actor* self, AgentLink& link,
                                                    const std::string& secret,
                                                    const std::string& address,
                                                    std::chrono::milliseconds timeout);

}  // namespace berth::actors

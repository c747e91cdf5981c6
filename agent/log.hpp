#pragma once
// The agent's log: one line per event on stderr, prefixed "berth-agent:". The launcher (bwrap's
// stderr, or the serial console of a microVM) captures it for the machine's console tail. No
// spdlog here: the agent is a small static binary and needs nothing but a line writer.
#include <string>
#include <string_view>

namespace berth::agent {

void log(std::string_view line);

// "what: <strerror(errno)>" — the error text every failed syscall is reported with.
std::string errno_text(std::string_view what);
std::string errno_text(std::string_view what, int err);

}  // namespace berth::agent

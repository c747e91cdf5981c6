#pragma once
// The capabilities the agent keeps inside the jail (it runs as uid 0 without a user namespace,
// so these are real capabilities over the jail's own namespaces and cgroups).
//
// Measured with bwrap 0.8.0 as root: without --cap-drop ALL the sandbox keeps every capability
// (--cap-add alone changes nothing), and if one --cap-add names a capability this process does
// not hold (this host's bounding set lacks CAP_SYS_RESOURCE), bwrap's capset() fails with EPERM
// and it silently continues with ALL capabilities. So we ask only for what we hold, and
// start() checks the agent's effective set afterwards.
#include <cstdint>
#include <expected>
#include <string>
#include <vector>

namespace berth::vmm::jail {

struct CapPlan {
  std::vector<std::string> add;          // names for --cap-add, in the order of the wanted list
  std::vector<std::string> unavailable;  // wanted but not held by this process: logged
  uint64_t mask = 0;                     // the effective set the agent must end up with
};

// What the agent needs: NET_ADMIN (eth0), SETUID/SETGID/SETPCAP (drop the job to an
// unprivileged uid with an empty bounding set), KILL (the job's process group),
// SYS_RESOURCE (raise rlimits for steps), DAC_OVERRIDE/CHOWN/FOWNER (prepare /work for the job).
const std::vector<std::string>& agent_capabilities();

// agent_capabilities() narrowed to those in `held` (a CapPrm/CapBnd style bit mask).
CapPlan plan_capabilities(uint64_t held);

// This process's permitted set intersected with its bounding set, from /proc/self/status.
std::expected<uint64_t, std::string> held_capabilities();

// The CapEff line of /proc/<pid>/status.
std::expected<uint64_t, std::string> effective_capabilities(pid_t pid);

}  // namespace berth::vmm::jail

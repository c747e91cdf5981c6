#pragma once
// What a MachineConfig must satisfy before the jail touches the host: every name that becomes
// a path, an interface or a kernel limit is checked here, once, with the reason.
#include <cstdint>
#include <expected>
#include <string>

#include "vmm/machine.hpp"

namespace berth::vmm::jail {

// Headroom the jail's own processes (bwrap, the agent) get on top of the job's limits.
inline constexpr uint64_t kAgentMemoryHeadroomMib = 64;
inline constexpr uint64_t kAgentProcessHeadroom = 16;

// Job ids become cgroup directory names: 1..128 of [A-Za-z0-9._-], not "." or "..".
std::expected<void, std::string> check_job_id(const std::string& job_id);

// The whole configuration: job id, rootfs (a directory), agent (an executable regular file),
// run_dir (a non-root path), addresses (guest and gateway in one network, distinct), limits.
std::expected<void, std::string> check_config(const MachineConfig& cfg);

}  // namespace berth::vmm::jail

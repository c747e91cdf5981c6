#pragma once
// Small reads of /proc/<pid> that the jail uses to follow bwrap's child, which is not our child
// (bwrap forks it) and so cannot be waited for.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace berth::vmm::jail {

// argv[0] of `pid`, or nothing when it is gone, a zombie, or unreadable.
std::optional<std::string> proc_argv0(pid_t pid);

// The start time of `pid` (clock ticks since boot, /proc/<pid>/stat field 22), or nothing when
// it is gone. A pid plus its start time names one process even after the pid is reused.
std::optional<uint64_t> proc_start_time(pid_t pid);

// Whether `pid` exists and is not a zombie.
bool proc_alive(pid_t pid);

}  // namespace berth::vmm::jail

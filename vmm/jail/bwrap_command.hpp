#pragma once
// The bubblewrap command line of a jail, as pure data: what start() executes, and what the
// tests read.
//
// The root is not `--ro-bind <rootfs> /`: bwrap applies its operations in order and a
// read-only root refuses every mount point created after it ("Can't mkdir /.berth: Read-only
// file system", measured with 0.8.0), and the rootfs cannot be changed. Instead the root stays
// bwrap's own tmpfs: each top-level entry of the rootfs is bound read-only (a symlink is
// recreated), our mounts get their mount points there, and `--remount-ro /` seals the root
// last. `--remount-ro` does not recurse, so /tmp, /work and the cgroup binds stay writable.
// The rootfs's own proc, dev, sys, tmp, work and .berth are not bound: the jail gets fresh
// ones, and no sysfs at all apart from its own cgroups.
#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <vector>

#include "vmm/jail/cgroups.hpp"
#include "vmm/machine.hpp"

namespace berth::vmm::jail {

inline constexpr const char* kAgentPathInJail = "/.berth/agent";

struct BwrapPlan {
  std::filesystem::path rootfs;
  std::filesystem::path agent;  // host path of the agent binary
  uint64_t work_dir_bytes = 0;
  std::vector<CgroupDir> cgroups;       // bound read-write at /sys/fs/cgroup/<controller>
  std::vector<std::string> caps;        // --cap-add, after --cap-drop ALL
  int seccomp_fd = -1;                  // --seccomp
  int info_fd = -1;                     // --info-fd
  std::vector<std::string> agent_args;  // argv after the agent's path
};

// The agent's arguments (without argv[0]) for `cfg`, naming only the cgroups the jail has and the
// agent manages; `secret_fd` (an inherited descriptor holding the machine's secret as hex), if
// not -1.
std::vector<std::string> agent_arguments(const MachineConfig& cfg,
                                         const std::vector<CgroupDir>& cgroups, int secret_fd = -1);

// bwrap's argv (argv[0] = "bwrap"), ending in "--", the agent's path and agent_args. Fails when
// the rootfs cannot be listed.
std::expected<std::vector<std::string>, std::string> bwrap_command(const BwrapPlan& plan);

}  // namespace berth::vmm::jail

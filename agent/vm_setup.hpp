#pragma once
// The agent as PID 1 of a microVM (DESIGN.md §3, kvm runtime). In the jail bubblewrap and the
// worker provide /proc, /dev, /tmp, a /work tmpfs and the job's cgroups; in a microVM nobody
// does, so the agent mounts them itself before it listens, and ends the machine by rebooting
// (the guest kernel runs with reboot=k: the i8042 reset ends the VM as guest_reset) instead of
// returning, which would panic the kernel ("Attempted to kill init").
#include <sys/mount.h>

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace berth::agent {

// PID 1 started by the kernel (no arguments) with berth.ip= on its command line.
bool is_vm_init(bool pid1, bool no_args, std::string_view kernel_cmdline);

struct MountSpec {
  std::string source;
  std::string target;
  std::string fstype;
  unsigned long flags = 0;
  std::string data;
};

// The cgroup v1 controllers the agent's step cgroups use, in mount order.
inline constexpr const char* kVmCgroupControllers[] = {"memory", "pids", "cpuacct"};
// The per-machine directory under each controller the steps' cgroups go in.
inline constexpr const char* kVmJobCgroup = "job";

// What the agent mounts, in order: /sys, /dev, /tmp, `work` (a tmpfs of `work_bytes`),
// a tmpfs on /sys/fs/cgroup and one cgroup v1 hierarchy per controller under it.
std::vector<MountSpec> vm_mounts(const std::string& work, uint64_t work_bytes);

struct VmCgroups {
  std::string memory, pids, cpuacct;  // the job directory under each hierarchy; empty: none
};

// Mounts vm_mounts() (a failing cgroup hierarchy is logged and skipped: steps then run without
// that controller; any other failure is an error), points stdout/stderr at /dev/console and
// makes the job cgroup directories.
std::expected<VmCgroups, std::string> setup_vm(const std::string& work, uint64_t work_bytes);

// The kernel command line carries the machine's secret (berth.secret=): once the agent has read
// it, /proc/cmdline shows the job an empty file and dmesg (which logs the command line at boot)
// is kept from unprivileged users. Failures are logged; the secret is this machine's only.
void hide_kernel_cmdline();

// Syncs and reboots the machine; never returns (falls back to _exit if reboot fails).
[[noreturn]] void vm_reboot(int status);

}  // namespace berth::agent

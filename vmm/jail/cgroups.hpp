#pragma once
// A job's cgroups on this host's cgroup v1 hierarchies (DESIGN.md §5: memory, pids and cpuacct
// are separate mounts under /sys/fs/cgroup/<controller>). The jail's processes live in
// <root>/<controller>/berth/<job_id>; the agent makes per-step child cgroups inside.
#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace berth::vmm::jail {

struct CgroupLimits {
  uint64_t memory_bytes = 0;  // memory.limit_in_bytes (and memsw, where swap is accounted)
  uint64_t pids_max = 0;      // pids.max
  uint32_t cpu_percent = 0;   // cpu.cfs_quota_us over cpu.cfs_period_us; 0: no quota
};

struct CgroupDir {
  std::string controller;  // "memory", "pids", "cpuacct"
  std::filesystem::path path;
};

// The controllers a jail gets, the agent's first, in the order of its --cgroup-* flags. The cpu
// controller only bounds the whole jail's CPU bandwidth: the agent neither sees nor manages it.
inline constexpr const char* kJailControllers[] = {"memory", "pids", "cpuacct", "cpu"};

// Whether the agent gets the controller bound into the jail and makes per-step groups in it.
inline bool agent_manages(std::string_view controller) {
  return controller != "cpu";
}

// Creates the job's directory under each mounted controller and writes the limits. A controller
// that is not mounted is skipped (and logged); leftovers of an earlier run with the same id
// (a crashed worker) are removed first. On failure, whatever was created is removed again.
std::expected<std::vector<CgroupDir>, std::string> create_job_cgroups(
    const std::string& job_id, const CgroupLimits& limits,
    const std::filesystem::path& root = "/sys/fs/cgroup");

// Kills every task in `dir` and its descendants, then removes the descendants and `dir`,
// retrying until `budget` runs out (a killed task leaves its cgroup a moment after the signal).
// A directory that does not exist is fine.
std::expected<void, std::string> remove_cgroup_tree(const std::filesystem::path& dir,
                                                    std::chrono::milliseconds budget);

// The pids listed in <dir>/cgroup.procs of `dir` and of every descendant.
std::vector<pid_t> cgroup_tree_pids(const std::filesystem::path& dir);

}  // namespace berth::vmm::jail

#pragma once
// A step's own cgroups (v1): DIR/step-N under each controller directory the launcher gave
// (memory, pids, cpuacct). They limit the step as a whole rather than per process, let the
// agent find and kill every process of the step, and measure its cpu time and peak memory.
#include <sys/types.h>

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "messages/limits.hpp"

namespace berth::agent {

struct CgroupParents {
  std::string memory;  // empty: controller not available
  std::string pids;
  std::string cpuacct;
};

class StepCgroups {
 public:
  StepCgroups() = default;
  StepCgroups(StepCgroups&& o) noexcept;
  StepCgroups& operator=(StepCgroups&& o) noexcept;
  StepCgroups(const StepCgroups&) = delete;
  StepCgroups& operator=(const StepCgroups&) = delete;
  ~StepCgroups();

  // Makes step-<index> in every given parent and sets memory.limit_in_bytes (and
  // memory.memsw.limit_in_bytes where swap accounting exists) and pids.max from `limits`.
  static std::expected<StepCgroups, std::string> create(const CgroupParents& parents, int index,
                                                        const messages::Limits& limits);

  bool has_memory() const { return !memory_.empty(); }
  bool has_pids() const { return !pids_.empty(); }
  bool has_cpuacct() const { return !cpuacct_.empty(); }

  // Moves the calling process into every step cgroup; run by the step's child before exec.
  std::expected<void, std::string> enter_self() const;

  // SIGKILLs every process in the step cgroups, round after round until none is left (a fork
  // bomb keeps forking while it is being killed) or the rounds run out. Returns how many are
  // left.
  size_t kill_all() const;

  std::optional<uint64_t> cpu_ns() const;             // cpuacct.usage
  std::optional<uint64_t> peak_memory_bytes() const;  // memory.max_usage_in_bytes
  uint64_t oom_kills() const;                         // "oom_kill N" of memory.oom_control
  uint64_t memory_failcnt() const;                    // memory.failcnt

  // Kills what is left and removes the directories, retrying briefly while tasks drain.
  void remove();

 private:
  std::vector<pid_t> tasks() const;
  std::vector<std::string*> dirs();

  std::string memory_;
  std::string pids_;
  std::string cpuacct_;
};

// Small file helpers for cgroupfs and procfs.
std::expected<std::string, std::string> read_small_file(const std::string& path);
std::expected<void, std::string> write_small_file(const std::string& path, std::string_view data);

}  // namespace berth::agent

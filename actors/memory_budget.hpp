#pragma once
// Admission by memory as well as by slots: every running machine reserves what it may use on the
// host (the job's limit plus its runtime's overhead), and the scheduler starts a job only when
// its reservation fits in the worker's budget (`memory_mib`). A job that can never fit is refused
// with the reason; one that does not fit yet waits, claimed, until another machine ends.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace berth::actors {

// Host memory a machine for a job of `job_mib` may take: jail — the job's cgroup plus the
// agent's headroom (vmm/jail/jail_config.hpp); kvm — guest RAM (the job's memory, the guest
// kernel's 96 MiB, the initramfs packed and unpacked, estimated at 256 MiB) plus the monitor's
// own 64 MiB (vmm/kvm/kvm_machine.cpp).
constexpr uint64_t machine_memory_mib(uint64_t job_mib, std::string_view runtime) {
  return runtime == "kvm" ? job_mib + 96 + 256 + 64 : job_mib + 64;
}

class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t total_mib) : total_(total_mib) {}
  uint64_t total() const { return total_; }
  uint64_t reserved() const { return reserved_; }
  bool fits(uint64_t mib) const { return reserved_ + mib <= total_; }
  void reserve(const std::string& id, uint64_t mib) {
    release(id);
    by_job_[id] = mib;
    reserved_ += mib;
  }
  void release(const std::string& id) {
    if (auto it = by_job_.find(id); it != by_job_.end()) {
      reserved_ -= it->second;
      by_job_.erase(it);
    }
  }

 private:
  uint64_t total_;
  uint64_t reserved_ = 0;
  std::map<std::string, uint64_t> by_job_;
};

// Three quarters of the host's MemTotal (/proc/meminfo), for a memory_mib of 0; 1024 when it
// cannot be read.
uint64_t default_memory_budget_mib();

}  // namespace berth::actors

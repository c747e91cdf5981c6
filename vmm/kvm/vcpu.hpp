#pragma once
// One vCPU: its fd, its shared kvm_run page, and the register state it starts in.
//
// configure() gives every vCPU its CPUID (cpuid.cpp), the boot MSRs, a clean FPU and the LAPIC's
// LINT0/LINT1 wiring; only the bootstrap vCPU (index 0) gets long-mode registers and the entry
// point — application processors wait for the guest's INIT/SIPI in the in-kernel LAPIC, as on
// hardware.
#include <linux/kvm.h>

#include <cstdint>
#include <expected>
#include <memory>
#include <string>

#include "vmm/kvm/kvm_system.hpp"
#include "vmm/kvm/unique_fd.hpp"

namespace berth::vmm::kvm {

struct BootSetup;

class Vcpu {
 public:
  static std::expected<std::unique_ptr<Vcpu>, std::string> create(const KvmSystem& kvm, int vm_fd,
                                                                  uint32_t index);
  ~Vcpu();
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;

  // `boot` is used by vCPU 0 only.
  std::expected<void, std::string> configure(const KvmSystem& kvm, uint32_t count,
                                             const BootSetup& boot);

  int fd() const { return fd_.get(); }
  kvm_run* run() const { return run_; }
  uint32_t index() const { return index_; }

 private:
  Vcpu() = default;
  std::expected<void, std::string> set_cpuid(const KvmSystem& kvm, uint32_t count);
  std::expected<void, std::string> set_msrs();
  std::expected<void, std::string> set_fpu();
  std::expected<void, std::string> set_lapic();
  std::expected<void, std::string> set_boot_registers(const BootSetup& boot);

  UniqueFd fd_;
  kvm_run* run_ = nullptr;
  size_t run_size_ = 0;
  uint32_t index_ = 0;
};

// The signal that kicks a vCPU thread out of KVM_RUN (SIGRTMIN + 4): installed once per process
// with an empty handler and without SA_RESTART, so KVM_RUN returns EINTR.
int vcpu_kick_signal();
void install_vcpu_kick_handler();

}  // namespace berth::vmm::kvm

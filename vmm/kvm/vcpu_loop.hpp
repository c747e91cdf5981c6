#pragma once
// The vCPU thread's body: KVM_RUN until the guest or the monitor ends it, dispatching each exit.
// A state machine over kvm_run::exit_reason (Firecracker's vcpu.rs shape): I/O and MMIO exits go
// to the buses and the loop goes on; everything else ends the loop with a reason. An exit reason
// we do not know is an error, never ignored.
#include <atomic>
#include <string>

#include "vmm/kvm/io_bus.hpp"
#include "vmm/kvm/vcpu.hpp"
#include "vmm/kvm/vm_config.hpp"

namespace berth::vmm::kvm {

struct VcpuEnd {
  ExitReason reason;
  std::string message;
};

// Returns when the guest resets/shuts down/fails, or `stop` became true (reason `stopped`;
// the Vm already holds the real reason then). A stop is noticed at once: the caller sets
// kvm_run::immediate_exit and sends vcpu_kick_signal() to the thread.
VcpuEnd run_vcpu_loop(Vcpu& vcpu, IoBus& pio, IoBus& mmio, const std::atomic<bool>& stop);

}  // namespace berth::vmm::kvm

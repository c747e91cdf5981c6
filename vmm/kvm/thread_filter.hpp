#pragma once
// Seccomp allowlists for the monitor's own threads, as Firecracker has for its vCPU and VMM
// threads. The monitor runs inside the worker process, so each filter is loaded for the calling
// thread only (no SECCOMP_FILTER_FLAG_TSYNC): the worker's other threads — actors, the jail
// runtime that starts bwrap, other VMs' setup — stay unfiltered.
//
// A call not on the list fails with EPERM instead of killing: one worker process runs many VMs,
// and SECCOMP_RET_KILL_* would end all their jobs (or leave the process with a dead thread). The
// monitor's code already turns a failed call into an error (KVM_RUN's EPERM ends the VM as
// `error`). Denials are also reported to the kernel's audit log (SECCOMP_FILTER_FLAG_LOG) where
// the kernel supports it: `dmesg | grep type=1326` names the call.
//
// What the lists hold and why: thread_filter.cpp; the guarantee: docs/vmm.md ("Threat model").
#include <expected>
#include <string>

namespace berth::vmm::kvm {

// For a vCPU thread, after the vCPU is configured (on the thread that called Vm::start()): the
// common list plus ioctl(vcpu_fd, KVM_RUN) and nothing else through ioctl.
std::expected<void, std::string> install_vcpu_thread_filter(int vcpu_fd);

// For the event-loop thread: the common list, no ioctl at all.
std::expected<void, std::string> install_event_loop_thread_filter();

}  // namespace berth::vmm::kvm

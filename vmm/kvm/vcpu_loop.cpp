#include "vmm/kvm/vcpu_loop.hpp"

#include <spdlog/spdlog.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <span>

namespace berth::vmm::kvm {

namespace {

std::string describe_internal_error(const kvm_run& run) {
  std::string s = fmt::format("KVM internal error, suberror {}", run.internal.suberror);
  const char* what = "";
  switch (run.internal.suberror) {
    case KVM_INTERNAL_ERROR_EMULATION:
      what = " (instruction emulation failed)";
      break;
    case KVM_INTERNAL_ERROR_SIMUL_EX:
      what = " (exception while delivering an exception)";
      break;
    case KVM_INTERNAL_ERROR_DELIVERY_EV:
      what = " (event delivery failed)";
      break;
  }
  s += what;
  uint32_t n = run.internal.ndata < 16 ? run.internal.ndata : 16;
  for (uint32_t i = 0; i < n; ++i) s += fmt::format(" {:#x}", run.internal.data[i]);
  return s;
}

}  // namespace

VcpuEnd run_vcpu_loop(Vcpu& vcpu, IoBus& pio, IoBus& mmio, const std::atomic<bool>& stop) {
  kvm_run& run = *vcpu.run();
  while (!stop.load(std::memory_order_acquire)) {
    if (ioctl(vcpu.fd(), KVM_RUN, 0) < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;  // kicked: the loop condition decides
      return {ExitReason::error,
              fmt::format("vCPU {}: KVM_RUN: {}", vcpu.index(), std::strerror(errno))};
    }
    switch (run.exit_reason) {
      case KVM_EXIT_IO: {
        // A string instruction (rep outsb ...) exits once with `count` items of `size` bytes.
        auto* base = reinterpret_cast<uint8_t*>(&run) + run.io.data_offset;
        for (uint32_t i = 0; i < run.io.count; ++i) {
          std::span<uint8_t> item(base + i * run.io.size, run.io.size);
          if (run.io.direction == KVM_EXIT_IO_OUT)
            pio.write(run.io.port, item);
          else
            pio.read(run.io.port, item);
        }
        break;
      }
      case KVM_EXIT_MMIO: {
        uint32_t len = run.mmio.len <= 8 ? run.mmio.len : 8;
        std::span<uint8_t> data(run.mmio.data, len);
        if (run.mmio.is_write)
          mmio.write(run.mmio.phys_addr, data);
        else
          mmio.read(run.mmio.phys_addr, data);
        break;
      }
      case KVM_EXIT_INTR:
        break;  // a signal; the loop condition decides whether to go on
      case KVM_EXIT_HLT:
        // With the in-kernel LAPIC, HLT waits inside KVM; an exit means nothing can wake it.
        return {ExitReason::stopped, fmt::format("vCPU {} halted", vcpu.index())};
      case KVM_EXIT_SHUTDOWN:
        return {ExitReason::guest_shutdown,
                fmt::format("vCPU {}: guest shutdown (triple fault)", vcpu.index())};
      case KVM_EXIT_FAIL_ENTRY:
        return {ExitReason::error,
                fmt::format("vCPU {}: KVM_EXIT_FAIL_ENTRY, hardware reason {:#x} on cpu {}",
                            vcpu.index(), run.fail_entry.hardware_entry_failure_reason,
                            run.fail_entry.cpu)};
      case KVM_EXIT_INTERNAL_ERROR:
        return {ExitReason::error,
                fmt::format("vCPU {}: {}", vcpu.index(), describe_internal_error(run))};
      case KVM_EXIT_SYSTEM_EVENT:
        switch (run.system_event.type) {
          case KVM_SYSTEM_EVENT_RESET:
            return {ExitReason::guest_reset, "guest reset (system event)"};
          case KVM_SYSTEM_EVENT_SHUTDOWN:
            return {ExitReason::guest_reset, "guest powered off (system event)"};
          default:
            return {ExitReason::error,
                    fmt::format("vCPU {}: system event {}", vcpu.index(), run.system_event.type)};
        }
      default:
        return {ExitReason::error, fmt::format("vCPU {}: unexpected KVM exit reason {}",
                                               vcpu.index(), run.exit_reason)};
    }
  }
  return {ExitReason::stopped, "stopped"};
}

}  // namespace berth::vmm::kvm

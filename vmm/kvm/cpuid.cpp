#include "vmm/kvm/cpuid.hpp"

namespace berth::vmm::kvm {

namespace {

constexpr uint32_t kLeaf1EcxHypervisor = 1u << 31;  // "running under a hypervisor"
constexpr uint32_t kLeaf1EcxTscDeadline = 1u << 24;
constexpr uint32_t kLeaf1EdxHtt = 1u << 28;  // EBX[23:16] is valid

// Bits needed to number `count` things (ceil(log2(count))).
uint32_t width(uint32_t count) {
  uint32_t w = 0;
  while ((1u << w) < count) ++w;
  return w;
}

}  // namespace

void adjust_cpuid(std::vector<kvm_cpuid_entry2>& entries, uint32_t index, uint32_t count) {
  if (count == 0) count = 1;
  const uint32_t apic_id = index;
  for (auto& e : entries) {
    switch (e.function) {
      case 0x1:
        // EBX: [31:24] initial APIC id, [23:16] logical processors per package, [15:8] CLFLUSH
        // line size in 8-byte units (64 bytes).
        e.ebx = (apic_id << 24) | ((count & 0xff) << 16) | (8u << 8) | (e.ebx & 0xff);
        e.ecx |= kLeaf1EcxHypervisor;
        // KVM emulates the TSC-deadline timer with the in-kernel LAPIC even where the host
        // reports it off; advertise it (KVM_CAP_TSC_DEADLINE_TIMER on any host that has one).
        e.ecx |= kLeaf1EcxTscDeadline;
        if (count > 1)
          e.edx |= kLeaf1EdxHtt;
        else
          e.edx &= ~kLeaf1EdxHtt;
        break;
      case 0x4:
        // Deterministic cache parameters: EAX[31:26] = cores per package - 1. One core per vCPU,
        // one thread per core; caches shared by the whole package.
        e.eax &= 0x3ff;
        e.eax |= ((count - 1) & 0x3f) << 26;
        if (((e.eax >> 5) & 0x7) >= 2)  // L2 and beyond are shared by every vCPU
          e.eax |= ((count - 1) & 0xfff) << 14;
        break;
      case 0x6:
        // Thermal and power management: nothing a guest can use.
        e.eax = e.ebx = e.ecx = e.edx = 0;
        break;
      case 0xa:
        // Architectural PMU: we set up no PMU; a guest probing perf counters would get #GP.
        e.eax = e.ebx = e.ecx = e.edx = 0;
        break;
      case 0xb:
      case 0x1f:
        // Extended topology. Subleaf 0: SMT level, one thread per core. Subleaf 1: core level,
        // `count` cores. EDX: this vCPU's x2APIC id.
        e.edx = apic_id;
        if (e.index == 0) {
          e.eax = 0;
          e.ebx = 1;
          e.ecx = (1u << 8) | 0;
        } else if (e.index == 1) {
          e.eax = width(count);
          e.ebx = count;
          e.ecx = (2u << 8) | 1;
        } else {
          e.eax = e.ebx = 0;
          e.ecx = e.index & 0xff;  // level type 0: invalid, ends the enumeration
        }
        break;
      case 0x80000008:
        // AMD: ECX[7:0] = threads in package - 1, ECX[15:12] = APIC id width.
        e.ecx = (e.ecx & ~0xf0ffu) | ((count - 1) & 0xff) | (width(count) << 12);
        break;
      default:
        break;
    }
  }
}

}  // namespace berth::vmm::kvm

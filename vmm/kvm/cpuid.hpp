#pragma once
// The CPUID a vCPU reports: what KVM_GET_SUPPORTED_CPUID says the host and KVM can give,
// adjusted so the guest sees a consistent virtual machine — its own APIC id, the vCPU count in
// the topology leaves, the hypervisor bit — and not host features it cannot use here (PMU,
// thermal and power management).
#include <linux/kvm.h>

#include <cstdint>
#include <vector>

namespace berth::vmm::kvm {

// Rewrites `entries` (from KVM_GET_SUPPORTED_CPUID) for vCPU `index` of `count`.
void adjust_cpuid(std::vector<kvm_cpuid_entry2>& entries, uint32_t index, uint32_t count);

}  // namespace berth::vmm::kvm

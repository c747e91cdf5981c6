#pragma once
// The Intel MultiProcessor Specification 1.4 table Linux reads to find the vCPUs, the IOAPIC and
// how ISA interrupts reach it (arch/x86/kernel/mpparse.c). We have no ACPI; this table is how a
// guest with more than one vCPU learns about the others, and how any guest learns that the
// in-kernel IOAPIC exists (without it Linux falls back to the 8259 PIC).
//
// Placed at layout::kMpTable, the last KiB of base memory, one of the places Linux scans.
#include <cstdint>
#include <expected>
#include <string>

#include "vmm/kvm/guest_memory.hpp"

namespace berth::vmm::kvm {

// The most vCPUs whose processor entries fit in the KiB we give the table.
inline constexpr uint32_t kMpTableMaxCpus = 32;

std::expected<void, std::string> write_mptable(const GuestMemory& mem, uint32_t num_cpus);

}  // namespace berth::vmm::kvm

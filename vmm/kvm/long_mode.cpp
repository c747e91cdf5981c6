#include "vmm/kvm/long_mode.hpp"

#include "vmm/kvm/memory_map.hpp"

namespace berth::vmm::kvm {

namespace {

constexpr uint64_t kCr0Pe = 1ull << 0;
constexpr uint64_t kCr0Et = 1ull << 4;
constexpr uint64_t kCr0Ne = 1ull << 5;
constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kEferLme = 1ull << 8;
constexpr uint64_t kEferLma = 1ull << 10;

constexpr uint64_t kPtePresent = 1ull << 0;
constexpr uint64_t kPteWrite = 1ull << 1;
constexpr uint64_t kPteHuge = 1ull << 7;

// Flags words (access byte | granularity nibble << 12), as in Intel SDM vol. 3 §3.4.5.
constexpr uint16_t kCode64 = 0xa09b;  // G, L; present, DPL0, code, execute/read, accessed
constexpr uint16_t kData = 0xc093;    // G, D/B; present, DPL0, data, read/write, accessed
constexpr uint16_t kTss64 = 0x808b;   // G; present, 64-bit TSS (busy)

kvm_segment segment_from(uint64_t entry, uint16_t selector) {
  kvm_segment s{};
  s.base = ((entry >> 16) & 0xffffff) | (((entry >> 56) & 0xff) << 24);
  uint32_t limit = static_cast<uint32_t>((entry & 0xffff) | (((entry >> 48) & 0xf) << 16));
  s.g = (entry >> 55) & 1;
  // With G set the limit counts 4 KiB pages; KVM wants it in bytes.
  s.limit = s.g ? (limit << 12) | 0xfff : limit;
  s.selector = selector;
  s.type = (entry >> 40) & 0xf;
  s.present = (entry >> 47) & 1;
  s.dpl = (entry >> 45) & 3;
  s.db = (entry >> 54) & 1;
  s.s = (entry >> 44) & 1;
  s.l = (entry >> 53) & 1;
  s.avl = (entry >> 52) & 1;
  s.unusable = s.present ? 0 : 1;
  return s;
}

const uint64_t kGdtTable[] = {
    0,
    0,
    gdt_entry(kCode64, 0, 0xfffff),  // 0x10 __BOOT_CS
    gdt_entry(kData, 0, 0xfffff),    // 0x18 __BOOT_DS
    gdt_entry(kTss64, 0, 0xfffff),   // 0x20 TR: VMX entry needs a usable busy TSS
};

}  // namespace

uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit) {
  return ((uint64_t{base} & 0xff000000) << (56 - 24)) | ((uint64_t{flags} & 0xf0ff) << 40) |
         ((uint64_t{limit} & 0xf0000) << (48 - 16)) | ((uint64_t{base} & 0x00ffffff) << 16) |
         (uint64_t{limit} & 0xffff);
}

std::expected<void, std::string> write_boot_gdt(const GuestMemory& mem) {
  for (size_t i = 0; i < std::size(kGdtTable); ++i)
    if (!mem.write_obj(layout::kGdt + i * 8, kGdtTable[i]))
      return std::unexpected("guest memory too small for the boot GDT");
  // An empty IDT: the kernel installs its own before enabling interrupts.
  if (!mem.write_obj(layout::kIdt, uint64_t{0}))
    return std::unexpected("guest memory too small for the boot IDT");
  return {};
}

std::expected<void, std::string> write_identity_page_tables(const GuestMemory& mem) {
  if (!mem.write_obj(layout::kPml4, layout::kPdpt | kPtePresent | kPteWrite))
    return std::unexpected("guest memory too small for page tables");
  for (uint64_t g = 0; g < layout::kIdentityMappedGiB; ++g) {
    uint64_t pd = layout::kPd + g * 0x1000;
    if (!mem.write_obj(layout::kPdpt + g * 8, pd | kPtePresent | kPteWrite))
      return std::unexpected("guest memory too small for page tables");
    for (uint64_t i = 0; i < 512; ++i) {
      uint64_t phys = (g << 30) | (i << 21);
      if (!mem.write_obj(pd + i * 8, phys | kPtePresent | kPteWrite | kPteHuge))
        return std::unexpected("guest memory too small for page tables");
    }
  }
  return {};
}

void set_long_mode_sregs(kvm_sregs& s) {
  s.gdt.base = layout::kGdt;
  s.gdt.limit = sizeof kGdtTable - 1;
  s.idt.base = layout::kIdt;
  s.idt.limit = 7;
  s.cs = segment_from(kGdtTable[2], kBootCs);
  s.ds = s.es = s.fs = s.gs = s.ss = segment_from(kGdtTable[3], kBootDs);
  s.tr = segment_from(kGdtTable[4], kBootTss);
  s.cr3 = layout::kPml4;
  s.cr4 |= kCr4Pae;
  // Long mode needs PE and PG; ET and NE are what every x86-64 CPU runs with. The reset value's
  // CD/NW (caches off) are dropped.
  s.cr0 = kCr0Pe | kCr0Et | kCr0Ne | kCr0Pg;
  s.efer |= kEferLme | kEferLma;
}

}  // namespace berth::vmm::kvm

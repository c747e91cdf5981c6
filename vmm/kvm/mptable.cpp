#include "vmm/kvm/mptable.hpp"

#include <cstring>
#include <vector>

#include "vmm/kvm/memory_map.hpp"

namespace berth::vmm::kvm {

namespace {

// MP spec 1.4, §4.1 and §4.2-4.3: the structures, byte-packed.
#pragma pack(push, 1)
struct MpFloatingPointer {
  char signature[4];  // "_MP_"
  uint32_t config_table;
  uint8_t length;  // in 16-byte units: 1
  uint8_t spec_rev;
  uint8_t checksum;
  uint8_t feature[5];  // all zero: a configuration table is present
};
struct MpConfigHeader {
  char signature[4];  // "PCMP"
  uint16_t length;    // header + entries
  uint8_t spec_rev;
  uint8_t checksum;
  char oem[8];
  char product[12];
  uint32_t oem_table;
  uint16_t oem_table_size;
  uint16_t entry_count;
  uint32_t lapic_addr;
  uint16_t ext_length;
  uint8_t ext_checksum;
  uint8_t reserved;
};
struct MpProcessor {
  uint8_t type;  // 0
  uint8_t apic_id;
  uint8_t apic_version;
  uint8_t flags;  // bit 0 enabled, bit 1 bootstrap processor
  uint32_t signature;
  uint32_t features;
  uint32_t reserved[2];
};
struct MpBus {
  uint8_t type;  // 1
  uint8_t bus_id;
  char bus_type[6];
};
struct MpIoApic {
  uint8_t type;  // 2
  uint8_t apic_id;
  uint8_t apic_version;
  uint8_t flags;  // bit 0 enabled
  uint32_t addr;
};
struct MpInterrupt {
  uint8_t type;      // 3 I/O interrupt, 4 local interrupt
  uint8_t irq_type;  // 0 INT, 1 NMI, 3 ExtINT
  uint16_t flags;    // 0: polarity and trigger "conform to the bus" (ISA: high, edge)
  uint8_t src_bus;
  uint8_t src_irq;
  uint8_t dst_apic;
  uint8_t dst_pin;
};
#pragma pack(pop)

static_assert(sizeof(MpFloatingPointer) == 16);
static_assert(sizeof(MpConfigHeader) == 44);
static_assert(sizeof(MpProcessor) == 20);
static_assert(sizeof(MpBus) == 8 && sizeof(MpIoApic) == 8 && sizeof(MpInterrupt) == 8);

constexpr uint8_t kSpecRev = 4;  // MP spec 1.4
constexpr uint8_t kLapicVersion = 0x14;
constexpr uint8_t kIoApicVersion = 0x11;

uint8_t checksum(const uint8_t* p, size_t n) {
  uint8_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += p[i];
  return static_cast<uint8_t>(-sum);
}

template <class T>
void append(std::vector<uint8_t>& out, const T& v) {
  auto p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof v);
}

}  // namespace

std::expected<void, std::string> write_mptable(const GuestMemory& mem, uint32_t num_cpus) {
  if (num_cpus == 0 || num_cpus > kMpTableMaxCpus)
    return std::unexpected("the MP table describes 1 to " + std::to_string(kMpTableMaxCpus) +
                           " vCPUs, not " + std::to_string(num_cpus));
  const uint8_t ioapic_id = static_cast<uint8_t>(num_cpus);  // after the LAPIC ids 0..n-1
  std::vector<uint8_t> entries;
  uint16_t count = 0;
  for (uint32_t i = 0; i < num_cpus; ++i, ++count) {
    MpProcessor p{};
    p.type = 0;
    p.apic_id = static_cast<uint8_t>(i);
    p.apic_version = kLapicVersion;
    p.flags = 1 | (i == 0 ? 2 : 0);
    p.signature = 0x600;  // family 6; Linux only prints it
    p.features = 0x201;   // FPU, APIC
    append(entries, p);
  }
  append(entries, MpBus{1, 0, {'I', 'S', 'A', ' ', ' ', ' '}});
  ++count;
  append(entries,
         MpIoApic{2, ioapic_id, kIoApicVersion, 1, static_cast<uint32_t>(layout::kIoapic)});
  ++count;
  // Every IOAPIC pin as the ISA IRQ of the same number: that is how KVM's default GSI routing
  // wires them (GSI n -> IOAPIC pin n), so irqfd GSIs and guest IRQ numbers agree.
  for (uint8_t irq = 0; irq <= 23; ++irq, ++count)
    append(entries, MpInterrupt{3, 0, 0, 0, irq, ioapic_id, irq});
  // LINT0 of every LAPIC is the 8259's ExtINT, LINT1 is NMI (the "virtual wire" setup).
  append(entries, MpInterrupt{4, 3, 0, 0, 0, 0xff, 0});
  append(entries, MpInterrupt{4, 1, 0, 0, 0, 0xff, 1});
  count += 2;

  MpConfigHeader h{};
  std::memcpy(h.signature, "PCMP", 4);
  h.length = static_cast<uint16_t>(sizeof h + entries.size());
  h.spec_rev = kSpecRev;
  std::memcpy(h.oem, "BERTH   ", 8);
  std::memcpy(h.product, "MICROVM     ", 12);
  h.entry_count = count;
  h.lapic_addr = static_cast<uint32_t>(layout::kLapic);
  std::vector<uint8_t> table;
  append(table, h);
  table.insert(table.end(), entries.begin(), entries.end());
  table[offsetof(MpConfigHeader, checksum)] = checksum(table.data(), table.size());

  MpFloatingPointer f{};
  std::memcpy(f.signature, "_MP_", 4);
  f.config_table = static_cast<uint32_t>(layout::kMpTable + sizeof f);
  f.length = 1;
  f.spec_rev = kSpecRev;
  f.checksum = checksum(reinterpret_cast<const uint8_t*>(&f), sizeof f);

  if (sizeof f + table.size() > 0xa0000 - layout::kMpTable)
    return std::unexpected("MP table does not fit in the last KiB of base memory");
  if (!mem.write_obj(layout::kMpTable, f) || !mem.write(f.config_table, table))
    return std::unexpected("guest memory too small for the MP table (needs 640 KiB)");
  return {};
}

}  // namespace berth::vmm::kvm

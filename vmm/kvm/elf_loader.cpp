#include "vmm/kvm/elf_loader.hpp"

#include <elf.h>

#include <cstring>
#include <vector>

#include "vmm/kvm/memory_map.hpp"

namespace berth::vmm::kvm {

namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// a + b <= limit, without overflow.
bool fits(uint64_t a, uint64_t b, uint64_t limit) {
  return a <= limit && b <= limit - a;
}

}  // namespace

bool looks_like_elf(std::span<const uint8_t> image) {
  return image.size() >= SELFMAG && std::memcmp(image.data(), ELFMAG, SELFMAG) == 0;
}

std::expected<LoadedKernel, std::string> load_elf_kernel(const GuestMemory& mem,
                                                         std::span<const uint8_t> image,
                                                         uint64_t low_ram_end) {
  if (image.size() < sizeof(Elf64_Ehdr)) return std::unexpected("ELF kernel is truncated");
  Elf64_Ehdr eh;
  std::memcpy(&eh, image.data(), sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return std::unexpected("not an ELF file");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
    return std::unexpected("ELF kernel is not 64-bit little-endian");
  if (eh.e_machine != EM_X86_64) return std::unexpected("ELF kernel is not for x86-64");
  if (eh.e_type != ET_EXEC) return std::unexpected("ELF kernel is not an executable (ET_EXEC)");
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0)
    return std::unexpected("ELF kernel has no usable program headers");
  if (!fits(eh.e_phoff, uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr), image.size()))
    return std::unexpected("ELF program headers lie past the end of the file (truncated?)");

  LoadedKernel k;
  k.load_addr = UINT64_MAX;
  bool entry_loaded = false;
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    std::memcpy(&ph, image.data() + eh.e_phoff + i * sizeof(Elf64_Phdr), sizeof ph);
    if (ph.p_type != PT_LOAD) continue;
    if (!fits(ph.p_offset, ph.p_filesz, image.size()))
      return std::unexpected("ELF segment " + std::to_string(i) +
                             " lies past the end of the file (truncated?)");
    if (ph.p_memsz < ph.p_filesz)
      return std::unexpected("ELF segment " + std::to_string(i) + " has memsz < filesz");
    if (ph.p_paddr < layout::kHighMem || !fits(ph.p_paddr, ph.p_memsz, low_ram_end))
      return std::unexpected("ELF segment " + std::to_string(i) + " at " + hex(ph.p_paddr) + " (+" +
                             hex(ph.p_memsz) + ") is outside guest RAM [1 MiB, " +
                             hex(low_ram_end) + "); give the VM more memory");
    if (!mem.write(ph.p_paddr, image.subspan(ph.p_offset, ph.p_filesz)))
      return std::unexpected("ELF segment " + std::to_string(i) + " does not fit in guest memory");
    // The bss: guest RAM starts zeroed, but say so explicitly rather than rely on it.
    if (auto bss = mem.slice(ph.p_paddr + ph.p_filesz, ph.p_memsz - ph.p_filesz))
      std::memset(bss->data(), 0, bss->size());
    else
      return std::unexpected("ELF segment " + std::to_string(i) + " bss is outside guest memory");
    if (ph.p_paddr < k.load_addr) k.load_addr = ph.p_paddr;
    if (ph.p_paddr + ph.p_memsz > k.end) k.end = ph.p_paddr + ph.p_memsz;
    if (eh.e_entry >= ph.p_paddr && eh.e_entry < ph.p_paddr + ph.p_memsz) entry_loaded = true;
  }
  if (k.end == 0) return std::unexpected("ELF kernel has no PT_LOAD segment");
  if (!entry_loaded)
    return std::unexpected("ELF entry " + hex(eh.e_entry) +
                           " is not inside a loaded segment (not a physical-entry vmlinux?)");
  k.entry = eh.e_entry;
  // A setup header as a bzImage of protocol 2.15 would carry it; the kernel reads boot_flag,
  // header and the fields the loader fills.
  std::memset(&k.hdr, 0, sizeof k.hdr);
  k.hdr.boot_flag = 0xaa55;
  k.hdr.header = 0x53726448;  // "HdrS"
  k.hdr.version = 0x020f;
  k.hdr.loadflags = LOADED_HIGH;
  k.hdr.kernel_alignment = 0x1000000;
  k.hdr.initrd_addr_max = 0x7fffffff;
  k.hdr.cmdline_size = layout::kCmdlineMax - 1;
  k.initrd_addr_max = k.hdr.initrd_addr_max;
  k.cmdline_max = k.hdr.cmdline_size;
  return k;
}

}  // namespace berth::vmm::kvm

#include "vmm/kvm/bzimage.hpp"

#include <cstddef>
#include <cstring>

#include "vmm/kvm/memory_map.hpp"

namespace berth::vmm::kvm {

namespace {

constexpr uint64_t kHeaderOffset = 0x1f1;  // offsetof(boot_params, hdr)
constexpr uint32_t kHdrS = 0x53726448;     // "HdrS"
constexpr uint16_t kBootFlag = 0xaa55;
constexpr uint64_t kEntry64Offset = 0x200;  // "64-bit BOOT PROTOCOL": startup_64

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

uint64_t align_up(uint64_t v, uint64_t a) {
  return a == 0 ? v : (v + a - 1) / a * a;
}

}  // namespace

std::expected<BzImageInfo, std::string> parse_bzimage(std::span<const uint8_t> image) {
  // The header ends at 0x202 + the byte at 0x201 (the jump's offset); it must be in the file.
  if (image.size() < 0x202 + 1)
    return std::unexpected("not a bzImage: " + std::to_string(image.size()) +
                           " bytes is too short for a Linux setup header");
  BzImageInfo info;
  uint64_t hdr_end = 0x202 + image[0x201];
  uint64_t copy = sizeof(setup_header);
  if (hdr_end - kHeaderOffset < copy) copy = hdr_end - kHeaderOffset;
  if (kHeaderOffset + copy > image.size())
    return std::unexpected("not a bzImage: setup header is truncated");
  std::memcpy(&info.hdr, image.data() + kHeaderOffset, copy);
  const setup_header& h = info.hdr;

  if (h.boot_flag != kBootFlag) return std::unexpected("not a bzImage: boot flag is not 0xAA55");
  if (h.header != kHdrS) return std::unexpected("not a bzImage: no \"HdrS\" magic at 0x202");
  if (h.version < kMinBootProtocol)
    return std::unexpected("bzImage speaks boot protocol " + std::to_string(h.version >> 8) + "." +
                           std::to_string(h.version & 0xff) +
                           "; the 64-bit entry needs 2.12 or later");
  if (copy < offsetof(setup_header, init_size) + sizeof(h.init_size))
    return std::unexpected("bzImage setup header is shorter than protocol 2.12 requires");
  if (!(h.loadflags & LOADED_HIGH))
    return std::unexpected("bzImage is not loaded high (zImage); only bzImage is supported");
  if (!(h.xloadflags & XLF_KERNEL_64))
    return std::unexpected("bzImage has no 64-bit entry point (XLF_KERNEL_64 not set)");

  // "setup_sects: if this field is 0, the real value is 4"; the boot sector makes one more.
  uint64_t sects = h.setup_sects == 0 ? 4 : h.setup_sects;
  info.setup_size = (sects + 1) * 512;
  if (info.setup_size >= image.size())
    return std::unexpected("bzImage is truncated: the setup code (" +
                           std::to_string(info.setup_size) + " bytes) fills the whole file");
  info.payload_size = image.size() - info.setup_size;
  // syssize counts 16-byte paragraphs of protected-mode code (protocol 2.04+).
  uint64_t declared = static_cast<uint64_t>(h.syssize) * 16;
  if (declared > info.payload_size)
    return std::unexpected("bzImage is truncated: the header declares " + std::to_string(declared) +
                           " bytes of kernel, the file holds " + std::to_string(info.payload_size));
  // We jump to startup_64 at +0x200 of the protected-mode kernel; a file that ends before it
  // would have the vCPU start in whatever lies past the copied bytes (linux_boot_fuzz.cpp).
  if (info.payload_size <= kEntry64Offset)
    return std::unexpected("bzImage is truncated: its " + std::to_string(info.payload_size) +
                           "-byte kernel ends before the 64-bit entry point at +0x200");

  // Load address: pref_address (2.10+) is where a non-relocatable kernel must go and where a
  // relocatable one runs without moving itself; anything below 1 MiB would clash with our
  // boot structures, so fall back to 1 MiB rounded to kernel_alignment.
  uint64_t addr = h.pref_address;
  if (addr < layout::kHighMem) {
    if (!h.relocatable_kernel)
      return std::unexpected("bzImage is not relocatable and prefers " + hex(addr) +
                             ", below 1 MiB");
    addr = align_up(layout::kHighMem, h.kernel_alignment);
  }
  info.load_addr = addr;
  // init_size: the linear memory the kernel needs from its load address while decompressing.
  uint64_t need = info.payload_size > h.init_size ? info.payload_size : h.init_size;
  // pref_address is the file's 64-bit choice: near 2^64 the sum wrapped, and the wrapped end
  // passed load_bzimage()'s "fits below low RAM's end" check (tests/fuzz/linux_boot_fuzz.cpp).
  if (need > UINT64_MAX - addr)
    return std::unexpected("bzImage load address " + hex(addr) + " plus its " +
                           std::to_string(need) + " bytes overflows 64 bits");
  info.end = addr + need;
  return info;
}

std::expected<LoadedKernel, std::string> load_bzimage(const GuestMemory& mem,
                                                      std::span<const uint8_t> image,
                                                      uint64_t low_ram_end) {
  auto info = parse_bzimage(image);
  if (!info) return std::unexpected(info.error());
  if (info->end > low_ram_end)
    return std::unexpected("kernel needs memory up to " + hex(info->end) +
                           " (load address + init_size) but guest RAM below 4 GiB ends at " +
                           hex(low_ram_end) + "; give the VM more memory");
  if (!mem.write(info->load_addr, image.subspan(info->setup_size)))
    return std::unexpected("kernel does not fit in guest memory at " + hex(info->load_addr));
  LoadedKernel k;
  k.entry = info->load_addr + kEntry64Offset;
  k.load_addr = info->load_addr;
  k.end = info->end;
  k.hdr = info->hdr;
  // The loader fills in code32_start's meaning for us: the protected-mode kernel's address.
  k.hdr.code32_start = static_cast<uint32_t>(info->load_addr);
  k.initrd_addr_max = info->hdr.initrd_addr_max;
  // cmdline_size is the maximum length without the terminating NUL (2.06+).
  k.cmdline_max = info->hdr.cmdline_size;
  return k;
}

}  // namespace berth::vmm::kvm

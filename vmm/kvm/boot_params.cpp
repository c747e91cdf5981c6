#include "vmm/kvm/boot_params.hpp"

#include <cstddef>
#include <cstring>

namespace berth::vmm::kvm {

namespace {
// The zero page's layout is fixed by the boot protocol; catch a header that differs in C++.
static_assert(sizeof(boot_params) == 4096);
static_assert(offsetof(boot_params, hdr) == 0x1f1);
static_assert(offsetof(boot_params, e820_table) == 0x2d0);
// "Assigned boot loader IDs": 0xff means undefined, what boot loaders without an ID use.
constexpr uint8_t kLoaderUndefined = 0xff;
}  // namespace

std::expected<boot_params, std::string> make_boot_params(const BootParamsSpec& spec) {
  boot_params bp;
  std::memset(&bp, 0, sizeof bp);
  bp.hdr = spec.hdr;
  bp.hdr.type_of_loader = kLoaderUndefined;
  // Protocol 2.15 "cmd_line_ptr": a 32-bit physical address; ext_cmd_line_ptr holds bits 32-63.
  bp.hdr.cmd_line_ptr = static_cast<uint32_t>(spec.cmdline_addr);
  bp.ext_cmd_line_ptr = static_cast<uint32_t>(spec.cmdline_addr >> 32);
  if (spec.initrd_size > 0) {
    // ramdisk_image/size with their high halves in ext_ramdisk_* (protocol 2.12 fields of the
    // zero page); a kernel that ignores the ext_ fields still boots when the initrd is < 4 GiB.
    bp.hdr.ramdisk_image = static_cast<uint32_t>(spec.initrd_addr);
    bp.ext_ramdisk_image = static_cast<uint32_t>(spec.initrd_addr >> 32);
    bp.hdr.ramdisk_size = static_cast<uint32_t>(spec.initrd_size);
    bp.ext_ramdisk_size = static_cast<uint32_t>(spec.initrd_size >> 32);
  } else {
    bp.hdr.ramdisk_image = 0;
    bp.hdr.ramdisk_size = 0;
  }
  // We run no real-mode code, so there is no setup heap; video mode "normal".
  bp.hdr.vid_mode = 0xffff;
  if (spec.e820.size() > E820_MAX_ENTRIES_ZEROPAGE)
    return std::unexpected("e820 map has " + std::to_string(spec.e820.size()) +
                           " entries; the zero page holds " +
                           std::to_string(E820_MAX_ENTRIES_ZEROPAGE));
  for (size_t i = 0; i < spec.e820.size(); ++i) {
    bp.e820_table[i].addr = spec.e820[i].addr;
    bp.e820_table[i].size = spec.e820[i].size;
    bp.e820_table[i].type = spec.e820[i].type;
  }
  bp.e820_entries = static_cast<uint8_t>(spec.e820.size());
  return bp;
}

std::expected<void, std::string> write_cmdline(const GuestMemory& mem, uint64_t addr,
                                               std::string_view cmdline, uint64_t max_len) {
  if (cmdline.size() > max_len)
    return std::unexpected("kernel command line is " + std::to_string(cmdline.size()) +
                           " bytes; this kernel accepts at most " + std::to_string(max_len));
  if (cmdline.find('\0') != std::string_view::npos)
    return std::unexpected("kernel command line contains a NUL byte");
  std::string line(cmdline);
  if (!mem.write(addr, {reinterpret_cast<const uint8_t*>(line.c_str()), line.size() + 1}))
    return std::unexpected("kernel command line does not fit in guest memory");
  return {};
}

}  // namespace berth::vmm::kvm

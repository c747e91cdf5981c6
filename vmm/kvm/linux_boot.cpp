#include "vmm/kvm/linux_boot.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "vmm/kvm/boot_params.hpp"
#include "vmm/kvm/bzimage.hpp"
#include "vmm/kvm/e820.hpp"
#include "vmm/kvm/elf_loader.hpp"
#include "vmm/kvm/initrd.hpp"
#include "vmm/kvm/long_mode.hpp"
#include "vmm/kvm/memory_map.hpp"
#include "vmm/kvm/mptable.hpp"

namespace berth::vmm::kvm {

namespace {

std::expected<void, std::string> write_cpu_tables(const GuestMemory& mem) {
  if (auto r = write_boot_gdt(mem); !r) return r;
  return write_identity_page_tables(mem);
}

}  // namespace

uint64_t low_ram_end(const GuestMemory& mem) {
  for (const auto& r : mem.regions())
    if (r.guest_addr == 0) return r.size;
  return 0;
}

std::expected<std::vector<uint8_t>, std::string> read_file(const std::filesystem::path& path,
                                                           uint64_t max_bytes) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) return std::unexpected(path.string() + ": " + ec.message());
  if (size > max_bytes)
    return std::unexpected(path.string() + " is " + std::to_string(size >> 20) +
                           " MiB, larger than guest memory allows");
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(path.string() + ": " + std::strerror(errno));
  std::vector<uint8_t> data(size);
  in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(size));
  if (static_cast<uint64_t>(in.gcount()) != size)
    return std::unexpected(path.string() + ": short read");
  return data;
}

std::expected<BootSetup, std::string> setup_linux_boot(const GuestMemory& mem,
                                                       std::span<const uint8_t> kernel,
                                                       std::span<const uint8_t> initrd,
                                                       std::string_view cmdline,
                                                       uint32_t num_cpus) {
  const uint64_t low_end = low_ram_end(mem);
  if (low_end < 2 * layout::kHighMem)
    return std::unexpected("a Linux guest needs at least 2 MiB of RAM");
  BootSetup boot;
  std::expected<LoadedKernel, std::string> k = looks_like_elf(kernel)
                                                   ? load_elf_kernel(mem, kernel, low_end)
                                                   : load_bzimage(mem, kernel, low_end);
  if (!k) return std::unexpected("kernel: " + k.error());
  boot.kernel_format = looks_like_elf(kernel) ? "ELF vmlinux" : "bzImage";
  boot.entry = k->entry;
  boot.kernel_load = k->load_addr;
  boot.kernel_end = k->end;

  BootParamsSpec spec;
  spec.hdr = k->hdr;
  if (!initrd.empty()) {
    auto at = place_initrd(initrd.size(), low_end, k->end, k->initrd_addr_max);
    if (!at) return std::unexpected("initramfs: " + at.error());
    if (!mem.write(*at, initrd)) return std::unexpected("initramfs does not fit in guest memory");
    spec.initrd_addr = boot.initrd_addr = *at;
    spec.initrd_size = boot.initrd_size = initrd.size();
  }

  uint64_t max_cmdline = k->cmdline_max;
  if (max_cmdline == 0 || max_cmdline > layout::kCmdlineMax - 1)
    max_cmdline = layout::kCmdlineMax - 1;
  if (auto r = write_cmdline(mem, layout::kCmdline, cmdline, max_cmdline); !r)
    return std::unexpected(r.error());
  spec.cmdline_addr = layout::kCmdline;
  spec.cmdline_len = cmdline.size();
  spec.e820 = build_e820(mem);

  auto bp = make_boot_params(spec);
  if (!bp) return std::unexpected(bp.error());
  if (!mem.write_obj(layout::kZeroPage, *bp))
    return std::unexpected("guest memory too small for boot_params");
  boot.boot_params = layout::kZeroPage;

  if (auto r = write_mptable(mem, num_cpus); !r) return std::unexpected(r.error());
  if (auto r = write_cpu_tables(mem); !r) return std::unexpected(r.error());
  return boot;
}

std::expected<BootSetup, std::string> setup_raw_boot(const GuestMemory& mem,
                                                     std::span<const uint8_t> image,
                                                     uint64_t load_addr, uint64_t entry) {
  if (load_addr < layout::kHighMem && load_addr + image.size() > layout::kGdt)
    return std::unexpected("raw image below 1 MiB would overwrite the boot tables");
  if (!mem.write(load_addr, image))
    return std::unexpected("raw image does not fit in guest memory at its load address");
  if (auto r = write_cpu_tables(mem); !r) return std::unexpected(r.error());
  BootSetup boot;
  boot.entry = entry;
  boot.kernel_load = load_addr;
  boot.kernel_end = load_addr + image.size();
  boot.kernel_format = "raw image";
  return boot;
}

}  // namespace berth::vmm::kvm

// Fuzz target: loading a guest kernel and initramfs (vmm/kvm/bzimage.cpp, elf_loader.cpp,
// initrd.cpp, boot_params.cpp, linux_boot.cpp). The kernel and image a job boots are chosen by
// the operator today, but the loaders parse them like any file from outside: every header field
// is checked, never trusted.
//
// Input: u8 memory (2-64 MiB; 0xff: 3 GiB + 4 MiB, two regions), u8 vCPUs, u8 kernel kind, then
//   kind 0: u32 length + that many bytes, the kernel file as it is;
//   kind 1: the fields of tests/unit/vmm/fake_kernel.hpp's FakeBzImage (u8 setup_sects, u16
//           version, u8 loadflags, u16 xloadflags, u64 pref_address, u32 kernel_alignment,
//           u8 relocatable, u32 init_size, u32 initrd_addr_max, u32 cmdline_size, u16 payload),
//           then u8 n patches of (u16 offset, u8 byte) applied to the built image;
//   then u16 length + the command line, u16 initramfs size in 256-byte units (up to 16 MiB:
//   larger would only slow the fuzzer; its bytes are a pattern).
//
// Checked beyond "no crash": what parse_bzimage() reports adds up; and when setup_linux_boot()
// succeeds, the kernel, the initramfs, boot_params and the command line all lie in RAM where
// the boot protocol wants them, none overwrote another, and boot_params says where they are.
#include <asm/bootparam.h>
#include <elf.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <vector>

#include "tests/fuzz/fuzz_support.hpp"
#include "tests/fuzz/guest_side.hpp"
#include "tests/unit/vmm/fake_kernel.hpp"
#include "vmm/kvm/bzimage.hpp"
#include "vmm/kvm/e820.hpp"
#include "vmm/kvm/elf_loader.hpp"
#include "vmm/kvm/linux_boot.hpp"
#include "vmm/kvm/memory_map.hpp"

namespace berth::fuzz {
namespace {

namespace layout = kvm::layout;

Tally g_parsed("bzImages parsed");
Tally g_booted("boots set up");
Tally g_with_initrd("boots with an initramfs");
Tally g_elf("ELF kernels booted");

std::vector<uint8_t> fake_bzimage(Input& in) {
  kvm::testing::FakeBzImage f;
  // FakeBzImage lays the header out inside the setup sectors it builds, so it needs at least
  // one; a patch of byte 0x1f1 can still make the field 0 ("means 4") or anything else.
  f.setup_sects = std::max<uint8_t>(1, in.take<uint8_t>());
  f.version = in.take<uint16_t>();
  f.loadflags = in.take<uint8_t>();
  f.xloadflags = in.take<uint16_t>();
  f.pref_address = in.take<uint64_t>();
  f.kernel_alignment = in.take<uint32_t>();
  f.relocatable = in.take<uint8_t>();
  f.init_size = in.take<uint32_t>();
  f.initrd_addr_max = in.take<uint32_t>();
  f.cmdline_size = in.take<uint32_t>();
  f.payload = in.take<uint16_t>();
  auto img = f.build();
  for (unsigned n = in.take<uint8_t>(); n > 0; --n) {
    auto at = in.take<uint16_t>();
    auto byte = in.take<uint8_t>();
    if (at < img.size()) img[at] = byte;
  }
  return img;
}

void check_parse(std::span<const uint8_t> kernel) {
  auto info = kvm::parse_bzimage(kernel);
  if (!info) return;
  ++g_parsed;
  FUZZ_CHECK(info->setup_size + info->payload_size == kernel.size());
  FUZZ_CHECK(info->setup_size >= 1024 && info->payload_size > 0);
  FUZZ_CHECK(info->load_addr >= layout::kHighMem);
  // end = load address + max(payload, init_size), as a number, not modulo 2^64.
  uint64_t need = std::max<uint64_t>(info->payload_size, info->hdr.init_size);
  FUZZ_CHECK(info->end >= info->load_addr && info->end - info->load_addr == need);
}

bool equal_in_memory(const kvm::GuestMemory& mem, uint64_t gpa, std::span<const uint8_t> want) {
  auto s = mem.slice(gpa, want.size());
  return s && std::equal(s->begin(), s->end(), want.begin());
}

void check_boot(const kvm::GuestMemory& mem, const kvm::BootSetup& boot,
                std::span<const uint8_t> kernel, std::span<const uint8_t> initrd,
                std::string_view cmdline) {
  ++g_booted;
  const uint64_t low_end = kvm::low_ram_end(mem);
  FUZZ_CHECK(boot.kernel_load >= layout::kHighMem);
  FUZZ_CHECK(boot.kernel_load < boot.kernel_end && boot.kernel_end <= low_end);
  FUZZ_CHECK(boot.entry >= boot.kernel_load && boot.entry < boot.kernel_end);
  bool elf = kvm::looks_like_elf(kernel);
  if (elf) {
    ++g_elf;
  } else {
    auto info = kvm::parse_bzimage(kernel);
    FUZZ_CHECK(info.has_value());
    FUZZ_CHECK(boot.entry == info->load_addr + 0x200);
    // Nothing loaded after the kernel (initramfs, tables) overwrote it.
    FUZZ_CHECK(equal_in_memory(mem, info->load_addr, kernel.subspan(info->setup_size)));
  }

  auto bp = mem.read_obj<boot_params>(layout::kZeroPage);
  FUZZ_CHECK(bp.has_value());
  uint64_t ramdisk = bp->hdr.ramdisk_image | uint64_t{bp->ext_ramdisk_image} << 32;
  uint64_t ramdisk_size = bp->hdr.ramdisk_size | uint64_t{bp->ext_ramdisk_size} << 32;
  if (!initrd.empty()) {
    ++g_with_initrd;
    FUZZ_CHECK(boot.initrd_addr % 4096 == 0);
    FUZZ_CHECK(boot.initrd_addr >= boot.kernel_end);
    FUZZ_CHECK(boot.initrd_size == initrd.size());
    FUZZ_CHECK(boot.initrd_addr + initrd.size() <= low_end);
    if (bp->hdr.initrd_addr_max != 0)
      FUZZ_CHECK(boot.initrd_addr + initrd.size() - 1 <= bp->hdr.initrd_addr_max);
    FUZZ_CHECK(equal_in_memory(mem, boot.initrd_addr, initrd));
    FUZZ_CHECK(ramdisk == boot.initrd_addr && ramdisk_size == initrd.size());
  } else {
    FUZZ_CHECK(ramdisk == 0 && ramdisk_size == 0);
  }

  uint64_t cmd = bp->hdr.cmd_line_ptr | uint64_t{bp->ext_cmd_line_ptr} << 32;
  FUZZ_CHECK(cmd == layout::kCmdline);
  std::string line(cmdline);
  FUZZ_CHECK(
      equal_in_memory(mem, cmd, {reinterpret_cast<const uint8_t*>(line.c_str()), line.size() + 1}));
  FUZZ_CHECK(line.size() + 1 <= layout::kCmdlineMax);

  auto e820 = kvm::build_e820(mem);
  FUZZ_CHECK(bp->e820_entries == e820.size());
  for (size_t i = 0; i < e820.size(); ++i) {
    const auto& e = bp->e820_table[i];
    FUZZ_CHECK(e.addr == e820[i].addr && e.size == e820[i].size && e.type == e820[i].type);
    if (e.type == kvm::kE820Ram) FUZZ_CHECK(mem.slice(e.addr, e.size).has_value());
  }
}

void run(Input& in) {
  auto m = in.take<uint8_t>();
  uint64_t size = m == 0xff ? kvm::kMmioGapStart + (4u << 20) : (2u + m % 63) << 20;
  FuzzMemory fm(size);
  const auto& mem = fm.mem();
  auto cpus = in.take<uint8_t>();
  std::vector<uint8_t> kernel;
  if (in.take<uint8_t>() % 2 == 0) {
    auto b = in.bytes(in.take<uint32_t>());
    kernel.assign(b.begin(), b.end());
  } else {
    kernel = fake_bzimage(in);
  }
  auto c = in.bytes(in.take<uint16_t>());
  std::string_view cmdline(reinterpret_cast<const char*>(c.data()), c.size());
  std::vector<uint8_t> initrd(size_t{in.take<uint16_t>()} * 256);
  for (size_t i = 0; i < initrd.size(); i += 512) initrd[i] = static_cast<uint8_t>(i / 512 + 1);

  check_parse(kernel);
  auto boot = kvm::setup_linux_boot(mem, kernel, initrd, cmdline, cpus);
  if (boot) check_boot(mem, *boot, kernel, initrd, cmdline);
}

// Seeds, in the encoding above.
void bz_fields(Output& o, const kvm::testing::FakeBzImage& f,
               std::initializer_list<std::pair<uint16_t, uint8_t>> patches) {
  o.put<uint8_t>(f.setup_sects).put<uint16_t>(f.version).put<uint8_t>(f.loadflags);
  o.put<uint16_t>(f.xloadflags).put<uint64_t>(f.pref_address).put<uint32_t>(f.kernel_alignment);
  o.put<uint8_t>(f.relocatable).put<uint32_t>(f.init_size).put<uint32_t>(f.initrd_addr_max);
  o.put<uint32_t>(f.cmdline_size).put<uint16_t>(static_cast<uint16_t>(f.payload));
  o.put<uint8_t>(static_cast<uint8_t>(patches.size()));
  for (auto [at, byte] : patches) o.put<uint16_t>(at).put<uint8_t>(byte);
}
Seed boot_seed(std::string name, uint8_t memory, const kvm::testing::FakeBzImage& f,
               std::string_view cmdline, uint16_t initrd_units,
               std::initializer_list<std::pair<uint16_t, uint8_t>> patches = {}) {
  Output o;
  o.put<uint8_t>(memory).put<uint8_t>(1).put<uint8_t>(1);
  bz_fields(o, f, patches);
  o.put<uint16_t>(static_cast<uint16_t>(cmdline.size())).put(cmdline).put<uint16_t>(initrd_units);
  return {std::move(name), o.bytes()};
}

// A vmlinux with one PT_LOAD at 16 MiB (as tests/unit/vmm/elf_loader_test.cpp builds it).
std::vector<uint8_t> fake_vmlinux() {
  std::vector<uint8_t> f(0x1000 + 256, 0);
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_EXEC;
  eh.e_machine = EM_X86_64;
  eh.e_entry = 0x1000000;
  eh.e_phoff = sizeof eh;
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = 1;
  Elf64_Phdr ph{};
  ph.p_type = PT_LOAD;
  ph.p_offset = 0x1000;
  ph.p_paddr = 0x1000000;
  ph.p_filesz = 256;
  ph.p_memsz = 4096;
  std::memcpy(f.data(), &eh, sizeof eh);
  std::memcpy(f.data() + sizeof eh, &ph, sizeof ph);
  return f;
}

}  // namespace

std::vector<Seed> seeds() {
  using kvm::testing::FakeBzImage;
  std::vector<Seed> s;
  const std::string_view cmdline = "console=ttyS0 reboot=k panic=-1 quiet";
  s.push_back(boot_seed("bzimage-initrd", 30, FakeBzImage{}, cmdline, 4096));
  s.push_back(boot_seed("bzimage-no-initrd", 30, FakeBzImage{}, cmdline, 0));
  s.push_back(boot_seed("too-little-memory", 14, FakeBzImage{}, cmdline, 0));
  {
    FakeBzImage f;  // relocatable, prefers 64 KiB: moved to 1 MiB rounded to its alignment;
    f.pref_address = 0x10000;  // and setup_sects 0, which means 4
    s.push_back(boot_seed("relocated", 14, f, "", 16, {{0x1f1, 0}}));
  }
  {
    FakeBzImage f;  // a command line longer than the kernel takes
    f.cmdline_size = 8;
    s.push_back(boot_seed("cmdline-too-long", 14, f, cmdline, 0));
  }
  {
    FakeBzImage f;  // an initramfs that cannot fit under initrd_addr_max above the kernel
    f.initrd_addr_max = 0x1200000;
    s.push_back(boot_seed("initrd-limit", 30, f, cmdline, 4096));
  }
  s.push_back(boot_seed("two-regions", 0xff, FakeBzImage{}, cmdline, 32768));
  for (auto [name, kernel] :
       {std::pair{"raw-bzimage", FakeBzImage{}.build()}, std::pair{"raw-elf", fake_vmlinux()}}) {
    Output o;
    o.put<uint8_t>(30).put<uint8_t>(2).put<uint8_t>(0);
    o.put<uint32_t>(static_cast<uint32_t>(kernel.size())).put(kernel);
    o.put<uint16_t>(static_cast<uint16_t>(cmdline.size())).put(cmdline).put<uint16_t>(300);
    s.push_back({name, o.bytes()});
  }
  return s;
}

}  // namespace berth::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  berth::fuzz::silence_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  berth::fuzz::Input in(data, size);
  berth::fuzz::run(in);
  return 0;
}

#include "vmm/kvm/vcpu.hpp"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "vmm/kvm/cpuid.hpp"
#include "vmm/kvm/kvm_abi.hpp"
#include "vmm/kvm/linux_boot.hpp"
#include "vmm/kvm/long_mode.hpp"
#include "vmm/kvm/memory_map.hpp"

namespace berth::vmm::kvm {

namespace {

std::string err(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

// The MSRs a freshly booted kernel expects in a known state (what Firecracker's and QEMU's
// x86 reset leave): syscall MSRs zero, TSC zero, fast strings on, MTRRs on with write-back
// as the default memory type (without it every access is uncached).
constexpr uint32_t kMsrSysenterCs = 0x174, kMsrSysenterEsp = 0x175, kMsrSysenterEip = 0x176;
constexpr uint32_t kMsrStar = 0xc0000081, kMsrLstar = 0xc0000082, kMsrCstar = 0xc0000083;
constexpr uint32_t kMsrSyscallMask = 0xc0000084, kMsrKernelGsBase = 0xc0000102;
constexpr uint32_t kMsrTsc = 0x10, kMsrMiscEnable = 0x1a0, kMsrMtrrDefType = 0x2ff;
constexpr uint64_t kMiscEnableFastString = 1;
constexpr uint64_t kMtrrEnable = 1 << 11, kMtrrTypeWriteBack = 6;

// LAPIC registers in kvm_lapic_state.regs, and LVT delivery modes (Intel SDM vol. 3 §10.5.1).
constexpr size_t kApicLvt0 = 0x350, kApicLvt1 = 0x360;
constexpr uint32_t kDeliveryExtInt = 7, kDeliveryNmi = 4;

uint32_t get_reg(const kvm_lapic_state& s, size_t off) {
  uint32_t v;
  std::memcpy(&v, s.regs + off, 4);
  return v;
}
void set_reg(kvm_lapic_state& s, size_t off, uint32_t v) {
  std::memcpy(s.regs + off, &v, 4);
}

void kick_handler(int) {}

}  // namespace

int vcpu_kick_signal() {
  return SIGRTMIN + 4;
}

void install_vcpu_kick_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = kick_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must come back with EINTR
    sigaction(vcpu_kick_signal(), &sa, nullptr);
  });
}

std::expected<std::unique_ptr<Vcpu>, std::string> Vcpu::create(const KvmSystem& kvm, int vm_fd,
                                                               uint32_t index) {
  std::unique_ptr<Vcpu> v(new Vcpu());
  v->index_ = index;
  v->fd_.reset(ioctl(vm_fd, KVM_CREATE_VCPU, index));
  if (!v->fd_) return std::unexpected(err("KVM_CREATE_VCPU"));
  v->run_size_ = static_cast<size_t>(kvm.vcpu_mmap_size());
  void* p = mmap(nullptr, v->run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd(), 0);
  if (p == MAP_FAILED) return std::unexpected(err("mmap of kvm_run"));
  v->run_ = static_cast<kvm_run*>(p);
  return v;
}

Vcpu::~Vcpu() {
  if (run_) munmap(run_, run_size_);
}

std::expected<void, std::string> Vcpu::configure(const KvmSystem& kvm, uint32_t count,
                                                 const BootSetup& boot) {
  if (auto r = set_cpuid(kvm, count); !r) return r;
  if (auto r = set_msrs(); !r) return r;
  if (auto r = set_fpu(); !r) return r;
  if (auto r = set_lapic(); !r) return r;
  if (index_ == 0)
    if (auto r = set_boot_registers(boot); !r) return r;
  return {};
}

std::expected<void, std::string> Vcpu::set_cpuid(const KvmSystem& kvm, uint32_t count) {
  // Laid out by hand (kvm_abi.hpp: struct kvm_cpuid2 has the wrong size in C++).
  // KVM_GET_SUPPORTED_CPUID fails with E2BIG when the buffer is small; grow until it fits.
  for (uint32_t n = 128; n <= 4096; n *= 2) {
    std::vector<uint8_t> buf(sizeof(abi::Cpuid2Header) + n * sizeof(kvm_cpuid_entry2));
    auto* hdr = reinterpret_cast<abi::Cpuid2Header*>(buf.data());
    auto* first = reinterpret_cast<kvm_cpuid_entry2*>(buf.data() + sizeof(abi::Cpuid2Header));
    hdr->nent = n;
    if (ioctl(kvm.fd(), abi::kGetSupportedCpuid, buf.data()) < 0) {
      if (errno == E2BIG) continue;
      return std::unexpected(err("KVM_GET_SUPPORTED_CPUID"));
    }
    std::vector<kvm_cpuid_entry2> entries(first, first + hdr->nent);
    adjust_cpuid(entries, index_, count);
    hdr->nent = static_cast<uint32_t>(entries.size());
    std::memcpy(first, entries.data(), entries.size() * sizeof(kvm_cpuid_entry2));
    if (ioctl(fd(), abi::kSetCpuid2, buf.data()) < 0) return std::unexpected(err("KVM_SET_CPUID2"));
    return {};
  }
  return std::unexpected("KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
}

std::expected<void, std::string> Vcpu::set_msrs() {
  const std::pair<uint32_t, uint64_t> msrs[] = {
      {kMsrSysenterCs, 0},
      {kMsrSysenterEsp, 0},
      {kMsrSysenterEip, 0},
      {kMsrStar, 0},
      {kMsrCstar, 0},
      {kMsrKernelGsBase, 0},
      {kMsrSyscallMask, 0},
      {kMsrLstar, 0},
      {kMsrTsc, 0},
      {kMsrMiscEnable, kMiscEnableFastString},
      {kMsrMtrrDefType, kMtrrEnable | kMtrrTypeWriteBack},
  };
  constexpr size_t n = std::size(msrs);
  std::vector<uint8_t> buf(sizeof(abi::MsrsHeader) + n * sizeof(kvm_msr_entry));
  reinterpret_cast<abi::MsrsHeader*>(buf.data())->nmsrs = n;
  auto* entries = reinterpret_cast<kvm_msr_entry*>(buf.data() + sizeof(abi::MsrsHeader));
  for (size_t i = 0; i < n; ++i) {
    entries[i].index = msrs[i].first;
    entries[i].data = msrs[i].second;
  }
  // KVM_SET_MSRS returns how many it set, stopping at the first it refused.
  int set = ioctl(fd(), abi::kSetMsrs, buf.data());
  if (set < 0) return std::unexpected(err("KVM_SET_MSRS"));
  if (static_cast<size_t>(set) != n) {
    char idx[16];
    std::snprintf(idx, sizeof idx, "%#x", msrs[set].first);
    return std::unexpected(std::string("KVM_SET_MSRS refused MSR ") + idx);
  }
  return {};
}

std::expected<void, std::string> Vcpu::set_fpu() {
  kvm_fpu fpu{};
  fpu.fcw = 0x37f;     // x87 reset value: all exceptions masked, 64-bit precision
  fpu.mxcsr = 0x1f80;  // SSE reset value: all exceptions masked
  if (ioctl(fd(), KVM_SET_FPU, &fpu) < 0) return std::unexpected(err("KVM_SET_FPU"));
  return {};
}

std::expected<void, std::string> Vcpu::set_lapic() {
  // LINT0 delivers the 8259's ExtINT, LINT1 NMI: the "virtual wire" a BIOS leaves behind, which
  // the MP table's local interrupt entries describe.
  kvm_lapic_state s{};
  if (ioctl(fd(), KVM_GET_LAPIC, &s) < 0) return std::unexpected(err("KVM_GET_LAPIC"));
  auto mode = [](uint32_t v, uint32_t m) { return (v & ~0x700u) | (m << 8); };
  set_reg(s, kApicLvt0, mode(get_reg(s, kApicLvt0), kDeliveryExtInt));
  set_reg(s, kApicLvt1, mode(get_reg(s, kApicLvt1), kDeliveryNmi));
  if (ioctl(fd(), KVM_SET_LAPIC, &s) < 0) return std::unexpected(err("KVM_SET_LAPIC"));
  return {};
}

std::expected<void, std::string> Vcpu::set_boot_registers(const BootSetup& boot) {
  kvm_sregs sregs{};
  if (ioctl(fd(), KVM_GET_SREGS, &sregs) < 0) return std::unexpected(err("KVM_GET_SREGS"));
  set_long_mode_sregs(sregs);
  if (ioctl(fd(), KVM_SET_SREGS, &sregs) < 0) return std::unexpected(err("KVM_SET_SREGS"));
  kvm_regs regs{};
  regs.rflags = 0x2;  // bit 1 is reserved-one; IF clear: interrupts off (boot protocol)
  regs.rip = boot.entry;
  regs.rsp = layout::kBootStack;
  regs.rbp = layout::kBootStack;
  regs.rsi = boot.boot_params;
  if (ioctl(fd(), KVM_SET_REGS, &regs) < 0) return std::unexpected(err("KVM_SET_REGS"));
  return {};
}

}  // namespace berth::vmm::kvm

// kvm_probe: proves that /dev/kvm works here. Opens it, checks the API version, creates a VM,
// prints the capabilities our monitor (vmm/kvm/) relies on, and runs a 3-instruction real-mode
// guest to an I/O exit and a hlt. Exits 0 when all of that works, 1 with the reason otherwise.
// Run inside the KVM lab by the CTest kvm_lab_has_kvm (tests/kvm-lab/CMakeLists.txt).
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "kvm_probe: FAIL: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

[[noreturn]] void fail_msg(const std::string& what) {
  std::fprintf(stderr, "kvm_probe: FAIL: %s\n", what.c_str());
  std::exit(1);
}

// The CPU's virtualization flag, as the worker's `runtime = auto` looks for it (DESIGN.md §3).
std::string cpu_virt_flag() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("flags", 0) != 0) continue;
    if (line.find(" svm") != std::string::npos) return "svm";
    if (line.find(" vmx") != std::string::npos) return "vmx";
    return "none";
  }
  return "unknown";
}

struct Cap {
  const char* name;
  long id;
  bool required;  // our monitor cannot work without it
};

// Capabilities vmm/kvm/ uses: user memory slots, an in-kernel irqchip (IOAPIC/LAPIC for the
// serial and virtio-mmio interrupts), the TSS address Intel needs, CPUID passthrough, irqfd and
// ioeventfd for virtio, immediate_exit to stop a vCPU.
constexpr Cap kCaps[] = {
    {"KVM_CAP_USER_MEMORY", KVM_CAP_USER_MEMORY, true},
    {"KVM_CAP_IRQCHIP", KVM_CAP_IRQCHIP, true},
    {"KVM_CAP_SET_TSS_ADDR", KVM_CAP_SET_TSS_ADDR, true},
    {"KVM_CAP_EXT_CPUID", KVM_CAP_EXT_CPUID, true},
    {"KVM_CAP_IRQFD", KVM_CAP_IRQFD, false},
    {"KVM_CAP_IOEVENTFD", KVM_CAP_IOEVENTFD, false},
    {"KVM_CAP_PIT2", KVM_CAP_PIT2, false},
    {"KVM_CAP_IMMEDIATE_EXIT", KVM_CAP_IMMEDIATE_EXIT, false},
    {"KVM_CAP_NR_VCPUS", KVM_CAP_NR_VCPUS, false},
    {"KVM_CAP_MAX_VCPUS", KVM_CAP_MAX_VCPUS, false},
    {"KVM_CAP_NR_MEMSLOTS", KVM_CAP_NR_MEMSLOTS, false},
};

}  // namespace

int main() {
  const auto t0 = std::chrono::steady_clock::now();
  std::printf("kvm_probe: cpu virtualization flag: %s\n", cpu_virt_flag().c_str());

  const int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) fail("open /dev/kvm");
  const int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
  if (api < 0) fail("KVM_GET_API_VERSION");
  std::printf("kvm_probe: KVM_GET_API_VERSION = %d\n", api);
  if (api != KVM_API_VERSION) fail_msg("API version is not " + std::to_string(KVM_API_VERSION));

  const int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) fail("KVM_CREATE_VM");
  std::printf("kvm_probe: KVM_CREATE_VM ok\n");

  bool missing = false;
  for (const Cap& cap : kCaps) {
    const int v = ioctl(vm, KVM_CHECK_EXTENSION, cap.id);
    std::printf("kvm_probe: %-24s = %d%s\n", cap.name, v,
                v <= 0 && cap.required ? "  (REQUIRED, missing)" : "");
    if (v <= 0 && cap.required) missing = true;
  }
  if (missing) fail_msg("a required capability is missing");

  // A real-mode guest at 0x1000: out %al,$0x10 (AL=0x42), then hlt. One exit of each kind our
  // vCPU loop handles first: port I/O, then halt.
  constexpr unsigned char kCode[] = {0xb0, 0x42, 0xe6, 0x10, 0xf4};  // mov al,0x42; out; hlt
  constexpr size_t kMemSize = 0x2000;
  void* mem = mmap(nullptr, kMemSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) fail("mmap guest memory");
  std::memcpy(static_cast<unsigned char*>(mem) + 0x1000, kCode, sizeof kCode);
  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.guest_phys_addr = 0;
  region.memory_size = kMemSize;
  region.userspace_addr = reinterpret_cast<__u64>(mem);
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) fail("KVM_SET_USER_MEMORY_REGION");

  const int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) fail("KVM_CREATE_VCPU");
  const int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size < 0) fail("KVM_GET_VCPU_MMAP_SIZE");
  void* run_map = mmap(nullptr, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run_map == MAP_FAILED) fail("mmap kvm_run");
  auto* run = static_cast<kvm_run*>(run_map);

  kvm_sregs sregs{};
  if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) fail("KVM_GET_SREGS");
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) fail("KVM_SET_SREGS");
  kvm_regs regs{};
  regs.rip = 0x1000;
  regs.rflags = 0x2;  // bit 1 is reserved and must be set
  if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) fail("KVM_SET_REGS");

  bool saw_io = false;
  for (int i = 0; i < 10; ++i) {
    if (ioctl(vcpu, KVM_RUN, 0) < 0) fail("KVM_RUN");
    if (run->exit_reason == KVM_EXIT_IO) {
      const auto* data = reinterpret_cast<unsigned char*>(run) + run->io.data_offset;
      std::printf("kvm_probe: guest exit IO port 0x%x value 0x%x\n", run->io.port, *data);
      if (run->io.direction != KVM_EXIT_IO_OUT || run->io.port != 0x10 || *data != 0x42)
        fail_msg("unexpected I/O exit");
      saw_io = true;
      continue;
    }
    if (run->exit_reason == KVM_EXIT_HLT) {
      if (!saw_io) fail_msg("guest halted before its I/O exit");
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - t0)
                          .count();
      std::printf("kvm_probe: guest exit HLT; VM created and run to hlt in %lld ms\n",
                  static_cast<long long>(ms));
      std::printf("kvm_probe: OK\n");
      return 0;
    }
    fail_msg("unexpected exit reason " + std::to_string(run->exit_reason));
  }
  fail_msg("guest did not halt within 10 exits");
}

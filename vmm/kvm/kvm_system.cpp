#include "vmm/kvm/kvm_system.hpp"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

namespace berth::vmm::kvm {

namespace {

struct RequiredCap {
  long cap;
  const char* name;
  const char* why;
};

// What VM setup and the device model rely on. Everything here has been in mainline KVM on x86
// for a decade; a host without one is misconfigured or not KVM.
constexpr RequiredCap kRequired[] = {
    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", "in-kernel PIC/IOAPIC/LAPIC"},
    {KVM_CAP_IRQFD, "KVM_CAP_IRQFD", "device interrupts through eventfds"},
    {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", "virtqueue notifications through eventfds"},
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest RAM from our own mappings"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", "TSS for real-mode emulation on VMX"},
    {KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR",
     "identity page table for real-mode emulation on VMX"},
    {KVM_CAP_PIT2, "KVM_CAP_PIT2", "in-kernel i8254 timer"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "stopping a vCPU without races"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "KVM_GET_SUPPORTED_CPUID"},
};

}  // namespace

std::expected<KvmSystem, std::string> KvmSystem::open(const char* path) {
  UniqueFd fd(::open(path, O_RDWR | O_CLOEXEC));
  if (!fd) return std::unexpected(std::string("open ") + path + ": " + std::strerror(errno));
  return adopt(std::move(fd), path);
}

std::expected<KvmSystem, std::string> KvmSystem::adopt(UniqueFd fd, const char* path) {
  KvmSystem k;
  k.fd_ = std::move(fd);
  int version = ioctl(k.fd(), KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION)
    return std::unexpected("KVM_GET_API_VERSION returned " + std::to_string(version) +
                           ", this monitor needs " + std::to_string(KVM_API_VERSION));
  for (const auto& c : kRequired)
    if (k.check_extension(c.cap) <= 0)
      return std::unexpected(std::string("KVM capability ") + c.name + " (" + c.why +
                             ") is missing on " + path);
  k.vcpu_mmap_size_ = ioctl(k.fd(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (k.vcpu_mmap_size_ <= 0)
    return std::unexpected(std::string("KVM_GET_VCPU_MMAP_SIZE: ") + std::strerror(errno));
  // KVM_CAP_MAX_VCPUS is the hard limit; KVM_CAP_NR_VCPUS only a recommendation (the host's
  // CPU count). The API says: without either, assume 4.
  int max = k.check_extension(KVM_CAP_MAX_VCPUS);
  if (max <= 0) max = k.check_extension(KVM_CAP_NR_VCPUS);
  k.max_vcpus_ = max > 0 ? max : 4;
  return k;
}

int KvmSystem::check_extension(long cap) const {
  int r = ioctl(fd(), KVM_CHECK_EXTENSION, cap);
  return r < 0 ? 0 : r;
}

std::expected<void, std::string> kvm_available(const char* path) {
  int fd = ::open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return std::unexpected(std::string("cannot open ") + path + ": " + std::strerror(errno));
  ::close(fd);
  return {};
}

}  // namespace berth::vmm::kvm

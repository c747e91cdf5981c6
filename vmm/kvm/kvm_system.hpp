#pragma once
// /dev/kvm: the API version check and the capabilities the monitor cannot work without.
//
// We check every capability up front, at open, so that a host lacking one fails with a message
// naming it ("KVM_CAP_IRQFD missing") instead of an ioctl error deep inside VM setup.
#include <expected>
#include <string>

#include "vmm/kvm/unique_fd.hpp"

namespace berth::vmm::kvm {

class KvmSystem {
 public:
  // Opens `path` (normally /dev/kvm), checks KVM_GET_API_VERSION == 12 and the capabilities
  // listed in kvm_system.cpp.
  static std::expected<KvmSystem, std::string> open(const char* path = "/dev/kvm");
  // The same checks on a /dev/kvm opened elsewhere (a jailed monitor gets it as a descriptor:
  // its chroot has no /dev). Takes ownership.
  static std::expected<KvmSystem, std::string> adopt(UniqueFd fd, const char* what);

  int fd() const { return fd_.get(); }
  // Size of each vCPU's shared kvm_run area (KVM_GET_VCPU_MMAP_SIZE).
  int vcpu_mmap_size() const { return vcpu_mmap_size_; }
  // KVM_CAP_MAX_VCPUS: the most vCPUs a VM may have.
  int max_vcpus() const { return max_vcpus_; }
  // KVM_CHECK_EXTENSION on the system fd; > 0 when present (some capabilities return a count).
  int check_extension(long cap) const;

 private:
  UniqueFd fd_;
  int vcpu_mmap_size_ = 0;
  int max_vcpus_ = 1;
};

// Whether `path` exists and opens read-write; a reason when not (for test skips and logs).
std::expected<void, std::string> kvm_available(const char* path = "/dev/kvm");

}  // namespace berth::vmm::kvm

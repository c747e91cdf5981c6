#pragma once
// KVM ioctls whose argument ends in a flexible array, declared with their C layout.
//
// linux-libc-dev 6.1 declares those arrays with __DECLARE_FLEX_ARRAY, which wraps them in a
// struct holding an empty struct. An empty struct is 0 bytes in C but 1 byte in C++, so under
// C++ sizeof(struct kvm_cpuid2) is 12, not 8, the array moves to offset 12, and
// KVM_GET_SUPPORTED_CPUID (which encodes that size) becomes another ioctl number: the kernel
// answers EINVAL. Measured in the KVM lab. So the monitor uses these headers and numbers, and the
// static_asserts pin them to the C values.
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstdint>

namespace berth::vmm::kvm::abi {

struct Cpuid2Header {  // struct kvm_cpuid2 without its array; kvm_cpuid_entry2[nent] follows
  uint32_t nent;
  uint32_t padding;
};
struct MsrsHeader {  // struct kvm_msrs without its array; kvm_msr_entry[nmsrs] follows
  uint32_t nmsrs;
  uint32_t pad;
};

inline constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, Cpuid2Header);
inline constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, Cpuid2Header);
inline constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, MsrsHeader);

static_assert(sizeof(Cpuid2Header) == 8 && sizeof(MsrsHeader) == 8);
static_assert(kGetSupportedCpuid == 0xc008ae05);
static_assert(kSetCpuid2 == 0x4008ae90);
static_assert(kSetMsrs == 0x4008ae89);
static_assert(sizeof(kvm_cpuid_entry2) == 40 && sizeof(kvm_msr_entry) == 16);

}  // namespace berth::vmm::kvm::abi

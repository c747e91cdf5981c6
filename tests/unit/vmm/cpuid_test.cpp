// CPUID adjustment per vCPU (vmm/kvm/cpuid.cpp).
#include <gtest/gtest.h>

#include "vmm/kvm/cpuid.hpp"

namespace berth::vmm::kvm {
namespace {

kvm_cpuid_entry2 leaf(uint32_t fn, uint32_t index = 0) {
  kvm_cpuid_entry2 e{};
  e.function = fn;
  e.index = index;
  e.eax = e.ebx = e.ecx = e.edx = 0xffffffff;
  return e;
}

TEST(Cpuid, ApicIdTopologyAndHypervisorBit) {
  std::vector<kvm_cpuid_entry2> v = {leaf(1),      leaf(6),      leaf(0xa),
                                     leaf(0xb, 0), leaf(0xb, 1), leaf(0xb, 2)};
  adjust_cpuid(v, 2, 4);
  EXPECT_EQ(v[0].ebx >> 24, 2u) << "initial APIC id";
  EXPECT_EQ((v[0].ebx >> 16) & 0xff, 4u) << "logical processors";
  EXPECT_TRUE(v[0].ecx & (1u << 31)) << "hypervisor";
  EXPECT_TRUE(v[0].edx & (1u << 28)) << "HTT with several vCPUs";
  EXPECT_EQ(v[1].eax | v[1].ebx | v[1].ecx | v[1].edx, 0u) << "no power management";
  EXPECT_EQ(v[2].eax, 0u) << "no PMU";
  EXPECT_EQ(v[3].edx, 2u);
  EXPECT_EQ(v[3].ebx, 1u);
  EXPECT_EQ((v[3].ecx >> 8) & 0xff, 1u) << "SMT level";
  EXPECT_EQ(v[4].ebx, 4u);
  EXPECT_EQ(v[4].eax, 2u) << "two bits of core id";
  EXPECT_EQ((v[4].ecx >> 8) & 0xff, 2u) << "core level";
  EXPECT_EQ((v[5].ecx >> 8) & 0xff, 0u) << "end of levels";
}

TEST(Cpuid, SingleVcpuHasNoHtt) {
  std::vector<kvm_cpuid_entry2> v = {leaf(1)};
  adjust_cpuid(v, 0, 1);
  EXPECT_EQ(v[0].ebx >> 24, 0u);
  EXPECT_FALSE(v[0].edx & (1u << 28));
}

}  // namespace
}  // namespace berth::vmm::kvm

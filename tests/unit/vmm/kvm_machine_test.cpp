// The kvm runtime's pure parts (vmm/kvm/kvm_machine.cpp) and the runtime choice (vmm/runtime.cpp).
// Booting a KvmMachine needs a real /dev/kvm: tests/vmm/kvm_machine_boot.sh does it in the lab.
#include "vmm/kvm/kvm_machine.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "vmm/runtime.hpp"

namespace berth::vmm::kvm {
namespace {

namespace fs = std::filesystem;

MachineConfig config() {
  MachineConfig c;
  c.job_id = "j0123456789abcdef";
  c.net = {"berth0", "10.213.0.7", 24, "10.213.0.1"};
  c.memory_mib = 256;
  c.work_dir_bytes = 32 << 20;
  return c;
}

TEST(KvmMachine, TapNameFitsAnInterfaceName) {
  auto name = tap_name("j0123456789abcdef");
  EXPECT_EQ(name.size(), 14u);
  EXPECT_TRUE(name.starts_with("bt"));
  EXPECT_EQ(name, tap_name("j0123456789abcdef"));  // stable
  EXPECT_NE(name, tap_name("j0123456789abcdeg"));
}

TEST(KvmMachine, GuestMacIsLocalUnicastFromTheAddress) {
  auto mac = guest_mac("10.213.0.7");
  ASSERT_TRUE(mac) << mac.error();
  EXPECT_EQ((*mac)[0] & 0x03, 0x02);  // locally administered, unicast
  EXPECT_EQ((*mac)[2], 10);
  EXPECT_EQ((*mac)[3], 213);
  EXPECT_EQ((*mac)[4], 0);
  EXPECT_EQ((*mac)[5], 7);
  EXPECT_FALSE(guest_mac("10.213.0"));
}

TEST(KvmMachine, CommandLineCarriesTheAgentsKeys) {
  auto line = kernel_cmdline(config());
  for (const char* want : {"console=ttyS0", "reboot=k", "panic=-1", " berth.ip=10.213.0.7/24",
                           " berth.gw=10.213.0.1", " berth.iface=eth0", " berth.work_mib=32"})
    EXPECT_NE(line.find(want), std::string::npos) << want << " in " << line;
}

TEST(KvmMachine, MemoryCoversTheUnpackedInitramfs) {
  auto dir = fs::temp_directory_path() / ("kvm-machine-test-" + std::to_string(getpid()));
  fs::create_directories(dir);
  auto c = config();
  c.initramfs = dir / "initramfs.cpio.zst";
  std::ofstream(c.initramfs) << std::string(3 << 20, 'x');
  // Without metadata: the packed size, and three times it unpacked.
  uint32_t guessed = guest_memory_mib(c);
  EXPECT_GE(guessed, 256u + 3 + 9);
  std::ofstream(dir / "metadata.json") << "{\n  \"initramfs_unpacked_bytes\": 52428800,\n}";
  uint32_t measured = guest_memory_mib(c);
  EXPECT_GE(measured, 256u + 3 + 50);
  EXPECT_LT(measured, 256u + 3 + 50 + 256);
  fs::remove_all(dir);
}

TEST(KvmMachine, StartRefusesWithoutAKernel) {
  KvmMachine m(config());
  auto r = m.start();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("kernel"), std::string::npos) << r.error();
  EXPECT_EQ(m.runtime(), "kvm");
  m.stop();  // idempotent after a failed start
}

TEST(RuntimeChoice, JailAndUnknown) {
  auto jail = choose_runtime("jail");
  ASSERT_TRUE(jail);
  EXPECT_EQ(jail->name, "jail");
  EXPECT_FALSE(choose_runtime("qemu"));
}

TEST(RuntimeChoice, AutoWithoutUsableKvmOrKernelPicksTheJailAndSaysWhy) {
  auto choice = choose_runtime("auto", "");
  ASSERT_TRUE(choice) << choice.error();
  if (kvm_unusable().empty()) {
    // A real /dev/kvm (the lab): without a kernel the reason names the missing kernel.
    EXPECT_EQ(choice->name, "jail");
    EXPECT_NE(choice->reason.find("kernel"), std::string::npos) << choice->reason;
  } else {
    EXPECT_EQ(choice->name, "jail");
    EXPECT_TRUE(choice->reason.starts_with("auto: ")) << choice->reason;
    EXPECT_FALSE(choose_runtime("kvm", "/nonexistent/bzImage"));
  }
}

TEST(RuntimeChoice, KvmUnusableExplainsAMissingDevice) {
  auto why = kvm_unusable("/nonexistent/kvm");
  EXPECT_NE(why.find("/nonexistent/kvm"), std::string::npos) << why;
}

}  // namespace
}  // namespace berth::vmm::kvm

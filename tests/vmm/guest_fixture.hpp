#pragma once
// The fixture every synthetic-guest test (guest_test.cpp, virtio_net_guest_test.cpp) runs in: a
// VmConfig for a flat guest binary from BERTH_GUEST_DIR, a test port the guest reports values
// through, and the check that no fd or thread of the VM is left once the test is over.
//
// Needs /dev/kvm: skipped with the reason where it is absent, unless BERTH_REQUIRE_KVM=1 (the
// KVM lab's CTest sets it), where a missing /dev/kvm fails.
#include <dirent.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "vmm/kvm/kvm_system.hpp"
#include "vmm/kvm/linux_boot.hpp"
#include "vmm/kvm/vm.hpp"

namespace berth::vmm::kvm::test {

inline size_t count_entries(const char* dir) {
  size_t n = 0;
  if (DIR* d = opendir(dir)) {
    while (readdir(d)) ++n;
    closedir(d);
  }
  return n;
}

// Records what a guest writes to ports 0x510..0x52f, by offset.
class TestPort : public BusDevice {
 public:
  static constexpr uint16_t kBase = 0x510;
  static constexpr uint16_t kSize = 32;

  void read(uint64_t, std::span<uint8_t> data) override {
    for (auto& b : data) b = 0;
  }
  void write(uint64_t offset, std::span<const uint8_t> data) override {
    uint64_t v = 0;
    std::memcpy(&v, data.data(), std::min<size_t>(data.size(), 8));
    std::lock_guard lock(mu_);
    values_[offset] = v;
  }
  std::optional<uint64_t> value(uint64_t offset) {
    std::lock_guard lock(mu_);
    auto it = values_.find(offset);
    if (it == values_.end()) return std::nullopt;
    return it->second;
  }
  // Two 32-bit halves at offset and offset + 4.
  std::optional<uint64_t> value64(uint64_t offset) {
    auto lo = value(offset), hi = value(offset + 4);
    if (!lo || !hi) return std::nullopt;
    return (*hi << 32) | (*lo & 0xffffffff);
  }

 private:
  std::mutex mu_;
  std::map<uint64_t, uint64_t> values_;
};

class GuestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ok = kvm_available();
    if (!ok) {
      if (std::getenv("BERTH_REQUIRE_KVM")) FAIL() << "BERTH_REQUIRE_KVM is set but " << ok.error();
      GTEST_SKIP() << "no usable KVM here (" << ok.error()
                   << "); these guests run in the KVM lab: ctest -L kvm-lab";
    }
    fds_before_ = count_entries("/proc/self/fd");
    tasks_before_ = count_entries("/proc/self/task");
  }

  void TearDown() override {
    if (IsSkipped() || fds_before_ == 0) return;
    // Every fd and thread of the VM is gone once the Vm is destroyed.
    EXPECT_EQ(count_entries("/proc/self/fd"), fds_before_) << "fds leaked";
    EXPECT_EQ(count_entries("/proc/self/task"), tasks_before_) << "threads leaked";
  }

  VmConfig config_for(const std::string& guest) {
    using namespace std::chrono_literals;
    VmConfig cfg;
    cfg.name = guest;
    cfg.mem_mib = 16;
    auto bytes = read_file(std::string(BERTH_GUEST_DIR) + "/" + guest + ".bin", 1 << 20);
    EXPECT_TRUE(bytes.has_value()) << (bytes ? "" : bytes.error());
    cfg.raw_image = VmConfig::RawImage{bytes.value_or(std::vector<uint8_t>{}), 0x100000, 0x100000};
    cfg.extra_port_devices.push_back({TestPort::kBase, TestPort::kSize, port_});
    // A safety net: no test may hang the suite.
    cfg.wall_limit = 30s;
    return cfg;
  }

  ExitRecord run(VmConfig cfg) {
    Vm vm(std::move(cfg));
    auto started = vm.start();
    EXPECT_TRUE(started.has_value()) << (started ? "" : started.error());
    return vm.wait();
  }

  std::shared_ptr<TestPort> port_ = std::make_shared<TestPort>();
  size_t fds_before_ = 0, tasks_before_ = 0;
};

}  // namespace berth::vmm::kvm::test

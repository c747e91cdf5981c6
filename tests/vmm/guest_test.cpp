// Synthetic guests (tests/vmm/guests/*.S) run by the real monitor: long mode, UART output, the
// i8042 reset, a guest poking unknown ports and MMIO, a triple fault, the wall limit, stop()
// from another thread. After each, no fd or thread of the VM may be left.
//
// Needs /dev/kvm: skipped with the reason where it is absent, unless BERTH_REQUIRE_KVM=1 (the
// KVM lab's CTest sets it), where a missing /dev/kvm fails.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "vmm/kvm/kvm_system.hpp"
#include "vmm/kvm/linux_boot.hpp"
#include "vmm/kvm/virtio_attach.hpp"
#include "vmm/kvm/vm.hpp"

namespace berth::vmm::kvm {
namespace {

using namespace std::chrono_literals;

size_t count_entries(const char* dir) {
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
    VmConfig cfg;
    cfg.name = guest;
    cfg.mem_mib = 16;
    auto bytes = read_file(std::string(BERTH_GUEST_DIR) + "/" + guest + ".bin", 1 << 20);
    EXPECT_TRUE(bytes.has_value()) << (bytes ? "" : bytes.error());
    cfg.raw_image = VmConfig::RawImage{bytes.value_or(std::vector<uint8_t>{}), 0x100000, 0x100000};
    cfg.extra_port_devices.push_back({0x510, 32, port_});
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

TEST_F(GuestTest, StartsInLongMode) {
  auto rec = run(config_for("long_mode"));
  EXPECT_EQ(rec.reason, ExitReason::guest_reset) << rec.message;
  auto cr0 = port_->value64(0), cr4 = port_->value64(8), efer = port_->value64(16);
  ASSERT_TRUE(cr0 && cr4 && efer) << "the guest did not report its registers";
  EXPECT_TRUE(*cr0 & 1) << "CR0.PE " << std::hex << *cr0;
  EXPECT_TRUE(*cr0 & (1ull << 31)) << "CR0.PG " << std::hex << *cr0;
  EXPECT_TRUE(*cr4 & (1 << 5)) << "CR4.PAE " << std::hex << *cr4;
  EXPECT_TRUE(*efer & (1 << 8)) << "EFER.LME " << std::hex << *efer;
  EXPECT_TRUE(*efer & (1 << 10)) << "EFER.LMA " << std::hex << *efer;
}

TEST_F(GuestTest, UartOutputReachesRingAndSink) {
  auto cfg = config_for("uart_hello");
  std::string sunk;
  std::mutex mu;
  cfg.console_sink = [&](std::string_view s) {
    std::lock_guard lock(mu);
    sunk += s;
  };
  auto rec = run(std::move(cfg));
  EXPECT_EQ(rec.reason, ExitReason::guest_reset) << rec.message;
  EXPECT_EQ(rec.console_tail, "hello\n");
  EXPECT_EQ(sunk, "hello\n");
}

TEST_F(GuestTest, I8042ResetEndsAsGuestReset) {
  auto rec = run(config_for("i8042_reset"));
  EXPECT_EQ(rec.reason, ExitReason::guest_reset) << rec.message;
  EXPECT_NE(rec.message.find("i8042"), std::string::npos) << rec.message;
}

TEST_F(GuestTest, UnknownPortsAndMmioAreHarmless) {
  auto rec = run(config_for("hostile_probe"));
  EXPECT_EQ(rec.reason, ExitReason::guest_reset) << rec.message;
  EXPECT_EQ(port_->value(0), 0xffu) << "a read of an absent port returns all ones";
  EXPECT_EQ(port_->value(8), 0xffffffffu) << "a read of unmapped MMIO returns all ones";
}

TEST_F(GuestTest, TripleFaultEndsAsGuestShutdown) {
  auto rec = run(config_for("triple_fault"));
  EXPECT_EQ(rec.reason, ExitReason::guest_shutdown) << rec.message;
}

TEST_F(GuestTest, EndlessLoopEndsAtWallLimit) {
  auto cfg = config_for("spin");
  cfg.wall_limit = 500ms;
  auto t0 = std::chrono::steady_clock::now();
  auto rec = run(std::move(cfg));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(rec.reason, ExitReason::wall_limit) << rec.message;
  EXPECT_GE(took, 500ms);
  EXPECT_LT(took, 10s);
}

TEST_F(GuestTest, StopFromAnotherThreadEndsSpinningGuest) {
  Vm vm(config_for("spin"));
  ASSERT_TRUE(vm.start().has_value());
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(vm.poll().has_value()) << "the guest ended by itself";
  std::thread stopper([&] { vm.stop(); });
  auto rec = vm.wait();
  stopper.join();
  EXPECT_EQ(rec.reason, ExitReason::stopped) << rec.message;
}

TEST_F(GuestTest, StopEndsHaltedGuest) {
  Vm vm(config_for("halt"));
  ASSERT_TRUE(vm.start().has_value());
  std::this_thread::sleep_for(200ms);
  vm.stop();
  auto rec = vm.wait();
  EXPECT_EQ(rec.reason, ExitReason::stopped) << rec.message;
}

TEST_F(GuestTest, SeveralVcpusStartAndStop) {
  auto cfg = config_for("uart_hello");
  cfg.vcpus = 2;  // the AP waits for INIT/SIPI that never comes; the BSP prints and resets
  auto rec = run(std::move(cfg));
  EXPECT_EQ(rec.reason, ExitReason::guest_reset) << rec.message;
  EXPECT_EQ(rec.console_tail, "hello\n");
}

TEST_F(GuestTest, DestructorWithoutWaitReleasesEverything) {
  Vm vm(config_for("spin"));
  ASSERT_TRUE(vm.start().has_value());
  // Leaving scope without stop()/wait(): the destructor must end and join everything.
}

// A stand-in for vmm/kvm/virtio/'s MmioTransport with the interface agreed for it (see
// virtio_attach.hpp): a BusDevice with queue_notify(), num_queues(), watched_fds().
class StandInTransport : public BusDevice {
 public:
  struct Watched {
    int fd;
    std::function<void()> on_readable;
  };
  explicit StandInTransport(int irq_fd) : irq_fd_(irq_fd), extra_(eventfd(0, EFD_CLOEXEC)) {}
  ~StandInTransport() override { ::close(extra_); }
  void read(uint64_t offset, std::span<uint8_t> data) override {
    std::lock_guard lock(mu_);
    uint32_t v = offset == 0 ? 0x74726976 : offset == 4 ? (notified_.size() >= 2 ? 1 : 0) : 0;
    std::memcpy(data.data(), &v, std::min<size_t>(data.size(), 4));
  }
  void write(uint64_t offset, std::span<const uint8_t>) override {
    std::lock_guard lock(mu_);
    trapped_writes_.push_back(offset);
  }
  void queue_notify(uint16_t q) {
    std::lock_guard lock(mu_);
    notified_.push_back(q);
    uint64_t one = 1;
    if (::write(irq_fd_, &one, sizeof one) != sizeof one) irq_failed_ = true;
  }
  uint16_t num_queues() const { return 2; }
  std::vector<Watched> watched_fds() {
    return {{extra_, [this] {
               uint64_t n;
               if (::read(extra_, &n, sizeof n) == sizeof n) watched_fired_ = true;
             }}};
  }

  std::mutex mu_;
  int irq_fd_;
  int extra_;
  std::vector<uint16_t> notified_;
  std::vector<uint64_t> trapped_writes_;
  std::atomic<bool> watched_fired_{false};
  bool irq_failed_ = false;
};

TEST_F(GuestTest, VirtioQueueNotifyGoesThroughIoeventfd) {
  auto cfg = config_for("virtio_notify");
  std::shared_ptr<StandInTransport> dev;
  cfg.virtio_devices.push_back(attach_virtio([&](const GuestMemory&, int irq_fd) {
    dev = std::make_shared<StandInTransport>(irq_fd);
    // The event loop watches the device's fds: make this one readable.
    uint64_t one = 1;
    EXPECT_EQ(::write(dev->extra_, &one, sizeof one), 8);
    return dev;
  }));
  auto rec = run(std::move(cfg));
  EXPECT_EQ(rec.reason, ExitReason::guest_reset) << rec.message;
  ASSERT_TRUE(dev);
  EXPECT_EQ(port_->value(0), 0x74726976u) << "MMIO reads reach the transport";
  std::lock_guard lock(dev->mu_);
  EXPECT_EQ(dev->notified_, (std::vector<uint16_t>{1, 0}));
  EXPECT_TRUE(dev->trapped_writes_.empty()) << "QueueNotify was trapped, not an ioeventfd";
  EXPECT_TRUE(dev->watched_fired_.load());
  EXPECT_FALSE(dev->irq_failed_) << "the irqfd could not be written";
}

TEST_F(GuestTest, BadKernelIsAnErrorNotACrash) {
  VmConfig cfg;
  cfg.kernel = "/proc/self/status";  // not a kernel
  cfg.mem_mib = 16;
  Vm vm(std::move(cfg));
  auto started = vm.start();
  ASSERT_FALSE(started.has_value());
  EXPECT_NE(started.error().find("kernel"), std::string::npos) << started.error();
  EXPECT_EQ(vm.wait().reason, ExitReason::error);
}

}  // namespace
}  // namespace berth::vmm::kvm

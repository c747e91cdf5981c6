// Synthetic guests (tests/vmm/guests/*.S) run by the real monitor: long mode, UART output, the
// i8042 reset, a guest poking unknown ports and MMIO, a triple fault, the wall limit, stop()
// from another thread. After each, no fd or thread of the VM may be left.
// virtio-net through real KVM is in virtio_net_guest_test.cpp; the fixture in guest_fixture.hpp.
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/vmm/guest_fixture.hpp"
#include "vmm/kvm/virtio_attach.hpp"

namespace berth::vmm::kvm {
namespace {

using namespace std::chrono_literals;
using test::GuestTest;

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

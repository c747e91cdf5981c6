#pragma once
// One microVM: the KVM VM, its memory, devices, vCPU threads and event loop, from start() to the
// exit record. Built by one linear recipe in start() (vm.cpp), torn down in reverse by RAII.
//
// Threads: one per vCPU (KVM_RUN and the port/MMIO exits it takes) and one event loop (ioeventfds,
// TAPs, the wall-limit timer). The first end — guest reset, triple fault, wall limit, stop(),
// monitor error — is recorded; it stops every other thread (kvm_run::immediate_exit plus a
// signal for vCPUs, an eventfd for the loop).
//
// Thread-safety: start() once, from one thread. stop(), poll() and console_tail() from any thread
// at any time; wait() from any thread, any number of times (all get the same record). The
// destructor stops and joins every thread; fds, mappings and devices go with the object, so
// nothing of the VM outlives it however it ended.
#include <pthread.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <expected>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "vmm/kvm/console_ring.hpp"
#include "vmm/kvm/event_loop.hpp"
#include "vmm/kvm/guest_memory.hpp"
#include "vmm/kvm/i8042.hpp"
#include "vmm/kvm/io_bus.hpp"
#include "vmm/kvm/kvm_system.hpp"
#include "vmm/kvm/unique_fd.hpp"
#include "vmm/kvm/vcpu.hpp"
#include "vmm/kvm/vm_config.hpp"

namespace berth::vmm::kvm {

class Serial;

class Vm {
 public:
  explicit Vm(VmConfig config);
  ~Vm();
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  // Creates and boots the VM; returns once every vCPU runs. On error nothing is left running and
  // wait() returns the error too.
  std::expected<void, std::string> start();
  // Blocks until the VM ended and all its threads are joined.
  ExitRecord wait();
  // The record once the VM ended (threads may still be winding down), without blocking.
  std::optional<ExitRecord> poll() const;
  // Ends the VM (reason `stopped` unless it already ended). Does not block on the threads.
  void stop();
  std::string console_tail() const { return ring_ ? ring_->tail() : std::string(); }
  // The kernel command line as the guest got it (with virtio_mmio.device= entries).
  const std::string& effective_cmdline() const { return cmdline_; }

 private:
  std::expected<void, std::string> create_vm();
  std::expected<void, std::string> add_legacy_devices();
  std::expected<void, std::string> add_virtio_devices();
  std::expected<void, std::string> load_guest();
  std::expected<void, std::string> create_vcpus(const struct BootSetup& boot);
  std::expected<void, std::string> arm_wall_limit();
  std::expected<void, std::string> start_threads();
  std::expected<UniqueFd, std::string> make_irqfd(uint32_t gsi);
  void vcpu_thread(size_t index);
  void finish(ExitReason reason, std::string message);
  void kick_vcpus();
  void join_threads();
  ExitRecord record_with_tail() const;

  VmConfig cfg_;
  std::string cmdline_;
  std::chrono::steady_clock::time_point started_;

  // Declaration order is teardown order, reversed: threads are joined explicitly first, then the
  // loop, devices, vCPUs, the VM fd, and guest memory last (KVM's memslots point into it).
  GuestMemory mem_;
  std::optional<KvmSystem> kvm_;
  UniqueFd vm_fd_;
  std::shared_ptr<ConsoleRing> ring_;
  IoBus pio_{"port"};
  IoBus mmio_{"mmio"};
  std::vector<UniqueFd> irqfds_;
  std::vector<UniqueFd> ioeventfds_;
  UniqueFd wall_timer_;
  std::shared_ptr<Serial> serial_;
  std::unique_ptr<I8042> i8042_;
  std::vector<VirtioDeviceHandle> virtio_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  std::unique_ptr<EventLoop> loop_;

  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;  // guards ended_, record_
  std::condition_variable cv_;
  bool ended_ = false;
  ExitRecord record_;

  std::mutex threads_mu_;             // guards handles_, live_ (kicks vs. thread exit)
  std::vector<std::thread> threads_;  // filled by start_threads(), joined by join_threads()
  std::vector<pthread_t> handles_;    // what kick_vcpus() signals, while live_[i]
  std::vector<bool> live_;
  std::mutex join_mu_;  // one joiner at a time
};

}  // namespace berth::vmm::kvm

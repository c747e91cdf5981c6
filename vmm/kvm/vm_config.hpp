#pragma once
// What a caller gives a Vm (vm.hpp) and what it gets back when the VM ends.
#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/kvm/bus_device.hpp"
#include "vmm/kvm/guest_memory.hpp"

namespace berth::vmm::kvm {

enum class ExitReason {
  guest_reset,     // the guest rebooted (i8042 0xFE, port 0x92/0xCF9) or powered off
  guest_shutdown,  // triple fault (KVM_EXIT_SHUTDOWN): a crash before the guest could reboot
  wall_limit,      // VmConfig::wall_limit passed
  stopped,         // Vm::stop() was called (or the guest halted with no way to wake)
  error,           // the monitor could not go on: failed entry, KVM internal error, ...
};

std::string_view to_string(ExitReason r);

struct ExitRecord {
  ExitReason reason = ExitReason::error;
  std::string message;                    // what happened, for logs and the user
  std::string console_tail;               // the last bytes of serial output (ConsoleRing)
  std::chrono::milliseconds run_time{0};  // start() to the end
};

// A device's fd the event loop watches (a TAP, a timer): on_readable runs on the loop thread.
struct WatchedFd {
  int fd = -1;
  std::function<void()> on_readable;
};

// A virtio-mmio device as the monitor wires it (vmm/kvm/virtio/ builds these; virtio_attach.hpp
// adapts an MmioTransport): the register window, the QueueNotify path and the fds to watch.
struct VirtioDeviceHandle {
  std::shared_ptr<BusDevice> mmio;  // registered at its 4 KiB window
  std::function<void(uint16_t queue)> queue_notify;
  uint16_t num_queues = 0;
  std::vector<WatchedFd> watched_fds;
};
// Called once during start() with the guest's memory (valid as long as the Vm) and the irqfd
// (an eventfd bound to the device's GSI; writing 1 to it interrupts the guest). The device keeps
// using both until the Vm is destroyed; the Vm owns and closes the fd after the device is gone.
using VirtioFactory =
    std::function<std::expected<VirtioDeviceHandle, std::string>(const GuestMemory&, int irq_fd)>;

// A device on the port I/O bus for tests and debugging (e.g. a port a synthetic guest reports
// register values through).
struct PortDevice {
  uint16_t port = 0;
  uint16_t len = 1;
  std::shared_ptr<BusDevice> device;
};

struct VmConfig {
  std::string name = "vm";       // prefix of every log line (the job id in the runtime)
  std::filesystem::path kernel;  // bzImage or ELF vmlinux
  std::filesystem::path initrd;  // optional
  std::string cmdline;           // virtio_mmio.device=... entries are appended
  uint32_t mem_mib = 256;
  uint32_t vcpus = 1;
  // Console output as the guest writes it, byte runs in order, on a vCPU thread. Optional.
  std::function<void(std::string_view)> console_sink;
  size_t console_ring_bytes = 64 * 1024;
  std::optional<std::chrono::milliseconds> wall_limit;
  std::vector<VirtioFactory> virtio_devices;  // device i: MMIO 0xd0000000 + i*0x1000, GSI 5+i

  // Test/debug entry: instead of a kernel, a flat 64-bit binary loaded at load_addr and entered
  // in long mode at entry (no boot_params, no MP table).
  struct RawImage {
    std::vector<uint8_t> bytes;
    uint64_t load_addr = 0x100000;
    uint64_t entry = 0x100000;
  };
  std::optional<RawImage> raw_image;
  std::vector<PortDevice> extra_port_devices;
  const char* kvm_path = "/dev/kvm";
  // An open /dev/kvm to use instead of kvm_path (the Vm takes it over); -1: open kvm_path.
  int kvm_fd = -1;
  // Each vCPU thread and the event-loop thread load a seccomp allowlist for themselves
  // (thread_filter.hpp). Off only to debug the monitor (berth-vmm --no-seccomp).
  bool seccomp = true;
};

}  // namespace berth::vmm::kvm

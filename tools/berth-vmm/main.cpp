// berth-vmm: runs one microVM in our KVM monitor (vmm/kvm/) with the console on this terminal,
// and tells by its exit status how the VM ended. The tool to debug a kernel or image by hand.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "vmm/kvm/virtio_attach.hpp"
#include "vmm/kvm/vm.hpp"

#if __has_include("vmm/kvm/virtio/net_device.hpp") && __has_include(                              \
                                                          "vmm/kvm/virtio/mmio_transport.hpp") && \
                                                          __has_include("vmm/kvm/virtio/tap.hpp")
#include "vmm/kvm/virtio/mmio_transport.hpp"
#include "vmm/kvm/virtio/net_device.hpp"
#include "vmm/kvm/virtio/tap.hpp"
#define BERTH_VMM_HAVE_VIRTIO_NET 1
#endif

namespace kvm = berth::vmm::kvm;

namespace {

// Exit statuses; keep in sync with the --help footer.
enum Status : int {
  kGuestReset = 0,     // the guest rebooted or powered off
  kMonitorError = 1,   // start failed or the monitor hit an error
  kUsage = 2,          // bad command line
  kGuestShutdown = 3,  // triple fault
  kWallLimit = 4,      // --wall-limit passed
  kStopped = 5,        // SIGINT/SIGTERM, or the guest halted for good
  kGuestPanic = 6,     // the guest rebooted after "Kernel panic" (panic=-1)
};

constexpr const char* kFooter =
    "Exit status:\n"
    "  0  the guest reset or powered off (reboot through i8042, port 0x92 or 0xcf9)\n"
    "  1  monitor error (no /dev/kvm, bad kernel, ...; the reason is printed)\n"
    "  2  bad command line\n"
    "  3  guest shutdown: a triple fault\n"
    "  4  the wall limit passed\n"
    "  5  stopped by SIGINT/SIGTERM, or a vCPU halted\n"
    "  6  the guest rebooted after a kernel panic (the console shows \"Kernel panic\")\n";

constexpr const char* kDefaultCmdline =
    "console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.dumbkbd";

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;  // the vCPU kick signal can land here
      return;
    }
    s.remove_prefix(static_cast<size_t>(n));
  }
}

// VmHWM from /proc/self/status: the process's peak resident set, in KiB.
long long peak_rss_kib() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long long kib = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "VmHWM: %lld kB", &kib) == 1) break;
  std::fclose(f);
  return kib;
}

}  // namespace

int main(int argc, char** argv) {
  const auto t0 = std::chrono::steady_clock::now();
  CLI::App app{"berth-vmm: boot a Linux kernel in berth's KVM monitor, console on the terminal"};
  app.footer(kFooter);
  kvm::VmConfig cfg;
  cfg.name = "berth-vmm";
  std::string tap;
  double wall_limit = 0;
  bool verbose = false;
  bool stats = false;
  bool no_seccomp = false;
  cfg.cmdline = kDefaultCmdline;
  app.add_option("--kernel", cfg.kernel, "bzImage or ELF vmlinux")->required();
  app.add_option("--initrd", cfg.initrd, "initramfs (cpio, optionally compressed)");
  app.add_option("--cmdline", cfg.cmdline, "kernel command line")->capture_default_str();
  app.add_option("--mem", cfg.mem_mib, "guest memory in MiB")->capture_default_str();
  app.add_option("--vcpus", cfg.vcpus, "number of vCPUs")->capture_default_str();
  app.add_option("--tap", tap, "attach a virtio-net NIC on this TAP device (created if missing)");
  app.add_option("--wall-limit", wall_limit, "end the VM after this many seconds (0: never)");
  app.add_flag("-v,--verbose", verbose, "log the monitor's debug messages (unhandled ports, ...)");
  app.add_flag("--stats", stats,
               "at exit, print to stderr: ms from process start to the first console byte and to "
               "the end, and the peak RSS (VmHWM, guest RAM the guest touched included)");
  app.add_flag("--no-seccomp", no_seccomp,
               "do not load the seccomp filters of the vCPU and event-loop threads (to find out "
               "whether a failure is a call the filters refuse)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kUsage;
  }
  // Log lines go to stderr so they never mix into the console on stdout.
  spdlog::set_default_logger(spdlog::stderr_color_mt("berth-vmm"));
  spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::warn);

  cfg.seccomp = !no_seccomp;
  if (wall_limit > 0)
    cfg.wall_limit = std::chrono::milliseconds(static_cast<int64_t>(wall_limit * 1000));
  if (!tap.empty()) {
#ifdef BERTH_VMM_HAVE_VIRTIO_NET
    cfg.virtio_devices.push_back(kvm::attach_virtio(
        [tap](const kvm::GuestMemory& mem, int irq_fd)
            -> std::expected<std::shared_ptr<kvm::virtio::MmioTransport>, std::string> {
          auto t = kvm::virtio::open_tap(tap);
          if (!t) return std::unexpected(t.error());
          // A locally administered unicast MAC (bit 1 of the first byte set, bit 0 clear).
          kvm::virtio::MacAddress mac{0x06, 0xbe, 0x87, 0x00, 0x00, 0x01};
          auto net = kvm::virtio::NetDevice::create(std::move(t->fd), mac);
          if (!net) return std::unexpected(net.error());
          return std::make_shared<kvm::virtio::MmioTransport>(mem, std::move(*net), irq_fd);
        }));
#else
    std::fprintf(stderr, "berth-vmm: --tap: virtio-net is not built yet\n");
    return kMonitorError;
#endif
  }

  // First console byte: the time from process start, for boot measurements (--stats).
  std::atomic<int64_t> first_byte_ms{-1};
  cfg.console_sink = [&](std::string_view s) {
    if (first_byte_ms.load(std::memory_order_relaxed) < 0)
      first_byte_ms.store(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - t0)
                              .count());
    write_all(STDOUT_FILENO, s);
  };

  // SIGINT/SIGTERM end the VM cleanly. Blocked here so every thread inherits the mask; one
  // thread takes them with sigtimedwait (the vCPU kick signal stays unblocked in vCPU threads).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  kvm::Vm vm(std::move(cfg));
  std::atomic<bool> done{false};
  std::thread signals([&] {
    timespec tick{0, 200 * 1000 * 1000};
    while (!done.load()) {
      if (sigtimedwait(&stop_signals, nullptr, &tick) > 0) vm.stop();
    }
  });
  auto started = vm.start();
  if (!started) std::fprintf(stderr, "berth-vmm: %s\n", started.error().c_str());
  kvm::ExitRecord rec = vm.wait();
  done.store(true);
  signals.join();
  if (!started) return kMonitorError;

  std::fprintf(stderr, "\nberth-vmm: %s: %s (%lld ms)\n",
               std::string(kvm::to_string(rec.reason)).c_str(), rec.message.c_str(),
               static_cast<long long>(rec.run_time.count()));
  if (stats) {
    auto end_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    std::fprintf(stderr, "berth-vmm: stats: first_console_ms=%lld end_ms=%lld vm_hwm_kib=%lld\n",
                 static_cast<long long>(first_byte_ms.load()), static_cast<long long>(end_ms),
                 peak_rss_kib());
  }
  switch (rec.reason) {
    case kvm::ExitReason::guest_reset:
      return rec.console_tail.find("Kernel panic") != std::string::npos ? kGuestPanic : kGuestReset;
    case kvm::ExitReason::guest_shutdown:
      return kGuestShutdown;
    case kvm::ExitReason::wall_limit:
      return kWallLimit;
    case kvm::ExitReason::stopped:
      return kStopped;
    case kvm::ExitReason::error:
      return kMonitorError;
  }
  return kMonitorError;
}

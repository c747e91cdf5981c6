#include "vmm/kvm/vm.hpp"

#include <utility>

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>

#include <cerrno>
#include <cstring>

#include "vmm/kvm/linux_boot.hpp"
#include "vmm/kvm/memory_map.hpp"
#include "vmm/kvm/mptable.hpp"
#include "vmm/kvm/reset_ports.hpp"
#include "vmm/kvm/serial.hpp"
#include "vmm/kvm/thread_filter.hpp"
#include "vmm/kvm/vcpu_loop.hpp"

namespace berth::vmm::kvm {

namespace {

std::string err(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

constexpr uint32_t kI8042Gsi = 1;
// virtio-mmio register offsets the monitor itself needs (virtio 1.2 §4.2.2).
constexpr uint64_t kVirtioQueueNotify = 0x50;
constexpr uint64_t kMaxMemMib = 64 * 1024;

}  // namespace

Vm::Vm(VmConfig config) : cfg_(std::move(config)) {
  ring_ = std::make_shared<ConsoleRing>(cfg_.console_ring_bytes);
}

Vm::~Vm() {
  stop();
  join_threads();
  // Devices may still hold callbacks into the loop; the loop goes first (its thread is joined).
  loop_.reset();
}

std::expected<void, std::string> Vm::start() {
  if (started_ != std::chrono::steady_clock::time_point{})
    return std::unexpected("Vm::start() called twice; a Vm runs once");
  started_ = std::chrono::steady_clock::now();
  // The recipe, top to bottom. Any failure leaves the object to tear down what exists.
  auto recipe = [&]() -> std::expected<void, std::string> {
    if (auto r = create_vm(); !r) return r;
    if (auto r = add_legacy_devices(); !r) return r;
    if (auto r = add_virtio_devices(); !r) return r;
    if (auto r = load_guest(); !r) return r;
    if (auto r = arm_wall_limit(); !r) return r;
    return start_threads();
  };
  auto r = recipe();
  if (!r) {
    spdlog::error("[{}] vmm: start failed: {}", cfg_.name, r.error());
    finish(ExitReason::error, r.error());
    join_threads();
  }
  return r;
}

std::expected<void, std::string> Vm::create_vm() {
  if (cfg_.vcpus == 0 || cfg_.vcpus > kMpTableMaxCpus)
    return std::unexpected("vcpus must be 1.." + std::to_string(kMpTableMaxCpus) + ", not " +
                           std::to_string(cfg_.vcpus));
  if (cfg_.mem_mib < 2 || cfg_.mem_mib > kMaxMemMib)
    return std::unexpected("memory must be 2.." + std::to_string(kMaxMemMib) + " MiB, not " +
                           std::to_string(cfg_.mem_mib));
  auto kvm = cfg_.kvm_fd >= 0 ? KvmSystem::adopt(UniqueFd(std::exchange(cfg_.kvm_fd, -1)),
                                                 "the /dev/kvm descriptor")
                              : KvmSystem::open(cfg_.kvm_path);
  if (!kvm) return std::unexpected(kvm.error());
  kvm_.emplace(std::move(*kvm));
  if (static_cast<int>(cfg_.vcpus) > kvm_->max_vcpus())
    return std::unexpected("this host supports " + std::to_string(kvm_->max_vcpus()) +
                           " vCPUs per VM, not " + std::to_string(cfg_.vcpus));

  auto mem = GuestMemory::create(uint64_t{cfg_.mem_mib} << 20);
  if (!mem) return std::unexpected(mem.error());
  mem_ = std::move(*mem);

  vm_fd_.reset(ioctl(kvm_->fd(), KVM_CREATE_VM, 0));
  if (!vm_fd_) return std::unexpected(err("KVM_CREATE_VM"));
  // Both must precede vCPU creation (api.rst: KVM_SET_IDENTITY_MAP_ADDR).
  uint64_t identity = layout::kIdentityMap;
  if (ioctl(vm_fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0)
    return std::unexpected(err("KVM_SET_IDENTITY_MAP_ADDR"));
  if (ioctl(vm_fd_.get(), KVM_SET_TSS_ADDR, layout::kTss) < 0)
    return std::unexpected(err("KVM_SET_TSS_ADDR"));
  if (ioctl(vm_fd_.get(), KVM_CREATE_IRQCHIP, 0) < 0)
    return std::unexpected(err("KVM_CREATE_IRQCHIP"));
  kvm_pit_config pit{};
  // The speaker port (0x61) is answered in the kernel too: Linux pokes it while calibrating.
  pit.flags = KVM_PIT_SPEAKER_DUMMY;
  if (ioctl(vm_fd_.get(), KVM_CREATE_PIT2, &pit) < 0)
    return std::unexpected(err("KVM_CREATE_PIT2"));
  uint32_t slot = 0;
  for (const auto& region : mem_.regions()) {
    kvm_userspace_memory_region m{};
    m.slot = slot++;
    m.guest_phys_addr = region.guest_addr;
    m.memory_size = region.size;
    m.userspace_addr = reinterpret_cast<uint64_t>(region.host);
    if (ioctl(vm_fd_.get(), KVM_SET_USER_MEMORY_REGION, &m) < 0)
      return std::unexpected(err("KVM_SET_USER_MEMORY_REGION"));
  }
  auto loop = EventLoop::create();
  if (!loop) return std::unexpected(loop.error());
  loop_ = std::move(*loop);
  return {};
}

std::expected<UniqueFd, std::string> Vm::make_irqfd(uint32_t gsi) {
  UniqueFd fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd) return std::unexpected(err("eventfd"));
  kvm_irqfd irqfd{};
  irqfd.fd = static_cast<uint32_t>(fd.get());
  irqfd.gsi = gsi;
  if (ioctl(vm_fd_.get(), KVM_IRQFD, &irqfd) < 0)
    return std::unexpected(err("KVM_IRQFD for GSI " + std::to_string(gsi)));
  return fd;
}

std::expected<void, std::string> Vm::add_legacy_devices() {
  auto pulse = [](int fd) {
    return [fd] {
      uint64_t one = 1;
      // EAGAIN only when the counter is saturated: an interrupt is pending anyway.
      if (::write(fd, &one, sizeof one) < 0) {
      }
    };
  };
  auto serial_irq = make_irqfd(layout::kSerialGsi);
  if (!serial_irq) return std::unexpected(serial_irq.error());
  int serial_fd = serial_irq->get();
  irqfds_.push_back(std::move(*serial_irq));
  serial_ = std::make_shared<Serial>(ring_, cfg_.console_sink, pulse(serial_fd));
  if (auto r = pio_.add(kCom1Port, kSerialPorts, serial_); !r) return r;

  auto kbd_irq = make_irqfd(kI8042Gsi);
  if (!kbd_irq) return std::unexpected(kbd_irq.error());
  int kbd_fd = kbd_irq->get();
  irqfds_.push_back(std::move(*kbd_irq));
  auto on_reset = [this](const char* how) {
    return [this, how] { finish(ExitReason::guest_reset, std::string("guest reset via ") + how); };
  };
  i8042_ = std::make_unique<I8042>(on_reset("i8042"), pulse(kbd_fd));
  if (auto r = pio_.add(kI8042DataPort, 1, i8042_->data_port()); !r) return r;
  if (auto r = pio_.add(kI8042CommandPort, 1, i8042_->command_port()); !r) return r;
  if (auto r = pio_.add(
          kPort92, 1, std::make_shared<ResetPort>(ResetPort::Kind::port92, on_reset("port 0x92")));
      !r)
    return r;
  if (auto r = pio_.add(kPortCf9, 1,
                        std::make_shared<ResetPort>(ResetPort::Kind::cf9, on_reset("port 0xcf9")));
      !r)
    return r;
  for (const auto& d : cfg_.extra_port_devices)
    if (auto r = pio_.add(d.port, d.len, d.device); !r) return r;
  return {};
}

// Interrupts of virtio-mmio devices: the transport writes its irqfd whenever it sets a bit in
// InterruptStatus. KVM turns each irqfd write into a pulse on the GSI (kvm_set_irq 1 then 0), an
// edge on the in-kernel IOAPIC pin, which the MP table declares as ISA (edge, active high). Level
// semantics are recovered the way Firecracker does it: the guest's handler (vm_interrupt() in
// Linux's virtio_mmio.c) reads InterruptStatus, handles every pending cause and acknowledges them
// through InterruptACK, so a cause raised while the handler runs gets its own new edge and none is
// lost. No resample fd (KVM_IRQFD_FLAG_RESAMPLE) is needed for that.
std::expected<void, std::string> Vm::add_virtio_devices() {
  cmdline_ = cfg_.cmdline;
  for (size_t i = 0; i < cfg_.virtio_devices.size(); ++i) {
    uint64_t base = layout::kVirtioBase + i * layout::kVirtioStride;
    uint32_t gsi = layout::kVirtioFirstGsi + static_cast<uint32_t>(i);
    if (gsi > layout::kMaxGsi)
      return std::unexpected("too many virtio devices: GSI " + std::to_string(gsi) +
                             " is past the IOAPIC's 24 pins");
    auto irq = make_irqfd(gsi);
    if (!irq) return std::unexpected(irq.error());
    int irq_fd = irq->get();
    irqfds_.push_back(std::move(*irq));
    auto dev = cfg_.virtio_devices[i](mem_, irq_fd);
    if (!dev) return std::unexpected("virtio device " + std::to_string(i) + ": " + dev.error());
    if (!dev->mmio) return std::unexpected("virtio device " + std::to_string(i) + " has no MMIO");
    if (auto r = mmio_.add(base, layout::kVirtioStride, dev->mmio); !r) return r;
    // One ioeventfd per queue: the guest's write of the queue index to QueueNotify completes in
    // the kernel and wakes the event loop, without a vCPU exit to us.
    for (uint16_t q = 0; q < dev->num_queues; ++q) {
      UniqueFd efd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      if (!efd) return std::unexpected(err("eventfd"));
      kvm_ioeventfd io{};
      io.datamatch = q;
      io.addr = base + kVirtioQueueNotify;
      io.len = 4;
      io.fd = efd.get();
      io.flags = KVM_IOEVENTFD_FLAG_DATAMATCH;
      if (ioctl(vm_fd_.get(), KVM_IOEVENTFD, &io) < 0)
        return std::unexpected(err("KVM_IOEVENTFD for virtio device " + std::to_string(i)));
      int fd = efd.get();
      auto notify = dev->queue_notify;
      auto added = loop_->add(fd, [fd, q, notify] {
        uint64_t n;
        if (::read(fd, &n, sizeof n) == sizeof n && notify) notify(q);
      });
      if (!added) return std::unexpected(added.error());
      ioeventfds_.push_back(std::move(efd));
    }
    for (const auto& w : dev->watched_fds)
      if (auto r = loop_->add(w.fd, w.on_readable); !r) return r;
    char entry[64];
    std::snprintf(entry, sizeof entry, " virtio_mmio.device=4K@0x%llx:%u",
                  static_cast<unsigned long long>(base), gsi);
    cmdline_ += entry;
    virtio_.push_back(std::move(*dev));
  }
  return {};
}

std::expected<void, std::string> Vm::load_guest() {
  std::expected<BootSetup, std::string> boot;
  if (cfg_.raw_image) {
    boot = setup_raw_boot(mem_, cfg_.raw_image->bytes, cfg_.raw_image->load_addr,
                          cfg_.raw_image->entry);
  } else {
    if (cfg_.kernel.empty()) return std::unexpected("no kernel given");
    auto kernel = read_file(cfg_.kernel, mem_.size());
    if (!kernel) return std::unexpected("kernel: " + kernel.error());
    std::vector<uint8_t> initrd;
    if (!cfg_.initrd.empty()) {
      auto r = read_file(cfg_.initrd, mem_.size());
      if (!r) return std::unexpected("initramfs: " + r.error());
      initrd = std::move(*r);
    }
    boot = setup_linux_boot(mem_, *kernel, initrd, cmdline_, cfg_.vcpus);
  }
  if (!boot) return std::unexpected(boot.error());
  spdlog::info("[{}] vmm: {} loaded at {:#x}..{:#x}, entry {:#x}, {} MiB, {} vCPU(s){}", cfg_.name,
               boot->kernel_format, boot->kernel_load, boot->kernel_end, boot->entry, cfg_.mem_mib,
               cfg_.vcpus,
               boot->initrd_size ? fmt::format(", initramfs {} KiB at {:#x}",
                                               boot->initrd_size >> 10, boot->initrd_addr)
                                 : std::string());
  return create_vcpus(*boot);
}

std::expected<void, std::string> Vm::create_vcpus(const BootSetup& boot) {
  for (uint32_t i = 0; i < cfg_.vcpus; ++i) {
    auto v = Vcpu::create(*kvm_, vm_fd_.get(), i);
    if (!v) return std::unexpected("vCPU " + std::to_string(i) + ": " + v.error());
    if (auto r = (*v)->configure(*kvm_, cfg_.vcpus, boot); !r)
      return std::unexpected("vCPU " + std::to_string(i) + ": " + r.error());
    vcpus_.push_back(std::move(*v));
  }
  return {};
}

std::expected<void, std::string> Vm::arm_wall_limit() {
  if (!cfg_.wall_limit) return {};
  wall_timer_.reset(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!wall_timer_) return std::unexpected(err("timerfd_create"));
  auto ms = cfg_.wall_limit->count();
  if (ms <= 0) ms = 1;
  itimerspec spec{};
  spec.it_value.tv_sec = ms / 1000;
  spec.it_value.tv_nsec = (ms % 1000) * 1000000;
  if (timerfd_settime(wall_timer_.get(), 0, &spec, nullptr) < 0)
    return std::unexpected(err("timerfd_settime"));
  auto limit = *cfg_.wall_limit;
  return loop_->add(wall_timer_.get(), [this, limit] {
    finish(ExitReason::wall_limit, fmt::format("wall limit of {} ms reached", limit.count()));
  });
}

std::expected<void, std::string> Vm::start_threads() {
  install_vcpu_kick_handler();
  EventLoop::ThreadHooks hooks;
  if (cfg_.seccomp) hooks.setup = [] { return install_event_loop_thread_filter(); };
  // A loop that cannot run leaves the guest without its devices: the VM ends.
  hooks.on_fatal = [this](std::string message) {
    finish(ExitReason::error, "event loop: " + std::move(message));
  };
  if (auto r = loop_->start(std::move(hooks)); !r) return r;
  std::lock_guard lock(threads_mu_);
  live_.assign(vcpus_.size(), false);
  handles_.assign(vcpus_.size(), pthread_t{});
  threads_.reserve(vcpus_.size());
  for (size_t i = 0; i < vcpus_.size(); ++i) {
    try {
      // The thread blocks on threads_mu_ before it can mark itself gone, so live_ is set first.
      threads_.emplace_back([this, i] { vcpu_thread(i); });
      handles_[i] = threads_.back().native_handle();
      live_[i] = true;
    } catch (const std::system_error& e) {
      return std::unexpected(std::string("vCPU thread: ") + e.what());
    }
  }
  return {};
}

void Vm::vcpu_thread(size_t index) {
  pthread_setname_np(pthread_self(), ("vcpu" + std::to_string(index)).substr(0, 15).c_str());
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, vcpu_kick_signal());
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  // Last, after what the filter would refuse (pthread_setname_np is prctl(PR_SET_NAME)). The
  // vCPU was configured before the thread started, so KVM_RUN is all the thread needs of it.
  VcpuEnd end;
  if (auto r = cfg_.seccomp ? install_vcpu_thread_filter(vcpus_[index]->fd())
                            : std::expected<void, std::string>{};
      !r)
    end = {ExitReason::error, "vCPU " + std::to_string(index) + ": " + r.error()};
  else
    end = run_vcpu_loop(*vcpus_[index], pio_, mmio_, stop_);
  if (!stop_.load() || end.reason != ExitReason::stopped) finish(end.reason, end.message);
  std::lock_guard lock(threads_mu_);
  live_[index] = false;
}

void Vm::finish(ExitReason reason, std::string message) {
  bool first = false;
  {
    std::lock_guard lock(mu_);
    if (!ended_) {
      first = true;
      ended_ = true;
      record_.reason = reason;
      record_.message = std::move(message);
      record_.run_time = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - started_);
    }
  }
  if (first && started_ != std::chrono::steady_clock::time_point{})
    spdlog::info("[{}] vmm: VM ended: {} ({}) after {} ms", cfg_.name, to_string(record_.reason),
                 record_.message, record_.run_time.count());
  stop_.store(true, std::memory_order_release);
  kick_vcpus();
  if (loop_) loop_->request_stop();
  cv_.notify_all();
}

void Vm::kick_vcpus() {
  std::lock_guard lock(threads_mu_);
  for (size_t i = 0; i < vcpus_.size(); ++i) {
    // immediate_exit makes a KVM_RUN entered after this point return at once; the signal
    // interrupts one already running.
    __atomic_store_n(&vcpus_[i]->run()->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (i < live_.size() && live_[i] && !pthread_equal(handles_[i], pthread_self()))
      pthread_kill(handles_[i], vcpu_kick_signal());
  }
}

void Vm::stop() {
  finish(ExitReason::stopped, "stopped by request");
}

void Vm::join_threads() {
  std::lock_guard join_lock(join_mu_);
  // Threads only end after finish(). threads_ is not resized after start_threads(), and kicks
  // use handles_, so joining needs no threads_mu_ (the threads take it to exit).
  for (auto& t : threads_)
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
  if (loop_) loop_->stop();
}

ExitRecord Vm::record_with_tail() const {
  std::lock_guard lock(mu_);
  ExitRecord r = record_;
  r.console_tail = ring_ ? ring_->tail() : std::string();
  return r;
}

ExitRecord Vm::wait() {
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return ended_; });
  }
  join_threads();
  return record_with_tail();
}

std::optional<ExitRecord> Vm::poll() const {
  {
    std::lock_guard lock(mu_);
    if (!ended_) return std::nullopt;
  }
  return record_with_tail();
}

}  // namespace berth::vmm::kvm

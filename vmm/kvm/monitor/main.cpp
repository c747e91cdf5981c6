// berth-monitor: one microVM's monitor as a process of its own, jailed (self_jail.hpp) before it
// touches anything the guest controls. The worker's kvm runtime (vmm/kvm/kvm_machine.cpp)
// spawns it with /dev/kvm, the TAP and a SOCK_SEQPACKET control socket as open descriptors and
// reads its MonitorEvents (messages/monitor_protocol.hpp); a guest that escapes the device
// models is left with an unprivileged uid of its own, an empty root, no network and no way to
// gain a capability.
#include <fcntl.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "messages/agent_auth.hpp"
#include "messages/codec.hpp"
#include "messages/monitor_protocol.hpp"
#include "vmm/kvm/monitor/self_jail.hpp"
#include "vmm/kvm/thread_filter.hpp"
#include "vmm/kvm/virtio/mmio_transport.hpp"
#include "vmm/kvm/virtio/net_device.hpp"
#include "vmm/kvm/virtio_attach.hpp"
#include "vmm/kvm/vm.hpp"

namespace kvm = berth::vmm::kvm;
namespace messages = berth::messages;

namespace {

int g_control = -1;

// Never blocks (the socket is non-blocking): a worker that does not read loses console lines,
// never stalls a vCPU. write(), not send(): it is on the threads' seccomp allowlists, and one
// write() on a SOCK_SEQPACKET socket is one datagram. SIGPIPE is ignored (main).
void send_event(const messages::MonitorEvent& e) {
  auto bytes = messages::encode(e);
  (void)!write(g_control, bytes.data(), bytes.size());
}

void send_console(std::string_view s) {
  constexpr size_t kChunk = messages::kMonitorEventMax - 256;
  while (!s.empty()) {
    auto part = s.substr(0, kChunk);
    s.remove_prefix(part.size());
    send_event({messages::MonitorEventType::console, std::string(part), {}, 0, {}});
  }
}

int failed(const std::string& why) {
  std::fprintf(stderr, "berth-monitor: %s\n", why.c_str());
  send_event({messages::MonitorEventType::failed, why, {}, 0, {}});
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"berth-monitor: one jailed microVM monitor, spawned by berth-worker"};
  kvm::VmConfig cfg;
  kvm::monitor::SelfJail jail;
  std::string mac_hex;
  int kvm_fd = -1, tap_fd = -1;
  uint32_t address_space_margin_mib = 512;
  app.add_option("--name", cfg.name, "log prefix (the job id)");
  app.add_option("--root", jail.root, "empty per-VM directory to chroot into")->required();
  app.add_option("--kernel", jail.kernel, "guest kernel (host path)")->required();
  app.add_option("--initrd", jail.initrd, "initramfs (host path)");
  app.add_option("--cmdline", cfg.cmdline, "guest kernel command line")->required();
  app.add_option("--mem", cfg.mem_mib, "guest memory in MiB")->required();
  app.add_option("--vcpus", cfg.vcpus, "vCPUs");
  app.add_option("--mac", mac_hex, "the NIC's MAC as 12 hex digits")->required();
  app.add_option("--kvm-fd", kvm_fd, "an open /dev/kvm")->required();
  app.add_option("--tap-fd", tap_fd, "an open TAP (IFF_VNET_HDR)")->required();
  app.add_option("--control-fd", g_control, "SOCK_SEQPACKET socket for MonitorEvents")->required();
  app.add_option("--uid", jail.uid, "the VM's own uid")->required();
  app.add_option("--gid", jail.gid, "the VM's own gid")->required();
  app.add_option("--address-space-margin-mib", address_space_margin_mib,
                 "RLIMIT_AS above guest RAM (thread stacks, libraries, device buffers)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  signal(SIGPIPE, SIG_IGN);  // a worker gone is a VM about to be killed, not a crash
  fcntl(g_control, F_SETFL, fcntl(g_control, F_GETFL) | O_NONBLOCK);
  spdlog::set_default_logger(spdlog::stderr_logger_mt("berth-monitor"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %l monitor: %v");
  auto mac_bytes = messages::from_hex(mac_hex);
  if (!mac_bytes || mac_bytes->size() != 6) return failed("--mac: want 12 hex digits");
  kvm::virtio::MacAddress mac;
  std::copy(mac_bytes->begin(), mac_bytes->end(), mac.begin());

  jail.keep_fds = {kvm_fd, tap_fd, g_control};
  jail.address_space_bytes = (uint64_t{cfg.mem_mib} + address_space_margin_mib) << 20;
  if (auto ok = kvm::monitor::enter(jail); !ok) return failed("jail: " + ok.error());

  cfg.kernel = kvm::monitor::kKernelInJail;
  if (!jail.initrd.empty()) cfg.initrd = kvm::monitor::kInitrdInJail;
  cfg.kvm_fd = kvm_fd;
  cfg.console_sink = send_console;
  std::string nic_name = "[" + cfg.name + "] virtio-net";
  cfg.virtio_devices.push_back(kvm::attach_virtio(
      [tap_fd, mac, nic_name](const kvm::GuestMemory& mem, int irq_fd)
          -> std::expected<std::shared_ptr<kvm::virtio::MmioTransport>, std::string> {
        auto net = kvm::virtio::NetDevice::create(kvm::UniqueFd(tap_fd), mac, nic_name);
        if (!net) return std::unexpected(net.error());
        return std::make_shared<kvm::virtio::MmioTransport>(mem, std::move(*net), irq_fd);
      }));

  kvm::Vm vm(std::move(cfg));
  if (auto ok = vm.start(); !ok) return failed("vm: " + ok.error());
  // The main thread only waits from here: the event-loop thread's allowlist (no ioctl) suits it.
  if (auto ok = kvm::install_event_loop_thread_filter(); !ok) {
    vm.stop();
    vm.wait();
    return failed(ok.error());
  }
  send_event({messages::MonitorEventType::started, {}, {}, 0, {}});
  kvm::ExitRecord rec = vm.wait();
  send_event({messages::MonitorEventType::exit, rec.message,
              std::string(kvm::to_string(rec.reason)), rec.run_time.count(),
              rec.console_tail.substr(
                  rec.console_tail.size() > 8192 ? rec.console_tail.size() - 8192 : 0)});
  return rec.reason == kvm::ExitReason::guest_reset ? 0 : 1;
}

#include "vmm/kvm/kvm_machine.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "vmm/kvm/virtio/mmio_transport.hpp"
#include "vmm/kvm/virtio/tap.hpp"
#include "vmm/kvm/virtio_attach.hpp"
#include "vmm/kvm/vm.hpp"
#include "vmm/net/bridge.hpp"
#include "vmm/net/ipv4.hpp"
#include "vmm/net/neighbour.hpp"
#include "vmm/net/port.hpp"
#include "vmm/net/veth.hpp"

namespace berth::vmm::kvm {

namespace fs = std::filesystem;

namespace {

// The kernel, its page tables and slab, the agent and the job's /work and /tmp use live beside
// the job's own memory; measured need is well under this.
constexpr uint32_t kKernelOverheadMib = 96;

// "initramfs_unpacked_bytes" from the image's metadata.json (images/image_store.cpp writes it);
// nullopt when there is none.
std::optional<uint64_t> unpacked_bytes(const fs::path& initramfs) {
  std::ifstream in(initramfs.parent_path() / "metadata.json");
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  auto text = ss.str();
  constexpr std::string_view key = "\"initramfs_unpacked_bytes\"";
  auto pos = text.find(key);
  if (pos == std::string::npos) return std::nullopt;
  pos = text.find(':', pos + key.size());
  if (pos == std::string::npos) return std::nullopt;
  ++pos;
  while (pos < text.size() && text[pos] == ' ') ++pos;
  uint64_t v = 0;
  bool any = false;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    v = v * 10 + static_cast<uint64_t>(text[pos++] - '0');
    any = true;
  }
  return any ? std::optional<uint64_t>(v) : std::nullopt;
}

uint32_t mib_up(uint64_t bytes) {
  return static_cast<uint32_t>((bytes + (1u << 20) - 1) >> 20);
}

}  // namespace

std::string tap_name(std::string_view job_id) {
  return "bt" + net::host_veth_name(job_id).substr(2);
}

std::expected<virtio::MacAddress, std::string> guest_mac(const std::string& guest_ip) {
  auto ip = net::Ipv4::parse(guest_ip);
  if (!ip) return std::unexpected("guest MAC: " + ip.error());
  uint32_t v = ip->value();
  return virtio::MacAddress{0x06,
                            0xb7,
                            static_cast<uint8_t>(v >> 24),
                            static_cast<uint8_t>(v >> 16),
                            static_cast<uint8_t>(v >> 8),
                            static_cast<uint8_t>(v)};
}

std::string kernel_cmdline(const MachineConfig& cfg) {
  // reboot=k: the agent's reboot resets through the i8042, which ends the VM as guest_reset;
  // panic=-1: a panicking guest reboots at once (the console tail shows the panic).
  std::string out =
      "console=ttyS0 reboot=k panic=-1 quiet i8042.noaux i8042.nomux i8042.dumbkbd"
      " berth.ip=" +
      cfg.net.guest_ip + "/" + std::to_string(cfg.net.prefix_len);
  if (!cfg.net.gateway_ip.empty()) out += " berth.gw=" + cfg.net.gateway_ip;
  out += " berth.iface=eth0";
  out += " berth.work_mib=" + std::to_string(std::max<uint64_t>(1, cfg.work_dir_bytes >> 20));
  return out;
}

uint32_t guest_memory_mib(const MachineConfig& cfg) {
  uint64_t packed = 0;
  struct stat st {};
  if (!cfg.initramfs.empty() && stat(cfg.initramfs.c_str(), &st) == 0)
    packed = static_cast<uint64_t>(st.st_size);
  // Without metadata assume a compression ratio of 3 (zstd -3 on a Debian rootfs: ~2.9).
  uint64_t unpacked = unpacked_bytes(cfg.initramfs).value_or(packed * 3);
  return cfg.memory_mib + kKernelOverheadMib + mib_up(packed) + mib_up(unpacked);
}

KvmMachine::KvmMachine(MachineConfig cfg)
    : LaunchedMachine(cfg.job_id, "microVM"), cfg_(std::move(cfg)) {}

KvmMachine::~KvmMachine() {
  stop();
}

std::string KvmMachine::launch_summary() const {
  return "tap " + tap_ + " on " + cfg_.net.bridge + ", " + cfg_.net.guest_ip + "/" +
         std::to_string(cfg_.net.prefix_len) + ", kernel " + cfg_.kernel.string() + ", initramfs " +
         cfg_.initramfs.string();
}

std::expected<void, std::string> KvmMachine::launch_steps() {
  auto fail = [](std::string_view step, const std::string& why) {
    return std::unexpected(std::string(step) + ": " + why);
  };
  if (cfg_.kernel.empty()) return fail("config", "no guest kernel configured (--kernel)");
  if (!fs::is_regular_file(cfg_.kernel))
    return fail("config", "guest kernel " + cfg_.kernel.string() + " is not a file");
  if (!fs::is_regular_file(cfg_.initramfs))
    return fail("config", "initramfs " + cfg_.initramfs.string() + " is not a file");
  auto mac = guest_mac(cfg_.net.guest_ip);
  if (!mac) return fail("config", mac.error());

  // A crashed worker may have left this job's TAP behind (only a persistent one outlives its fd).
  tap_ = tap_name(cfg_.job_id);
  if (net::link_exists(tap_)) {
    spdlog::warn("[{}] removing stale TAP {} of an earlier run", cfg_.job_id, tap_);
    if (auto ok = net::delete_link(tap_); !ok) return fail("tap", ok.error());
  }
  auto tap = virtio::open_tap(tap_);
  if (!tap) return fail("tap", tap.error());
  // The TAP exists as long as this fd (held by the NIC, held by the Vm) does.
  auto tap_fd = std::make_shared<UniqueFd>(std::move(tap->fd));
  if (auto ok = net::forget_neighbour(cfg_.net.bridge, cfg_.net.guest_ip); !ok)
    spdlog::warn("[{}] {}", cfg_.job_id, ok.error());
  if (auto ok = net::attach_to_bridge(tap_, cfg_.net.bridge); !ok) return fail("tap", ok.error());

  VmConfig vc;
  vc.name = cfg_.job_id;
  vc.kernel = cfg_.kernel;
  vc.initrd = cfg_.initramfs;
  vc.cmdline = kernel_cmdline(cfg_);
  vc.mem_mib = guest_memory_mib(cfg_);
  vc.vcpus = 1;
  std::string nic_name = "[" + cfg_.job_id + "] virtio-net";
  vc.virtio_devices.push_back(
      attach_virtio([tap_fd, mac = *mac, nic_name](const GuestMemory& mem, int irq_fd)
                        -> std::expected<std::shared_ptr<virtio::MmioTransport>, std::string> {
        if (!*tap_fd) return std::unexpected(std::string("the TAP was already handed to a NIC"));
        auto net = virtio::NetDevice::create(std::move(*tap_fd), mac, nic_name);
        if (!net) return std::unexpected(net.error());
        return std::make_shared<virtio::MmioTransport>(mem, std::move(*net), irq_fd);
      }));
  spdlog::debug("[{}] guest: {} MiB, cmdline '{}'", cfg_.job_id, vc.mem_mib, vc.cmdline);
  vm_ = std::make_unique<Vm>(std::move(vc));
  if (auto ok = vm_->start(); !ok) return fail("vm", ok.error());
  return {};
}

MachineEnd KvmMachine::poll() {
  if (state() == State::fresh) return MachineEnd::exited;
  if (end_) return *end_;
  if (!vm_) return MachineEnd::killed;
  auto rec = vm_->poll();
  if (!rec) return MachineEnd::running;
  end_message_ = std::string(to_string(rec->reason)) + ": " + rec->message;
  // The agent ends the machine by rebooting; anything else is the machine being ended.
  end_ = rec->reason == ExitReason::guest_reset ? MachineEnd::exited : MachineEnd::killed;
  return *end_;
}

void KvmMachine::teardown() {
  if (vm_) {
    vm_->stop();
    ExitRecord rec = vm_->wait();  // joins the vCPU and event-loop threads
    if (!end_message_) end_message_ = std::string(to_string(rec.reason)) + ": " + rec.message;
    if (!end_)
      end_ = rec.reason == ExitReason::guest_reset ? MachineEnd::exited : MachineEnd::killed;
    last_tail_ = rec.console_tail.empty() ? vm_->console_tail() : rec.console_tail;
    vm_.reset();  // closes the TAP fd: the (non-persistent) TAP disappears with it
  }
  if (!tap_.empty() && net::link_exists(tap_))
    if (auto ok = net::delete_link(tap_); !ok) spdlog::error("[{}] {}", cfg_.job_id, ok.error());
  if (auto ok = net::forget_neighbour(cfg_.net.bridge, cfg_.net.guest_ip); !ok)
    spdlog::warn("[{}] {}", cfg_.job_id, ok.error());
  spdlog::info("[{}] microVM stopped ({})", cfg_.job_id, end_message_.value_or("never ran"));
}

std::string KvmMachine::console_tail() const {
  if (vm_) return vm_->console_tail();
  return last_tail_;
}

std::optional<std::string> KvmMachine::end_message() const {
  return end_message_;
}

std::unique_ptr<Machine> make_kvm_machine(MachineConfig cfg) {
  return std::make_unique<KvmMachine>(std::move(cfg));
}

}  // namespace berth::vmm::kvm

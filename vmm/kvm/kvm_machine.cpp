#include "vmm/kvm/kvm_machine.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <chrono>
#include <fstream>
#include <sstream>

#include "messages/agent_auth.hpp"
#include "vmm/kvm/monitor_process.hpp"
#include "vmm/kvm/virtio/tap.hpp"
#include "vmm/kvm/vm_config.hpp"
#include "vmm/net/bridge.hpp"
#include "vmm/net/ipv4.hpp"
#include "vmm/net/mac.hpp"
#include "vmm/net/neighbour.hpp"
#include "vmm/net/port.hpp"
#include "vmm/net/veth.hpp"

namespace berth::vmm::kvm {

namespace fs = std::filesystem;

namespace {

// The kernel, its page tables and slab, the agent and the job's /work and /tmp use live beside
// the job's own memory; measured need is well under this.
constexpr uint32_t kKernelOverheadMib = 96;
// The monitor process's own memory beside guest RAM (measured: ~7 MiB RSS, bench/RESULTS.md)
// and its threads: main, event loop, one per vCPU; the rest is headroom.
constexpr uint32_t kMonitorOverheadMib = 64;
constexpr uint64_t kMonitorThreads = 16;
// From spawn to the vCPU running: jailing, mapping guest RAM, loading kernel and initramfs.
constexpr auto kMonitorStartTimeout = std::chrono::seconds(20);

std::string errno_text() {
  return std::strerror(errno);
}

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
  return net::machine_mac(*ip);
}

std::string kernel_cmdline(const MachineConfig& cfg) {
  // reboot=k: the agent's reboot resets through the i8042, which ends the VM as guest_reset;
  // panic=-1: a panicking guest reboots at once (the console tail shows the panic).
  std::string out =
      "console=ttyS0 reboot=k panic=-1 quiet i8042.noaux i8042.nomux i8042.dumbkbd"
      " berth.ip=" +
      cfg.net.guest_ip + "/" + std::to_string(cfg.net.prefix_len);
  if (!cfg.net.gateway_ip.empty()) out += " berth.gw=" + cfg.net.gateway_ip;
  if (cfg.net.egress && !cfg.net.gateway_ip.empty()) out += " berth.route=" + cfg.net.gateway_ip;
  out += " berth.iface=eth0";
  // The agent hides the command line from the job once it has read this (agent/vm_setup.hpp).
  if (!cfg.secret.empty()) out += " berth.secret=" + messages::to_hex(cfg.secret);
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
  if (access(cfg_.monitor.c_str(), X_OK) != 0)
    return fail("config", "monitor " + cfg_.monitor.string() + " is not an executable (" +
                              errno_text() + ")");
  if (cfg_.job_uid == 0) return fail("config", "the monitor must not run as root (job_uid 0)");
  auto mac = guest_mac(cfg_.net.guest_ip);
  if (!mac) return fail("config", mac.error());

  // A crashed worker may have left this job's TAP behind (only a persistent one outlives its fd).
  tap_ = tap_name(cfg_.job_id);
  if (net::link_exists(tap_)) {
    spdlog::warn("[{}] removing stale TAP {} of an earlier run", cfg_.job_id, tap_);
    if (auto ok = net::delete_link(tap_); !ok) return fail("tap", ok.error());
  }
  // Admitted before the TAP exists, so no frame from the guest ever crosses the port unfiltered.
  if (cfg_.net.filter) {
    auto ip = net::Ipv4::parse(cfg_.net.guest_ip);
    if (!ip) return fail("filter", ip.error());
    auto admitted = cfg_.net.filter->admit(tap_, *mac, *ip, cfg_.net.egress);
    if (!admitted) return fail("filter", admitted.error());
    admission_ = std::move(*admitted);
  }
  auto tap = virtio::open_tap(tap_);
  if (!tap) return fail("tap", tap.error());
  // The TAP lives as long as a descriptor of it does: ours until teardown, the monitor's copy.
  tap_fd_ = std::move(tap->fd);
  if (auto ok = net::forget_neighbour(cfg_.net.bridge, cfg_.net.guest_ip); !ok)
    spdlog::warn("[{}] {}", cfg_.job_id, ok.error());
  if (auto ok = net::attach_to_bridge(tap_, cfg_.net.bridge); !ok) return fail("tap", ok.error());

  // The monitor's own cgroups: guest RAM is charged to the memory group as the guest touches it.
  const uint32_t mem_mib = guest_memory_mib(cfg_);
  jail::CgroupLimits limits{(uint64_t{mem_mib} + kMonitorOverheadMib) << 20, kMonitorThreads,
                            cfg_.cpu_percent};
  auto cgroups = jail::create_job_cgroups(cfg_.job_id, limits);
  if (!cgroups) return fail("cgroups", cgroups.error());
  cgroups_ = std::move(*cgroups);
  std::vector<UniqueFd> procs;
  std::vector<int> procs_fds;
  for (auto& cg : cgroups_) {
    UniqueFd fd(open((cg.path / "cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return fail("cgroups", "open " + cg.path.string() + "/cgroup.procs: " + errno_text());
    procs_fds.push_back(fd.get());
    procs.push_back(std::move(fd));
  }

  std::error_code ec;
  fs::create_directories(cfg_.run_dir / "root", ec);
  if (ec) return fail("run dir", "create " + cfg_.run_dir.string() + ": " + ec.message());
  run_dir_made_ = true;
  UniqueFd log(open((cfg_.run_dir / "monitor.log").c_str(),
                    O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640));
  if (!log) return fail("run dir", "open monitor.log: " + errno_text());

  MonitorSpec spec;
  spec.program = cfg_.monitor;
  spec.name = cfg_.job_id;
  spec.root = cfg_.run_dir / "root";
  spec.kernel = cfg_.kernel;
  spec.initrd = cfg_.initramfs;
  spec.cmdline = kernel_cmdline(cfg_);
  spec.mem_mib = mem_mib;
  spec.mac = *mac;
  spec.tap_fd = tap_fd_.get();
  spec.uid = cfg_.job_uid;
  spec.gid = cfg_.job_uid;
  spec.log_fd = log.get();
  spec.cgroup_procs = procs_fds;
  spdlog::debug("[{}] guest: {} MiB, cmdline '{}'", cfg_.job_id, spec.mem_mib, spec.cmdline);
  auto monitor = MonitorProcess::spawn(spec);
  if (!monitor) return fail("monitor", monitor.error());
  monitor_ = std::move(*monitor);
  if (auto ok = monitor_->wait_started(kMonitorStartTimeout); !ok) {
    std::string said;
    std::ifstream in(cfg_.run_dir / "monitor.log");
    for (std::string line; std::getline(in, line);) said += (said.empty() ? "" : "; ") + line;
    return fail("monitor", ok.error() + (said.empty() ? "" : " (" + said + ")"));
  }
  return {};
}

MachineEnd KvmMachine::poll() {
  if (state() == State::fresh) return MachineEnd::exited;
  if (end_) return *end_;
  if (!monitor_) return MachineEnd::killed;
  auto end = monitor_->poll();
  if (!end) return MachineEnd::running;
  end_message_ = end->reason + ": " + end->message;
  // The agent ends the machine by rebooting; anything else is the machine being ended.
  end_ =
      end->reason == to_string(ExitReason::guest_reset) ? MachineEnd::exited : MachineEnd::killed;
  return *end_;
}

void KvmMachine::teardown() {
  if (monitor_) {
    if (!end_) poll();
    monitor_->kill();  // SIGKILL: the kernel frees guest RAM and the monitor's TAP descriptor
    if (!end_message_)
      if (auto end = monitor_->poll()) end_message_ = end->reason + ": " + end->message;
    if (!end_) end_ = MachineEnd::killed;
    last_tail_ = monitor_->console_tail();
    monitor_.reset();
  }
  tap_fd_.reset();  // the last descriptor: the (non-persistent) TAP disappears with it
  for (auto& cg : cgroups_)
    if (auto ok = jail::remove_cgroup_tree(cg.path, std::chrono::seconds(3)); !ok)
      spdlog::error("[{}] cgroup {}: {}", cfg_.job_id, cg.controller, ok.error());
  cgroups_.clear();
  if (!tap_.empty() && net::link_exists(tap_))
    if (auto ok = net::delete_link(tap_); !ok) spdlog::error("[{}] {}", cfg_.job_id, ok.error());
  admission_.end();
  if (auto ok = net::forget_neighbour(cfg_.net.bridge, cfg_.net.guest_ip); !ok)
    spdlog::warn("[{}] {}", cfg_.job_id, ok.error());
  if (run_dir_made_) {
    std::error_code ec;
    fs::remove_all(cfg_.run_dir, ec);
    if (ec) spdlog::error("[{}] remove {}: {}", cfg_.job_id, cfg_.run_dir.string(), ec.message());
  }
  spdlog::info("[{}] microVM stopped ({})", cfg_.job_id, end_message_.value_or("never ran"));
}

std::string KvmMachine::console_tail() const {
  if (monitor_) return monitor_->console_tail();
  return last_tail_;
}

pid_t KvmMachine::monitor_pid() const {
  return monitor_ ? monitor_->pid() : -1;
}

std::optional<std::string> KvmMachine::end_message() const {
  return end_message_;
}

std::unique_ptr<Machine> make_kvm_machine(MachineConfig cfg) {
  return std::make_unique<KvmMachine>(std::move(cfg));
}

}  // namespace berth::vmm::kvm

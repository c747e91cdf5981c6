#pragma once
// The kvm runtime (DESIGN.md §3): one job's machine is a microVM in our own monitor (Vm) booting
// the guest kernel with the language image as its initramfs, the agent as PID 1, and a
// virtio-net NIC on a TAP device that is an isolated port of the worker's bridge. The agent
// reads its address from the kernel command line (berth.ip=, berth.gw=, berth.iface=).
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/jail/cgroups.hpp"
#include "vmm/kvm/unique_fd.hpp"
#include "vmm/kvm/virtio/net_device.hpp"
#include "vmm/launched_machine.hpp"
#include "vmm/net/host_filter.hpp"

namespace berth::vmm::kvm {

class MonitorProcess;

// The TAP's name for a job: "bt" + 12 hex digits of a hash of the job id (≤ 15 bytes).
std::string tap_name(std::string_view job_id);
// net::machine_mac of the guest's IPv4 address: 06:b7:a:b:c:d, the MAC its port is pinned to.
std::expected<virtio::MacAddress, std::string> guest_mac(const std::string& guest_ip);
// The guest kernel's command line for `cfg` (console, reboot through the i8042, the agent's
// berth.* keys, the machine's secret among them).
std::string kernel_cmdline(const MachineConfig& cfg);
// Guest RAM for `cfg`: the job's memory plus the kernel's own overhead plus the initramfs, which
// the kernel keeps compressed until it has unpacked it into RAM (tmpfs-backed rootfs).
uint32_t guest_memory_mib(const MachineConfig& cfg);

class KvmMachine final : public LaunchedMachine {
 public:
  explicit KvmMachine(MachineConfig cfg);
  ~KvmMachine() override;  // stop()
  KvmMachine(const KvmMachine&) = delete;
  KvmMachine& operator=(const KvmMachine&) = delete;

  // start() creates the TAP, attaches it to the bridge, and spawns the VM's own jailed monitor
  // process (berth-monitor: vmm/kvm/monitor/) in the machine's cgroups; it returns once the
  // vCPU runs. The agent listens a few seconds later (the kernel unpacks the initramfs first).
  MachineEnd poll() override;
  std::string console_tail() const override;
  std::string_view runtime() const override { return "kvm"; }

  const std::string& tap() const { return tap_; }
  // The jailed monitor process, for tests and logs; -1 before start() and after stop().
  pid_t monitor_pid() const;
  // How the VM ended, once it has ("guest_reset: ...").
  std::optional<std::string> end_message() const;

 private:
  std::expected<void, std::string> launch_steps() override;
  std::string launch_summary() const override;
  void teardown() override;

  MachineConfig cfg_;
  std::string tap_;
  UniqueFd tap_fd_;
  net::PortAdmission admission_;  // the TAP's pins in the worker's filter, ended by teardown
  std::vector<jail::CgroupDir> cgroups_;
  bool run_dir_made_ = false;
  std::unique_ptr<MonitorProcess> monitor_;
  std::string last_tail_;
  std::optional<std::string> end_message_;
  std::optional<MachineEnd> end_;
};

// The factory the vm_supervisor uses.
std::unique_ptr<Machine> make_kvm_machine(MachineConfig cfg);

}  // namespace berth::vmm::kvm

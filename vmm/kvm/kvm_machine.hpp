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

#include "vmm/kvm/virtio/net_device.hpp"
#include "vmm/launched_machine.hpp"

namespace berth::vmm::kvm {

class Vm;

// The TAP's name for a job: "bt" + 12 hex digits of a hash of the job id (≤ 15 bytes).
std::string tap_name(std::string_view job_id);
// A locally administered unicast MAC derived from the guest's IPv4 address: 06:b7:a:b:c:d.
std::expected<virtio::MacAddress, std::string> guest_mac(const std::string& guest_ip);
// The guest kernel's command line for `cfg` (console, reboot through the i8042, the agent's
// berth.* keys).
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

  // start() creates the TAP, attaches it to the bridge, and boots the VM; it returns once the
  // vCPU runs. The agent listens a few seconds later (the kernel unpacks the initramfs first).
  MachineEnd poll() override;
  std::string console_tail() const override;
  std::string_view runtime() const override { return "kvm"; }

  const std::string& tap() const { return tap_; }
  // How the VM ended, once it has ("guest_reset: ...").
  std::optional<std::string> end_message() const;

 private:
  std::expected<void, std::string> launch_steps() override;
  std::string launch_summary() const override;
  void teardown() override;

  MachineConfig cfg_;
  std::string tap_;
  std::unique_ptr<Vm> vm_;
  std::string last_tail_;
  std::optional<std::string> end_message_;
  std::optional<MachineEnd> end_;
};

// The factory the vm_supervisor uses.
std::unique_ptr<Machine> make_kvm_machine(MachineConfig cfg);

}  // namespace berth::vmm::kvm

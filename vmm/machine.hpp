#pragma once
// The one interface every runtime implements (DESIGN.md §1, §3): a fresh, isolated machine
// for one job, with the agent as its PID 1 reachable at a leased address. A Machine is used by
// one vm_supervisor only and never reused.
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace berth::vmm {

namespace net {
class HostFilter;
}

struct NetConfig {
  std::string bridge;    // host bridge the machine's NIC joins, e.g. "berth0"
  std::string guest_ip;  // leased by ip_manager, e.g. "10.213.0.7"
  int prefix_len = 24;
  std::string gateway_ip;  // the bridge's own address, e.g. "10.213.0.1"
  // A default route via gateway_ip, masqueraded out of the host (the worker's egress = nat and
  // the job's network: true); without it the machine reaches nothing beyond its subnet.
  bool egress = false;
  // Admits the machine's port (MAC and address pinned, egress) before the port exists; nullptr
  // only where a test drives a machine without the worker's filter.
  net::HostFilter* filter = nullptr;
};

struct MachineConfig {
  std::string job_id;
  std::filesystem::path rootfs;     // jail: the unpacked image, mounted read-only as /
  std::filesystem::path initramfs;  // kvm: the packed image
  std::filesystem::path kernel;     // kvm: the guest kernel (bzImage)
  std::filesystem::path agent;      // the berth-agent binary to run as PID 1
  std::filesystem::path monitor;    // kvm: berth-monitor, the jailed monitor process
  std::filesystem::path run_dir;    // scratch owned by this machine, removed on stop
  NetConfig net;
  uint32_t memory_mib = 256;  // the job's limit; the machine adds its own overhead
  uint32_t processes = 64;
  uint64_t work_dir_bytes = 64 << 20;  // size of the job's private /work tmpfs
  uint16_t agent_port = 7070;
  // Fresh random bytes per machine that its agent must prove it holds before the supervisor
  // sends it anything of the job (messages/agent_auth.hpp). Empty: the agent can prove nothing.
  std::string secret;
  // The host uid and gid unique to the machine: a jail's job runs as it, a microVM's monitor
  // process does; no two machines share one.
  uint32_t job_uid = 65534;
  // CPU bandwidth of the whole machine, in percent of one core (cgroup cpu quota).
  uint32_t cpu_percent = 100;
};

enum class MachineEnd { running, exited, killed };

class Machine {
 public:
  virtual ~Machine() = default;
  // Launches the machine without waiting for the agent; returns once the process exists and
  // its NIC is attached. The agent is reachable at net.guest_ip:agent_port shortly after.
  virtual std::expected<void, std::string> start() = 0;
  // Whether the machine is still running (non-blocking).
  virtual MachineEnd poll() = 0;
  // Kills everything the machine runs and releases every host resource it holds (processes,
  // veth, cgroups, run dir). Idempotent; bounded in time.
  virtual void stop() = 0;
  // The last lines the machine printed (console or launcher stderr), for error messages.
  virtual std::string console_tail() const = 0;
  virtual std::string_view runtime() const = 0;
};

}  // namespace berth::vmm

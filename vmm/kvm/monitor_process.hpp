#pragma once
// The worker's side of a jailed monitor (vmm/kvm/monitor/): spawns berth-monitor in fresh
// mount, pid, ipc, uts and network namespaces, inside the machine's cgroups, with /dev/kvm, the
// TAP and a control socket as its only descriptors, and reads its MonitorEvents without ever
// blocking. A monitor that dies is a machine that ended; teardown is SIGKILL and a reap.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "vmm/kvm/console_ring.hpp"
#include "vmm/kvm/unique_fd.hpp"
#include "vmm/net/mac.hpp"

namespace berth::vmm::kvm {

struct MonitorSpec {
  std::filesystem::path program;  // berth-monitor
  std::string name;               // the job id, for its log lines
  std::filesystem::path root;     // an empty directory it chroots into (made by the caller)
  std::filesystem::path kernel;
  std::filesystem::path initrd;
  std::string cmdline;
  uint32_t mem_mib = 0;
  uint32_t vcpus = 1;
  net::MacAddress mac{};
  int tap_fd = -1;  // the caller's; the monitor gets a copy
  uid_t uid = 0;    // the VM's own
  gid_t gid = 0;
  int log_fd = -1;                    // the monitor's stdout and stderr
  std::span<const int> cgroup_procs;  // cgroup.procs of the machine's cgroups, for writing
};

struct MonitorEnd {
  std::string reason;  // vmm::kvm::to_string(ExitReason), or "killed" / "died"
  std::string message;
};

class MonitorProcess {
 public:
  static std::expected<std::unique_ptr<MonitorProcess>, std::string> spawn(const MonitorSpec& s);
  ~MonitorProcess();  // kill()
  MonitorProcess(const MonitorProcess&) = delete;
  MonitorProcess& operator=(const MonitorProcess&) = delete;

  // Until the VM runs (its "started"), or why not: a jail step or the VM failed, the process
  // died, or `timeout` passed.
  std::expected<void, std::string> wait_started(std::chrono::milliseconds timeout);
  // Reads what the monitor said and reaps it once it exited; nullopt while it runs.
  std::optional<MonitorEnd> poll();
  // What the guest printed last (console events, or the exit record's tail).
  std::string console_tail();
  // SIGKILL and reap (bounded); idempotent.
  void kill();
  pid_t pid() const { return pid_; }

 private:
  MonitorProcess() = default;
  // Handles every event queued on the control socket; false once the socket has closed.
  bool drain();
  bool reap(bool wait);

  pid_t pid_ = -1;
  bool reaped_ = false;
  int wait_status_ = 0;
  UniqueFd control_;
  bool started_ = false;
  std::optional<std::string> failed_;
  std::optional<MonitorEnd> end_;
  ConsoleRing console_{16 * 1024};
  std::string exit_tail_;
};

}  // namespace berth::vmm::kvm

#pragma once
// The jail runtime (DESIGN.md §3): one job's machine made of Linux namespaces by bubblewrap,
// run as root without a user namespace, with a seccomp filter, the job's cgroups, a private
// /work and a veth on the worker's bridge. The agent runs as its PID 1.
#include <sys/types.h>

#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vmm/jail/cgroups.hpp"
#include "vmm/jail/unique_fd.hpp"
#include "vmm/launched_machine.hpp"
#include "vmm/net/host_filter.hpp"

namespace berth::vmm::jail {

class JailMachine final : public LaunchedMachine {
 public:
  explicit JailMachine(MachineConfig cfg);
  ~JailMachine() override;  // stop()
  JailMachine(const JailMachine&) = delete;
  JailMachine& operator=(const JailMachine&) = delete;

  // start() creates the job's cgroups, launches bwrap, attaches the jail's eth0 to the bridge,
  // and returns once the agent has been executed inside with the planned capabilities. Any
  // failure undoes what was done (stop()) and returns "<step>: <reason>", with bwrap's own last
  // words when it died.
  //
  // Call start() from a thread that outlives this machine (the vm_supervisor's own thread): bwrap
  // runs with --die-with-parent, i.e. PR_SET_PDEATHSIG, which the kernel fires when the *thread*
  // that forked bwrap exits, not the process. A jail started from a short-lived helper thread is
  // SIGKILLed the moment that thread ends.

  MachineEnd poll() override;
  std::string console_tail() const override;
  std::string_view runtime() const override { return "jail"; }

  // For logs and tests; -1 or empty until start() gets that far.
  pid_t launcher_pid() const { return bwrap_pid_; }   // bwrap, our child
  pid_t sandbox_pid() const { return sandbox_pid_; }  // the agent (PID 1 inside), in our pid ns
  const std::string& host_veth() const { return host_veth_; }
  const std::vector<CgroupDir>& cgroups() const { return cgroups_; }
  std::filesystem::path console_log() const { return cfg_.run_dir / "console.log"; }

 private:
  std::expected<void, std::string> launch_steps() override;
  std::string launch_summary() const override;
  void teardown() override;
  std::unexpected<std::string> failure(std::string_view step, const std::string& why);
  std::expected<void, std::string> wait_for_agent_exec(std::chrono::milliseconds timeout);
  // waitpid(WNOHANG) on bwrap; true once it has been reaped.
  bool reap();
  std::string read_tail(size_t max_bytes) const;

  MachineConfig cfg_;
  std::string host_veth_;
  net::PortAdmission admission_;  // the port's pins in the worker's filter, ended by teardown
  std::vector<CgroupDir> cgroups_;
  bool run_dir_made_ = false;
  bool veth_made_ = false;
  pid_t bwrap_pid_ = -1;
  bool bwrap_reaped_ = false;
  int bwrap_status_ = 0;
  pid_t sandbox_pid_ = -1;
  std::optional<uint64_t> sandbox_start_time_;
  std::optional<MachineEnd> end_;
  std::string last_tail_;  // the console's tail, kept when stop() removes the run dir
};

// The factory the vm_supervisor uses.
std::unique_ptr<Machine> make_jail_machine(MachineConfig cfg);

}  // namespace berth::vmm::jail

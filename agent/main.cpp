// berth-agent: PID 1 of a job's machine (DESIGN.md §1, §3). Configures the machine's network,
// listens for the one supervisor connection, runs the job's steps as an unprivileged user
// under limits and reports their outcome (messages/agent_protocol.hpp).
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "agent/cgroup.hpp"
#include "agent/connection.hpp"
#include "agent/log.hpp"
#include "agent/net_setup.hpp"
#include "agent/options.hpp"
#include "agent/pid1.hpp"
#include "agent/session.hpp"
#include "agent/vm_setup.hpp"
#include "agent/work_dir.hpp"

namespace {

using namespace berth::agent;

// PID 1 of a microVM: main() reboots instead of returning (see vm_setup.hpp).
bool g_vm_init = false;

std::expected<Options, std::string> load_options(int argc, char** argv, bool pid1) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto opts = parse_args(args);
  if (!opts) return opts;
  // In a microVM the kernel starts us with no arguments; the launcher's settings come on the
  // kernel command line (berth.* keys, which the kernel does not pass on to init).
  if (pid1 && args.empty()) {
    auto cmdline = read_small_file("/proc/cmdline");
    if (!cmdline)
      log(cmdline.error());
    else if (auto r = apply_kernel_cmdline(*cmdline, *opts); !r)
      return std::unexpected(r.error());
  }
  return opts;
}

int run(int argc, char** argv) {
  ensure_std_fds();
  const bool pid1 = getpid() == 1;
  if (pid1) {
    mount_proc_if_missing();
    // A console nobody reads must not stall PID 1: log lines are dropped instead.
    fcntl(STDERR_FILENO, F_SETFL, fcntl(STDERR_FILENO, F_GETFL) | O_NONBLOCK);
  }
  if (pid1 && argc == 1) {
    auto cmdline = read_small_file("/proc/cmdline");
    g_vm_init = cmdline && is_vm_init(pid1, true, *cmdline);
  }
  auto opts = load_options(argc, argv, pid1);
  if (!opts) {
    log(opts.error());
    std::fputs(usage().c_str(), stderr);
    return 2;
  }
  if (opts->help) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  auto sigfd = setup_signals();
  if (!sigfd) {
    log(sigfd.error());
    return 1;
  }
  if (g_vm_init) {
    auto cg = setup_vm(opts->work, opts->work_bytes);
    if (!cg) {
      log("machine setup failed: " + cg.error());
      return 1;
    }
    opts->cgroup_memory = cg->memory;
    opts->cgroup_pids = cg->pids;
    opts->cgroup_cpuacct = cg->cpuacct;
    hide_kernel_cmdline();
  }
  if (opts->ip) {
    if (auto r = setup_network(opts->iface, *opts->ip, std::chrono::seconds(5)); !r) {
      log("network setup failed: " + r.error());
      return 1;
    }
    if (opts->route_via)
      if (auto r = add_default_route(*opts->route_via); !r) {
        log("network setup failed: " + r.error());
        return 1;
      }
  }
  if (auto r = prepare_work_dir(opts->work, opts->uid, opts->gid); !r) {
    log("work dir: " + r.error());
    return 1;
  }
  auto listener = listen_tcp(opts->listen, opts->port);
  if (!listener) {
    log(listener.error());
    return 1;
  }
  if (opts->gateway) announce(*opts->gateway);
  log("listening on " + format_ipv4(opts->listen.addr) + ":" + std::to_string(opts->port) +
      (pid1 ? " as PID 1" : ""));
  StepConfig cfg;
  cfg.work = opts->work;
  cfg.uid = opts->uid;
  cfg.gid = opts->gid;
  cfg.cgroups = {opts->cgroup_memory, opts->cgroup_pids, opts->cgroup_cpuacct};
  cfg.pid1 = pid1;
  Session session(std::move(cfg), std::move(*sigfd), std::move(opts->secret));
  return session.run(std::move(*listener));
}

}  // namespace

int main(int argc, char** argv) {
  int status = 1;
  try {
    status = run(argc, argv);
  } catch (const std::exception& e) {
    log(std::string("fatal: ") + e.what());
  }
  // Returning from PID 1 of a microVM panics the kernel; a reboot ends the VM cleanly.
  if (g_vm_init) vm_reboot(status);
  return status;
}

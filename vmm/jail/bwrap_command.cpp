#include "vmm/jail/bwrap_command.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

namespace berth::vmm::jail {

namespace fs = std::filesystem;

namespace {

// Top-level names of the rootfs the jail provides itself (see the header).
const std::set<std::string> kProvided = {"proc", "dev", "sys", "tmp", "work", ".berth"};

}  // namespace

std::vector<std::string> agent_arguments(const MachineConfig& cfg,
                                         const std::vector<CgroupDir>& cgroups, int secret_fd) {
  std::vector<std::string> args = {
      "--listen",  "0.0.0.0:" + std::to_string(cfg.agent_port),
      "--iface",   "eth0",
      "--ip",      cfg.net.guest_ip + "/" + std::to_string(cfg.net.prefix_len),
      "--gateway", cfg.net.gateway_ip,
      "--work",    "/work",
      "--uid",     std::to_string(cfg.job_uid),
      "--gid",     std::to_string(cfg.job_uid)};
  if (cfg.net.egress) args.insert(args.end(), {"--route-via", cfg.net.gateway_ip});
  if (secret_fd >= 0) args.insert(args.end(), {"--secret-fd", std::to_string(secret_fd)});
  for (auto& cg : cgroups) {
    if (!agent_manages(cg.controller)) continue;
    args.push_back("--cgroup-" + cg.controller);
    args.push_back("/sys/fs/cgroup/" + cg.controller);
  }
  return args;
}

std::expected<std::vector<std::string>, std::string> bwrap_command(const BwrapPlan& plan) {
  std::vector<std::string> a = {"bwrap",
                                // No user namespace: as root it would map the jail's root to the
                                // host's (DESIGN.md §3, "Jail pitfall").
                                "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                                "--unshare-cgroup", "--hostname", "berth",
                                // PR_SET_PDEATHSIG: the jail dies with the thread that launched it.
                                "--die-with-parent", "--new-session", "--clearenv", "--as-pid-1"};

  std::error_code ec;
  std::vector<fs::directory_entry> entries;
  for (fs::directory_iterator it(plan.rootfs, ec), end; !ec && it != end; it.increment(ec))
    entries.push_back(*it);
  if (ec) return std::unexpected("rootfs " + plan.rootfs.string() + ": " + ec.message());
  std::sort(entries.begin(), entries.end());
  for (auto& e : entries) {
    auto name = e.path().filename().string();
    if (kProvided.contains(name)) continue;
    auto dest = "/" + name;
    if (e.is_symlink(ec)) {
      auto target = fs::read_symlink(e.path(), ec);
      if (ec) return std::unexpected("rootfs: readlink " + e.path().string() + ": " + ec.message());
      a.insert(a.end(), {"--symlink", target.string(), dest});
    } else if (e.is_directory(ec) || e.is_regular_file(ec)) {
      a.insert(a.end(), {"--ro-bind", e.path().string(), dest});
    }  // sockets, fifos and devices at the top of an image are not needed by anything
  }

  a.insert(a.end(), {"--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp",
                     "--size", std::to_string(plan.work_dir_bytes), "--tmpfs", "/work", "--ro-bind",
                     plan.agent.string(), kAgentPathInJail});
  // The job's cgroups replace the host's view of /sys/fs/cgroup; the agent creates per-step
  // children in them. The tmpfs under them is sealed so nothing else can be created there.
  a.insert(a.end(), {"--tmpfs", "/sys/fs/cgroup"});
  for (auto& cg : plan.cgroups)
    if (agent_manages(cg.controller))
      a.insert(a.end(), {"--bind", cg.path.string(), "/sys/fs/cgroup/" + cg.controller});
  a.insert(a.end(), {"--remount-ro", "/sys/fs/cgroup", "--remount-ro", "/", "--chdir", "/"});

  a.insert(a.end(), {"--cap-drop", "ALL"});
  for (auto& cap : plan.caps) a.insert(a.end(), {"--cap-add", cap});
  a.insert(a.end(), {"--seccomp", std::to_string(plan.seccomp_fd), "--info-fd",
                     std::to_string(plan.info_fd), "--", kAgentPathInJail});
  a.insert(a.end(), plan.agent_args.begin(), plan.agent_args.end());
  return a;
}

}  // namespace berth::vmm::jail

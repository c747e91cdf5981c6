#include "vmm/jail/jail_machine.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "messages/agent_auth.hpp"
#include "vmm/jail/bwrap_command.hpp"
#include "vmm/jail/capabilities.hpp"
#include "vmm/jail/jail_config.hpp"
#include "vmm/jail/launcher.hpp"
#include "vmm/jail/proc.hpp"
#include "vmm/jail/seccomp_filter.hpp"
#include "vmm/net/bridge.hpp"
#include "vmm/net/ipv4.hpp"
#include "vmm/net/mac.hpp"
#include "vmm/net/neighbour.hpp"
#include "vmm/net/veth.hpp"

namespace berth::vmm::jail {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kPidTimeout = 10s;    // bwrap reports the sandbox pid right after clone()
constexpr auto kExecTimeout = 5s;    // bwrap's mount setup, then execve of the agent
constexpr auto kReapTimeout = 2s;    // a SIGKILLed bwrap
constexpr auto kCgroupTimeout = 3s;  // tasks leaving the job's cgroups after SIGKILL
constexpr size_t kConsoleTail = 4096;

std::string errno_text() {
  return std::strerror(errno);
}

std::expected<UniqueFd, std::string> open_fd(const fs::path& path, int flags, mode_t mode = 0) {
  UniqueFd fd(open(path.c_str(), flags | O_CLOEXEC, mode));
  if (!fd) return std::unexpected("open " + path.string() + ": " + errno_text());
  fd = above_stdio(std::move(fd));
  if (!fd) return std::unexpected("dup " + path.string() + ": " + errno_text());
  return fd;
}

// The last `n` non-empty lines of `text`, joined by "; ".
std::string last_lines(const std::string& text, int n) {
  std::vector<std::string> lines;
  size_t end = text.size();
  while (end > 0 && static_cast<int>(lines.size()) < n) {
    size_t start = text.rfind('\n', end - 1);
    size_t from = start == std::string::npos ? 0 : start + 1;
    if (end > from) lines.insert(lines.begin(), text.substr(from, end - from));
    if (start == std::string::npos) break;
    end = start;
  }
  std::string out;
  for (auto& l : lines) out += (out.empty() ? "" : "; ") + l;
  return out;
}

// The machine's secret as hex text in an anonymous file, read (and closed) by the agent.
std::expected<UniqueFd, std::string> secret_memfd(const std::string& secret) {
  UniqueFd fd(memfd_create("berth-secret", MFD_CLOEXEC));
  if (!fd) return std::unexpected("memfd_create: " + errno_text());
  auto hex = messages::to_hex(secret) + "\n";
  if (write(fd.get(), hex.data(), hex.size()) != static_cast<ssize_t>(hex.size()))
    return std::unexpected("write: " + errno_text());
  if (lseek(fd.get(), 0, SEEK_SET) != 0) return std::unexpected("lseek: " + errno_text());
  fd = above_stdio(std::move(fd));
  if (!fd) return std::unexpected("dup: " + errno_text());
  return fd;
}

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "ended with wait status " + std::to_string(status);
}

}  // namespace

JailMachine::JailMachine(MachineConfig cfg)
    : LaunchedMachine(cfg.job_id, "jail"), cfg_(std::move(cfg)) {}

JailMachine::~JailMachine() {
  stop();
}

std::string JailMachine::launch_summary() const {
  return "bwrap pid " + std::to_string(bwrap_pid_) + ", agent pid " + std::to_string(sandbox_pid_) +
         ", veth " + host_veth_ + " on " + cfg_.net.bridge + ", " + cfg_.net.guest_ip + "/" +
         std::to_string(cfg_.net.prefix_len);
}

std::expected<void, std::string> JailMachine::launch_steps() {
  if (auto ok = check_config(cfg_); !ok) return failure("config", ok.error());
  auto bwrap = find_program("bwrap");
  if (!bwrap) return failure("bwrap", bwrap.error() + " (install the bubblewrap package)");

  // A crashed worker may have left this job's host end behind; its namespace is gone.
  host_veth_ = net::host_veth_name(cfg_.job_id);
  if (net::link_exists(host_veth_)) {
    spdlog::warn("[{}] removing stale veth {} of an earlier run", cfg_.job_id, host_veth_);
    if (auto ok = net::delete_link(host_veth_); !ok) return failure("veth", ok.error());
  }

  std::error_code ec;
  fs::create_directories(cfg_.run_dir, ec);
  if (ec) return failure("run dir", "create " + cfg_.run_dir.string() + ": " + ec.message());
  run_dir_made_ = true;
  auto log = open_fd(console_log(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0640);
  if (!log) return failure("run dir", log.error());
  auto devnull = open_fd("/dev/null", O_RDONLY);
  if (!devnull) return failure("run dir", devnull.error());

  CgroupLimits limits{(uint64_t{cfg_.memory_mib} + kAgentMemoryHeadroomMib) << 20,
                      uint64_t{cfg_.processes} + kAgentProcessHeadroom, cfg_.cpu_percent};
  auto cgroups = create_job_cgroups(cfg_.job_id, limits);
  if (!cgroups) return failure("cgroups", cgroups.error());
  cgroups_ = std::move(*cgroups);
  std::vector<UniqueFd> procs;
  std::vector<int> procs_fds;
  for (auto& cg : cgroups_) {
    auto fd = open_fd(cg.path / "cgroup.procs", O_WRONLY);
    if (!fd) return failure("cgroups", fd.error());
    procs_fds.push_back(fd->get());
    procs.push_back(std::move(*fd));
  }

  auto held = held_capabilities();
  if (!held) return failure("capabilities", held.error());
  auto caps = plan_capabilities(*held);
  for (auto& name : caps.unavailable)
    spdlog::warn("[{}] {} is not in this worker's capability set; the agent runs without it",
                 cfg_.job_id, name);

  auto seccomp = seccomp_filter_memfd();
  if (!seccomp) return failure("seccomp", seccomp.error());
  auto secret = secret_memfd(cfg_.secret);
  if (!secret) return failure("secret", secret.error());
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return failure("info pipe", "pipe2: " + errno_text());
  UniqueFd info_read = above_stdio(UniqueFd(pipe_fds[0]));
  UniqueFd info_write = above_stdio(UniqueFd(pipe_fds[1]));
  if (!info_read || !info_write) return failure("info pipe", "dup: " + errno_text());

  BwrapPlan plan{cfg_.rootfs,
                 cfg_.agent,
                 cfg_.work_dir_bytes,
                 cgroups_,
                 caps.add,
                 seccomp->get(),
                 info_write.get(),
                 agent_arguments(cfg_, cgroups_, secret->get())};
  auto argv = bwrap_command(plan);
  if (!argv) return failure("bwrap command", argv.error());

  int inherit[] = {seccomp->get(), info_write.get(), secret->get()};
  auto pid = launch(*bwrap, *argv, LaunchFds{log->get(), devnull->get(), procs_fds, inherit});
  if (!pid) return failure("launch", pid.error());
  bwrap_pid_ = *pid;
  // Our copies go now: bwrap's end of the pipe must be the only one, or its exit would not
  // reach us as end-of-file.
  info_write.reset();
  seccomp->reset();
  secret->reset();
  procs.clear();

  auto sandbox = read_child_pid(info_read.get(), kPidTimeout);
  if (!sandbox) return failure("sandbox pid", sandbox.error());
  sandbox_pid_ = *sandbox;
  sandbox_start_time_ = proc_start_time(sandbox_pid_);

  // The port is admitted (its MAC and address pinned) before it exists, so no frame ever
  // crosses it unfiltered; the peer gets the MAC the pin names.
  auto ip = net::Ipv4::parse(cfg_.net.guest_ip);
  if (!ip) return failure("veth", ip.error());
  const auto mac = net::machine_mac(*ip);
  if (cfg_.net.filter) {
    auto admitted = cfg_.net.filter->admit(host_veth_, mac, *ip, cfg_.net.egress);
    if (!admitted) return failure("filter", admitted.error());
    admission_ = std::move(*admitted);
  }
  veth_made_ = true;  // from here on stop() deletes it, even if creation failed halfway
  if (auto ok = net::forget_neighbour(cfg_.net.bridge, cfg_.net.guest_ip); !ok)
    spdlog::warn("[{}] {}", cfg_.job_id, ok.error());
  if (auto ok = net::create_jail_veth({host_veth_, cfg_.net.bridge, sandbox_pid_, "eth0", mac});
      !ok)
    return failure("veth", ok.error());

  if (auto ok = wait_for_agent_exec(kExecTimeout); !ok) return failure("agent exec", ok.error());
  auto eff = effective_capabilities(sandbox_pid_);
  if (!eff) return failure("capabilities", eff.error());
  if (*eff != caps.mask)
    return failure("capabilities", fmt::format("the agent holds capabilities {:#x}, planned {:#x}; "
                                               "refusing a jail with other privileges than planned",
                                               *eff, caps.mask));
  return {};
}

std::expected<void, std::string> JailMachine::wait_for_agent_exec(
    std::chrono::milliseconds timeout) {
  // Until bwrap's child executes the agent, its argv[0] is bwrap's ("bwrap"); after, it is the
  // agent's (or its interpreter's). bwrap's mount setup fails in that child, so this is also
  // where a bad rootfs shows.
  auto deadline = Clock::now() + timeout;
  while (true) {
    if (reap()) return std::unexpected("bwrap ended before the agent ran");
    auto argv0 = proc_argv0(sandbox_pid_);
    if (argv0 && *argv0 != "bwrap") return {};
    if (Clock::now() >= deadline)
      return std::unexpected("the agent was not executed within " +
                             std::to_string(timeout.count()) + " ms");
    std::this_thread::sleep_for(2ms);
  }
}

std::unexpected<std::string> JailMachine::failure(std::string_view step, const std::string& why) {
  std::string message = std::string(step) + ": " + why;
  if (bwrap_pid_ > 0) {
    // bwrap may be dying of the very problem that made this step fail; its words say more.
    auto deadline = Clock::now() + 300ms;
    while (!reap() && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
    if (bwrap_reaped_) {
      message += "; bwrap " + describe_status(bwrap_status_);
      auto said = last_lines(read_tail(kConsoleTail), 3);
      if (!said.empty()) message += ": " + said;
    }
  }
  return std::unexpected(message);
}

bool JailMachine::reap() {
  if (bwrap_reaped_) return true;
  if (bwrap_pid_ <= 0) return false;
  int status = 0;
  pid_t r = waitpid(bwrap_pid_, &status, WNOHANG);
  if (r == 0) return false;
  if (r < 0 && errno == EINTR) return false;
  bwrap_reaped_ = true;
  if (r < 0) {
    // ECHILD: someone reaped it for us (a waitpid(-1) elsewhere in the process).
    spdlog::warn("[{}] waitpid bwrap {}: {}", cfg_.job_id, bwrap_pid_, errno_text());
    end_ = MachineEnd::exited;
    return true;
  }
  bwrap_status_ = status;
  // bwrap exits with 128 + N when the agent died of signal N.
  bool signalled = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) >= 128);
  end_ = signalled ? MachineEnd::killed : MachineEnd::exited;
  return true;
}

MachineEnd JailMachine::poll() {
  if (state() == State::fresh) return MachineEnd::exited;  // nothing was ever started
  if (reap()) return *end_;
  if (state() == State::stopped) return end_.value_or(MachineEnd::killed);
  return MachineEnd::running;
}

void JailMachine::teardown() {
  if (bwrap_pid_ > 0 && !reap()) {
    kill(bwrap_pid_, SIGKILL);
    // With bwrap gone, --die-with-parent SIGKILLs the agent, PID 1 of the jail's pid namespace,
    // and the kernel kills everything else in it. The agent is also killed directly in case bwrap
    // died before it armed that signal — if it is still the same process (pid + start time).
    if (sandbox_pid_ > 0 && sandbox_start_time_ &&
        proc_start_time(sandbox_pid_) == sandbox_start_time_)
      kill(sandbox_pid_, SIGKILL);
    auto deadline = Clock::now() + kReapTimeout;
    while (!reap() && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
    if (!bwrap_reaped_)
      spdlog::error("[{}] bwrap pid {} was not reaped within {} ms of SIGKILL", cfg_.job_id,
                    bwrap_pid_,
                    std::chrono::duration_cast<std::chrono::milliseconds>(kReapTimeout).count());
    else
      end_ = MachineEnd::killed;
  }

  // The cgroups also catch anything that outlived the namespace (and processes bwrap forked
  // before the namespace existed).
  for (auto& cg : cgroups_)
    if (auto ok = remove_cgroup_tree(cg.path, kCgroupTimeout); !ok)
      spdlog::error("[{}] cgroup {}: {}", cfg_.job_id, cg.controller, ok.error());
  cgroups_.clear();

  // The namespace's end destroys the pair too, but asynchronously; deleting it here makes stop()
  // leave nothing behind when it returns.
  if (veth_made_)
    if (auto ok = net::delete_link(host_veth_); !ok)
      spdlog::error("[{}] {}", cfg_.job_id, ok.error());
  admission_.end();  // after the port is gone: a stale pin admits nothing

  if (run_dir_made_) {
    last_tail_ = read_tail(kConsoleTail);
    std::error_code ec;
    fs::remove_all(cfg_.run_dir, ec);
    if (ec) spdlog::error("[{}] remove {}: {}", cfg_.job_id, cfg_.run_dir.string(), ec.message());
  }
  spdlog::info("[{}] jail stopped", cfg_.job_id);
}

std::string JailMachine::read_tail(size_t max_bytes) const {
  int fd = open(console_log().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  off_t size = lseek(fd, 0, SEEK_END);
  off_t from = size > static_cast<off_t>(max_bytes) ? size - static_cast<off_t>(max_bytes) : 0;
  std::string text(static_cast<size_t>(size - from), '\0');
  ssize_t n = size > 0 ? pread(fd, text.data(), text.size(), from) : 0;
  close(fd);
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  if (from > 0) {
    // Cut to a whole first line.
    auto nl = text.find('\n');
    if (nl != std::string::npos) text.erase(0, nl + 1);
  }
  return text;
}

std::string JailMachine::console_tail() const {
  if (state() == State::stopped) return last_tail_;
  return read_tail(kConsoleTail);
}

std::unique_ptr<Machine> make_jail_machine(MachineConfig cfg) {
  return std::make_unique<JailMachine>(std::move(cfg));
}

}  // namespace berth::vmm::jail

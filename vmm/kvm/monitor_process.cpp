#include "vmm/kvm/monitor_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "messages/agent_auth.hpp"
#include "messages/codec.hpp"
#include "messages/monitor_protocol.hpp"
#include "vmm/jail/launcher.hpp"

namespace berth::vmm::kvm {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kReapTimeout = std::chrono::seconds(2);

std::string describe(int status) {
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "ended with wait status " + std::to_string(status);
}

}  // namespace

std::expected<std::unique_ptr<MonitorProcess>, std::string> MonitorProcess::spawn(
    const MonitorSpec& s) {
  UniqueFd kvm(open("/dev/kvm", O_RDWR | O_CLOEXEC));
  if (!kvm) return std::unexpected(std::string("open /dev/kvm: ") + std::strerror(errno));
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
    return std::unexpected(std::string("socketpair: ") + std::strerror(errno));
  auto m = std::unique_ptr<MonitorProcess>(new MonitorProcess());
  m->control_.reset(pair[0]);
  UniqueFd theirs(pair[1]);
  fcntl(m->control_.get(), F_SETFL, O_NONBLOCK);
  fcntl(theirs.get(), F_SETFL, O_NONBLOCK);
  UniqueFd devnull(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!devnull) return std::unexpected(std::string("open /dev/null: ") + std::strerror(errno));

  std::string mac(reinterpret_cast<const char*>(s.mac.data()), s.mac.size());
  std::vector<std::string> argv = {s.program.string(),
                                   "--name",
                                   s.name,
                                   "--root",
                                   s.root.string(),
                                   "--kernel",
                                   s.kernel.string(),
                                   "--cmdline",
                                   s.cmdline,
                                   "--mem",
                                   std::to_string(s.mem_mib),
                                   "--vcpus",
                                   std::to_string(s.vcpus),
                                   "--mac",
                                   messages::to_hex(mac),
                                   "--kvm-fd",
                                   std::to_string(kvm.get()),
                                   "--tap-fd",
                                   std::to_string(s.tap_fd),
                                   "--control-fd",
                                   std::to_string(theirs.get()),
                                   "--uid",
                                   std::to_string(s.uid),
                                   "--gid",
                                   std::to_string(s.gid)};
  if (!s.initrd.empty()) argv.insert(argv.end(), {"--initrd", s.initrd.string()});
  int inherit[] = {kvm.get(), s.tap_fd, theirs.get()};
  jail::LaunchFds fds{s.log_fd, devnull.get(), s.cgroup_procs, inherit,
                      CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET};
  auto pid = jail::launch(s.program.string(), argv, fds);
  if (!pid) return std::unexpected(pid.error());
  m->pid_ = *pid;
  return m;  // our copies of /dev/kvm and their end of the socket close here
}

MonitorProcess::~MonitorProcess() {
  kill();
}

bool MonitorProcess::drain() {
  if (!control_) return false;
  char buf[messages::kMonitorEventMax];
  while (true) {
    ssize_t n = recv(control_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) {
      control_.reset();
      return false;
    }
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    auto e =
        messages::decode<messages::MonitorEvent>({buf, static_cast<size_t>(n)}, "monitor event");
    if (!e) {
      // Only the monitor writes here, and a broken one is a machine that failed.
      failed_ = e.error();
      continue;
    }
    switch (e->type) {
      case messages::MonitorEventType::started:
        started_ = true;
        break;
      case messages::MonitorEventType::console:
        console_.append(e->text);
        break;
      case messages::MonitorEventType::exit:
        end_ = MonitorEnd{e->reason, e->text};
        exit_tail_ = std::move(e->console_tail);
        break;
      case messages::MonitorEventType::failed:
        failed_ = e->text;
        break;
    }
  }
}

bool MonitorProcess::reap(bool wait) {
  if (reaped_) return true;
  if (pid_ <= 0) return false;
  auto deadline = Clock::now() + kReapTimeout;
  while (true) {
    pid_t r = waitpid(pid_, &wait_status_, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      reaped_ = true;
      return true;
    }
    if (!wait || Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

std::expected<void, std::string> MonitorProcess::wait_started(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    bool open = drain();
    if (failed_) return std::unexpected(*failed_);
    if (started_) return {};
    if (end_) return std::unexpected(end_->reason + ": " + end_->message);
    if (!open || reap(false)) {
      reap(true);
      return std::unexpected("the monitor " + describe(wait_status_) + " before the VM started");
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0)
      return std::unexpected("the monitor did not start the VM within " +
                             std::to_string(timeout.count()) + " ms");
    pollfd p{control_.get(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 50)));
  }
}

std::optional<MonitorEnd> MonitorProcess::poll() {
  drain();
  if (!reap(false)) return std::nullopt;
  drain();  // what it said just before it went
  if (!end_) end_ = MonitorEnd{"died", "the monitor " + describe(wait_status_)};
  return end_;
}

std::string MonitorProcess::console_tail() {
  drain();
  return exit_tail_.empty() ? console_.tail() : exit_tail_;
}

void MonitorProcess::kill() {
  if (pid_ <= 0 || reaped_) return;
  drain();
  ::kill(pid_, SIGKILL);
  reap(true);
  drain();
  if (!end_) end_ = MonitorEnd{"killed", "the machine was stopped"};
}

}  // namespace berth::vmm::kvm

// The monitor threads' seccomp filters (vmm/kvm/thread_filter.hpp), without /dev/kvm: a test
// thread loads a filter and checks from inside what it may and may not do; the test's own thread
// checks that the filter and no_new_privs stayed with that thread.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <expected>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vmm/kvm/event_loop.hpp"
#include "vmm/kvm/thread_filter.hpp"
#include "vmm/kvm/unique_fd.hpp"

namespace berth::vmm::kvm {
namespace {

// A field of /proc/self/task/<tid>/status ("Seccomp", "NoNewPrivs", ...), "" if absent.
std::string status_field(pid_t tid, const std::string& field) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) {
      auto v = line.substr(field.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  return "";
}

// The errno of a call that returned -1, 0 if it did not fail.
int err_of(long rc) {
  return rc == -1 ? errno : 0;
}

// The fds a monitor thread gets from the thread that set the VM up.
struct Fds {
  UniqueFd efd{eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  UniqueFd other{eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  UniqueFd epoll{epoll_create1(EPOLL_CLOEXEC)};
  pid_t parent = getppid();  // another process (getppid itself is not on the lists)
};

using Failures = std::vector<std::string>;
#define CHECK_IN_THREAD(cond, what) \
  if (!(cond)) f.push_back(std::string(what) + " (errno: " + std::strerror(errno) + ")")

// Loads the filter on a new thread, runs `body` there, and `while_filtered` on this thread with
// the filtered thread's id while that thread is still alive.
Failures on_filtered_thread(const std::function<std::expected<void, std::string>()>& install,
                            const std::function<void(Failures&)>& body,
                            const std::function<void(pid_t)>& while_filtered = {}) {
  Failures f;
  std::promise<pid_t> done;
  std::promise<void> may_end;
  auto done_f = done.get_future();
  std::thread t([&, may_end_f = may_end.get_future()]() mutable {
    if (auto r = install(); !r) f.push_back("install: " + r.error());
    body(f);
    done.set_value(static_cast<pid_t>(gettid()));
    may_end_f.wait();  // futex(FUTEX_WAIT) on the filtered thread
  });
  pid_t tid = done_f.get();
  if (while_filtered) while_filtered(tid);
  may_end.set_value();
  t.join();
  return f;
}

// What both lists allow and refuse.
void common_checks(const Fds& fds, std::mutex& held_elsewhere, Failures& f) {
  // Eventfds and epoll, as irqfds, ioeventfds and the loop use them.
  uint64_t one = 1, got = 0;
  CHECK_IN_THREAD(write(fds.efd.get(), &one, sizeof one) == sizeof one, "eventfd write works");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fds.efd.get();
  CHECK_IN_THREAD(epoll_ctl(fds.epoll.get(), EPOLL_CTL_ADD, fds.efd.get(), &ev) == 0,
                  "epoll_ctl works");
  epoll_event out[4];
  CHECK_IN_THREAD(epoll_wait(fds.epoll.get(), out, 4, 1000) == 1, "epoll_wait works");
  CHECK_IN_THREAD(read(fds.efd.get(), &got, sizeof got) == sizeof got && got == 1,
                  "eventfd read works");
  // A contended std::mutex: the test thread holds it for a moment, so this waits in futex().
  { std::lock_guard lock(held_elsewhere); }
  // malloc: small blocks from this thread's arena, a big one through mmap, realloc (mremap).
  std::vector<void*> small;
  for (int i = 0; i < 20000; ++i) small.push_back(std::malloc(256));
  bool all = true;
  for (void* p : small) all = all && p != nullptr;
  CHECK_IN_THREAD(all, "20000 small mallocs work");
  for (void* p : small) std::free(p);
  auto* big = static_cast<char*>(std::malloc(64 << 20));
  CHECK_IN_THREAD(big != nullptr, "malloc of 64 MiB works");
  if (big) {
    std::memset(big, 1, 64 << 20);
    big = static_cast<char*>(std::realloc(big, 128 << 20));
    CHECK_IN_THREAD(big != nullptr && big[(64 << 20) - 1] == 1, "realloc to 128 MiB works");
    std::free(big);
  }
  // Memory: read-write yes, executable no.
  void* rw = mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK_IN_THREAD(rw != MAP_FAILED, "mmap PROT_READ|PROT_WRITE works");
  if (rw != MAP_FAILED) {
    CHECK_IN_THREAD(err_of(mprotect(rw, 4096, PROT_READ | PROT_EXEC)) == EPERM,
                    "mprotect to PROT_EXEC is refused");
    CHECK_IN_THREAD(mprotect(rw, 4096, PROT_READ) == 0, "mprotect to PROT_READ works");
    CHECK_IN_THREAD(munmap(rw, 1 << 20) == 0, "munmap works");
  }
  void* rx = mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK_IN_THREAD(rx == MAP_FAILED && errno == EPERM, "mmap PROT_EXEC is refused");
  // Time.
  timespec ts{};
  CHECK_IN_THREAD(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) == 0, "clock_gettime works");
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // Signals: threads of this process yes (pthread_kill: getpid + tgkill), others no.
  CHECK_IN_THREAD(pthread_kill(pthread_self(), 0) == 0, "pthread_kill to itself works");
  CHECK_IN_THREAD(err_of(syscall(SYS_tgkill, fds.parent, fds.parent, 0)) == EPERM,
                  "tgkill to another process is refused");
  CHECK_IN_THREAD(err_of(kill(fds.parent, 0)) == EPERM, "kill is refused");
  // Files, sockets, processes, new fds.
  CHECK_IN_THREAD(err_of(open("/etc/hostname", O_RDONLY | O_CLOEXEC)) == EPERM, "open is refused");
  CHECK_IN_THREAD(err_of(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == EPERM,
                  "socket is refused");
  CHECK_IN_THREAD(err_of(eventfd(0, EFD_CLOEXEC)) == EPERM, "eventfd is refused");
  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
  CHECK_IN_THREAD(err_of(execve("/bin/true", argv, environ)) == EPERM, "execve is refused");
  CHECK_IN_THREAD(err_of(syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0)) == EPERM,
                  "clone (fork) is refused");
  CHECK_IN_THREAD(err_of(syscall(SYS_prctl, PR_SET_NAME, "x", 0, 0, 0)) == EPERM,
                  "prctl is refused");
}

// Runs common_checks plus `extra` under `install`, with the mutex held by this thread for a
// moment so the filtered thread has to wait for it in futex().
Failures run_checks(const std::function<std::expected<void, std::string>()>& install,
                    const Fds& fds, const std::function<void(Failures&)>& extra) {
  std::mutex mu;
  std::promise<void> locked;
  std::thread holder([&] {
    std::lock_guard lock(mu);
    locked.set_value();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  });
  locked.get_future().wait();
  auto f = on_filtered_thread(install, [&](Failures& f) {
    common_checks(fds, mu, f);
    extra(f);
  });
  holder.join();
  return f;
}

TEST(ThreadFilter, VcpuThreadMayRunItsVcpuAndLittleElse) {
  Fds fds;
  ASSERT_TRUE(fds.efd && fds.other && fds.epoll);
  int vcpu_fd = fds.efd.get();  // stands in for the vCPU fd: only the numbers are checked
  auto f = run_checks([&] { return install_vcpu_thread_filter(vcpu_fd); }, fds,
                      [&](Failures& f) {
                        // KVM_RUN on its fd passes the filter; the eventfd then answers ENOTTY, not
                        // EPERM.
                        CHECK_IN_THREAD(err_of(ioctl(vcpu_fd, KVM_RUN, 0)) == ENOTTY,
                                        "KVM_RUN on the vCPU fd passes");
                        CHECK_IN_THREAD(err_of(ioctl(fds.other.get(), KVM_RUN, 0)) == EPERM,
                                        "KVM_RUN on another fd is refused");
                        int on = 1;
                        CHECK_IN_THREAD(err_of(ioctl(vcpu_fd, FIONBIO, &on)) == EPERM,
                                        "another ioctl on the vCPU fd is refused");
                        CHECK_IN_THREAD(err_of(ioctl(vcpu_fd, KVM_SET_REGS, nullptr)) == EPERM,
                                        "KVM_SET_REGS is refused");
                        // Upper bits the kernel ignores (ioctl's fd and cmd are 32-bit) do not
                        // change the verdict.
                        CHECK_IN_THREAD(
                            err_of(syscall(SYS_ioctl, (1ul << 32) | static_cast<unsigned>(vcpu_fd),
                                           (1ul << 32) | KVM_RUN, 0)) == ENOTTY,
                            "KVM_RUN with upper bits set in fd and cmd passes");
                      });
  for (const auto& s : f) ADD_FAILURE() << s;
}

TEST(ThreadFilter, EventLoopThreadHasNoIoctl) {
  Fds fds;
  ASSERT_TRUE(fds.efd && fds.other && fds.epoll);
  auto f = run_checks(
      [] { return install_event_loop_thread_filter(); }, fds,
      [&](Failures& f) {
        CHECK_IN_THREAD(err_of(ioctl(fds.efd.get(), KVM_RUN, 0)) == EPERM, "KVM_RUN is refused");
        int on = 1;
        CHECK_IN_THREAD(err_of(ioctl(fds.efd.get(), FIONBIO, &on)) == EPERM, "FIONBIO is refused");
      });
  for (const auto& s : f) ADD_FAILURE() << s;
}

TEST(ThreadFilter, FilterAndNoNewPrivsStayOnTheirThread) {
  pid_t self = static_cast<pid_t>(gettid());
  // The test may itself run under a filter or with no_new_privs (a container): compare.
  std::string seccomp_before = status_field(self, "Seccomp");
  std::string nnp_before = status_field(self, "NoNewPrivs");
  std::string filters_before = status_field(self, "Seccomp_filters");  // Linux 5.9+
  ASSERT_FALSE(seccomp_before.empty()) << "no Seccomp: line in /proc/<pid>/task/<tid>/status";

  UniqueFd efd(eventfd(0, EFD_CLOEXEC));
  std::string seccomp_there, nnp_there, filters_there;
  auto f = on_filtered_thread(
      [&] { return install_vcpu_thread_filter(efd.get()); }, [](Failures&) {},
      [&](pid_t tid) {
        seccomp_there = status_field(tid, "Seccomp");
        nnp_there = status_field(tid, "NoNewPrivs");
        filters_there = status_field(tid, "Seccomp_filters");
        // While the filtered thread lives, this thread is not filtered.
        UniqueFd fd(open("/proc/self/status", O_RDONLY | O_CLOEXEC));
        EXPECT_TRUE(fd) << "open on the test thread: " << std::strerror(errno);
        UniqueFd sock(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        EXPECT_TRUE(sock) << "socket on the test thread: " << std::strerror(errno);
      });
  for (const auto& s : f) ADD_FAILURE() << s;
  EXPECT_EQ(seccomp_there, "2") << "SECCOMP_MODE_FILTER on the filtered thread";
  EXPECT_EQ(nnp_there, "1");
  if (!filters_before.empty()) {
    EXPECT_EQ(std::stoi(filters_there), std::stoi(filters_before) + 1);
  }
  // Nothing leaked to this thread (so neither to what it forks or execs later).
  EXPECT_EQ(status_field(self, "Seccomp"), seccomp_before);
  EXPECT_EQ(status_field(self, "NoNewPrivs"), nnp_before);
  EXPECT_EQ(status_field(self, "Seccomp_filters"), filters_before);
  // Nor to a thread created afterwards.
  std::string later_seccomp, later_nnp;
  std::thread([&] {
    pid_t tid = static_cast<pid_t>(gettid());
    later_seccomp = status_field(tid, "Seccomp");
    later_nnp = status_field(tid, "NoNewPrivs");
  }).join();
  EXPECT_EQ(later_seccomp, seccomp_before);
  EXPECT_EQ(later_nnp, nnp_before);
}

// The loop as the Vm starts it: filter first, then callbacks run under it.
TEST(ThreadFilter, EventLoopRunsCallbacksUnderItsFilter) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop) << loop.error();
  UniqueFd efd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  std::promise<int> open_errno;
  bool once = false;
  ASSERT_TRUE((*loop)->add(efd.get(), [&] {
    uint64_t n;
    if (read(efd.get(), &n, sizeof n) != sizeof n || once) return;
    once = true;
    open_errno.set_value(err_of(open("/etc/hostname", O_RDONLY | O_CLOEXEC)));
  }));
  std::string fatal;
  EventLoop::ThreadHooks hooks;
  hooks.setup = [] { return install_event_loop_thread_filter(); };
  hooks.on_fatal = [&](std::string m) { fatal = std::move(m); };
  ASSERT_TRUE((*loop)->start(std::move(hooks)));
  uint64_t one = 1;
  ASSERT_EQ(write(efd.get(), &one, sizeof one), static_cast<ssize_t>(sizeof one));
  auto f = open_errno.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(f.get(), EPERM) << "open() from a callback on the filtered loop";
  (*loop)->stop();
  EXPECT_EQ(fatal, "");
}

// A loop that cannot load its filter does not run unfiltered: it tells and ends.
TEST(ThreadFilter, EventLoopSetupFailureIsReported) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop) << loop.error();
  std::promise<std::string> fatal;
  EventLoop::ThreadHooks hooks;
  hooks.setup = []() -> std::expected<void, std::string> {
    return std::unexpected("seccomp: load: Invalid argument");
  };
  hooks.on_fatal = [&](std::string m) { fatal.set_value(std::move(m)); };
  ASSERT_TRUE((*loop)->start(std::move(hooks)));
  auto f = fatal.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(f.get(), "seccomp: load: Invalid argument");
  (*loop)->stop();
}

TEST(ThreadFilter, VcpuFilterNeedsAnFd) {
  std::expected<void, std::string> r;
  std::thread([&] { r = install_vcpu_thread_filter(-1); }).join();
  EXPECT_FALSE(r);
}

}  // namespace
}  // namespace berth::vmm::kvm

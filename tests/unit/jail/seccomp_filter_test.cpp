// The jail's seccomp filter, loaded into a forked child exactly as bwrap loads it (no_new_privs,
// then SECCOMP_SET_MODE_FILTER with the exported program). Run as root, so calls that fail
// here fail because of the filter, not for lack of privilege.
#include "vmm/jail/seccomp_filter.hpp"

#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <vector>

namespace berth::vmm::jail {
namespace {

std::vector<sock_filter> read_program(int fd) {
  std::vector<char> bytes;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) bytes.insert(bytes.end(), buf, buf + n);
  std::vector<sock_filter> prog(bytes.size() / sizeof(sock_filter));
  std::memcpy(prog.data(), bytes.data(), prog.size() * sizeof(sock_filter));
  return prog;
}

// Runs `check` in a child under the filter; returns its exit code (0 = every check passed,
// otherwise the number of the first failed check).
int under_filter(std::vector<sock_filter>& prog, int (*check)()) {
  pid_t pid = fork();
  if (pid == 0) {
    sock_fprog fprog{static_cast<unsigned short>(prog.size()), prog.data()};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(100);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) _exit(101);
    _exit(check());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200 + WTERMSIG(status);
}

bool fails_with(long r, int err) {
  return r == -1 && errno == err;
}

int denied_calls() {
  if (!fails_with(unshare(CLONE_NEWUSER), EPERM)) return 1;
  if (!fails_with(unshare(CLONE_NEWNS), EPERM)) return 2;
  // Unfiltered this fails with ENOENT, so a broken filter cannot mount anything.
  if (!fails_with(mount("/nonexistent-berth-a", "/nonexistent-berth-b", nullptr, MS_BIND, nullptr),
                  EPERM))
    return 3;
  if (!fails_with(ptrace(PTRACE_TRACEME, 0, nullptr, nullptr), EPERM)) return 4;
  if (!fails_with(syscall(SYS_keyctl, 0 /*KEYCTL_GET_KEYRING_ID*/, -1, 0), EPERM)) return 5;
  if (!fails_with(syscall(SYS_bpf, 0, nullptr, 0), EPERM)) return 6;
  if (!fails_with(syscall(SYS_setns, 0, 0), EPERM)) return 7;
  if (!fails_with(syscall(SYS_userfaultfd, 0), EPERM)) return 8;
  if (!fails_with(syscall(SYS_clone3, nullptr, 0), ENOSYS)) return 9;
  // clone with a namespace flag: if the filter let it through, the new child leaves at once.
  long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (r == 0) _exit(0);
  if (r > 0) {
    waitpid(static_cast<pid_t>(r), nullptr, 0);
    return 10;
  }
  if (errno != EPERM) return 11;
  if (!fails_with(personality(ADDR_NO_RANDOMIZE), EPERM)) return 12;
  if (!fails_with(personality(READ_IMPLIES_EXEC), EPERM)) return 13;
  if (!fails_with(syscall(SYS_personality, 0x100000000ul | ADDR_NO_RANDOMIZE), EPERM)) return 14;
  return 0;
}

int allowed_calls() {
  if (getpid() <= 0) return 1;
  if (personality(0xffffffff) == -1) return 2;  // the query
  if (personality(PER_LINUX) == -1) return 3;
  // A plain fork (glibc uses clone without namespace flags) still works.
  pid_t child = fork();
  if (child == 0) _exit(0);
  if (child < 0) return 4;
  int st = 0;
  if (waitpid(child, &st, 0) != child || !WIFEXITED(st)) return 5;
  return 0;
}

class SeccompFilter : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to show that the filter, not privilege, denies";
    auto fd = seccomp_filter_memfd();
    ASSERT_TRUE(fd) << fd.error();
    EXPECT_TRUE(fcntl(fd->get(), F_GETFD) & FD_CLOEXEC) << "the memfd must be close-on-exec";
    EXPECT_GE(fd->get(), 3);
    prog_ = read_program(fd->get());
    ASSERT_GT(prog_.size(), 10u);
  }
  std::vector<sock_filter> prog_;
};

TEST_F(SeccompFilter, DeniesNamespacesMountsTracingKeysBpfAndPersonalityChanges) {
  EXPECT_EQ(under_filter(prog_, denied_calls), 0)
      << "exit code = number of the first check that failed";
}

TEST_F(SeccompFilter, AllowsOrdinaryCalls) {
  EXPECT_EQ(under_filter(prog_, allowed_calls), 0);
}

TEST_F(SeccompFilter, WithoutTheFilterTheSameCallsSucceed) {
  // Control: as root, with no filter, the denied checks do not all hold, so the test above
  // measures the filter.
  pid_t pid = fork();
  if (pid == 0) _exit(denied_calls());
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_NE(WEXITSTATUS(status), 0);
}

TEST(SeccompDenyList, NamesResolveOnThisArchitecture) {
  for (auto& name : denied_syscalls())
    EXPECT_NE(seccomp_syscall_resolve_name(name.c_str()), __NR_SCMP_ERROR) << name;
}

}  // namespace
}  // namespace berth::vmm::jail

// The jail's seccomp filter, loaded into a forked child exactly as bwrap loads it (no_new_privs,
// then SECCOMP_SET_MODE_FILTER with the exported program). Run as root, so calls that fail
// here fail because of the filter, not for lack of privilege.
//
// Every denied call is a Probe: one system call with the errno the filter answers. Each probe
// runs twice, in a child under the filter and in a child without it, and must fail with that
// errno only under the filter — so removing any one rule fails that probe's test.
#include "vmm/jail/seccomp_filter.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

// Address families this libc may not name; the kernel's numbers are fixed (linux/socket.h).
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_XDP
#define AF_XDP 44
#endif

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

// Exit codes past every errno value (the largest is 133): the filter did not load, or the
// child died of a signal (code - kKilled).
constexpr int kNoNewPrivsFailed = 240, kLoadFailed = 241, kKilled = 200;

// Runs `check` in a child, under the filter when `prog` is given; returns its exit code.
template <class F>
int in_child(const std::vector<sock_filter>* prog, F check) {
  pid_t pid = fork();
  if (pid == 0) {
    if (prog) {
      sock_fprog fprog{static_cast<unsigned short>(prog->size()),
                       const_cast<sock_filter*>(prog->data())};
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(kNoNewPrivsFailed);
      if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) _exit(kLoadFailed);
    }
    _exit(check());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : kKilled + WTERMSIG(status);
}

// One denied call: what it is, the call (a system call's return value, errno set on -1) and
// the errno the filter must answer.
struct Probe {
  const char* name;
  long (*call)();
  int denied_with;
};

// gtest names a failing probe by this, not by its bytes.
void PrintTo(const Probe& p, std::ostream* os) {
  *os << p.name;
}

// 0 when the call succeeded, otherwise its errno (errno values fit an exit code).
int outcome(const Probe& p) {
  errno = 0;
  long r = p.call();
  return r >= 0 ? 0 : errno;
}

long raw_socket(uint64_t family, int type, uint64_t protocol) {
  return syscall(SYS_socket, family, type, protocol);
}

long raw_socketpair(uint64_t family, int type) {
  int sv[2];
  return syscall(SYS_socketpair, family, type, 0, sv);
}

long clone_new_user() {
  // If the filter let it through, the new child leaves at once.
  long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (r == 0) _exit(0);
  if (r > 0) waitpid(static_cast<pid_t>(r), nullptr, 0);
  return r;
}

long io_uring_setup_one() {
  io_uring_params params{};
  return syscall(SYS_io_uring_setup, 1, &params);
}

const Probe kProbes[] = {
    {"unshare_user", [] { return long{unshare(CLONE_NEWUSER)}; }, EPERM},
    {"unshare_mount", [] { return long{unshare(CLONE_NEWNS)}; }, EPERM},
    // Unfiltered this fails with ENOENT, so a broken filter cannot mount anything.
    {"mount",
     [] {
       return long{
           mount("/nonexistent-berth-a", "/nonexistent-berth-b", nullptr, MS_BIND, nullptr)};
     },
     EPERM},
    {"ptrace", [] { return ptrace(PTRACE_TRACEME, 0, nullptr, nullptr); }, EPERM},
    {"keyctl", [] { return syscall(SYS_keyctl, 0 /*KEYCTL_GET_KEYRING_ID*/, -1, 0); }, EPERM},
    {"setns", [] { return syscall(SYS_setns, 0, 0); }, EPERM},
    {"clone_newuser", clone_new_user, EPERM},
    {"clone3", [] { return syscall(SYS_clone3, nullptr, 0); }, ENOSYS},
    {"personality_no_randomize", [] { return long{personality(ADDR_NO_RANDOMIZE)}; }, EPERM},
    {"personality_read_implies_exec", [] { return long{personality(READ_IMPLIES_EXEC)}; }, EPERM},
    // The kernel reads 32 bits: unfiltered this is ADDR_NO_RANDOMIZE and succeeds.
    {"personality_high_bits",
     [] { return syscall(SYS_personality, 0x100000000ul | ADDR_NO_RANDOMIZE); }, EPERM},
    // Unfiltered: EINVAL (a zeroed map), EFAULT (no attr); as root neither is EPERM.
    {"bpf", [] { return syscall(SYS_bpf, 0, nullptr, 0); }, EPERM},
    {"perf_event_open", [] { return syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0); }, EPERM},
    {"userfaultfd", [] { return syscall(SYS_userfaultfd, O_CLOEXEC); }, EPERM},
    // Unfiltered: a ring (setup) and EBADF (the others, on fd -1).
    {"io_uring_setup", io_uring_setup_one, ENOSYS},
    {"io_uring_enter", [] { return syscall(SYS_io_uring_enter, -1, 0, 0, 0, nullptr, 0); }, ENOSYS},
    {"io_uring_register", [] { return syscall(SYS_io_uring_register, -1, 0, nullptr, 0); }, ENOSYS},
    // Families: unfiltered each either works (where the kernel has the family) or fails with
    // EAFNOSUPPORT where the kernel lacks it; never EPERM for root.
    {"socket_unspec", [] { return raw_socket(AF_UNSPEC, SOCK_STREAM, 0); }, EPERM},
    {"socket_vsock", [] { return raw_socket(AF_VSOCK, SOCK_STREAM, 0); }, EPERM},
    {"socket_packet", [] { return raw_socket(AF_PACKET, SOCK_DGRAM, 0); }, EPERM},
    {"socket_bluetooth", [] { return raw_socket(AF_BLUETOOTH, SOCK_STREAM, 0); }, EPERM},
    {"socket_alg", [] { return raw_socket(AF_ALG, SOCK_SEQPACKET, 0); }, EPERM},
    {"socket_xdp", [] { return raw_socket(AF_XDP, SOCK_RAW, 0); }, EPERM},
    {"socket_key", [] { return raw_socket(AF_KEY, SOCK_RAW, 2 /*PF_KEY_V2*/); }, EPERM},
    {"socket_tipc", [] { return raw_socket(AF_TIPC, SOCK_RDM, 0); }, EPERM},
    {"socket_can", [] { return raw_socket(AF_CAN, SOCK_RAW, 1 /*CAN_RAW*/); }, EPERM},
    {"socket_ax25", [] { return raw_socket(AF_AX25, SOCK_SEQPACKET, 0); }, EPERM},
    // The kernel sees AF_INET (the low 32 bits) and would make a TCP socket.
    {"socket_inet_with_high_bits",
     [] { return raw_socket(0x100000000ull | AF_INET, SOCK_STREAM, 0); }, EPERM},
    {"socket_netlink_generic", [] { return raw_socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC); },
     EPERM},
    {"socket_netlink_uevent",
     [] { return raw_socket(AF_NETLINK, SOCK_DGRAM, NETLINK_KOBJECT_UEVENT); }, EPERM},
    {"socket_netlink_sock_diag", [] { return raw_socket(AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG); },
     EPERM},
    {"socket_netlink_audit", [] { return raw_socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT); }, EPERM},
    // The kernel sees NETLINK_ROUTE (the low 32 bits).
    {"socket_netlink_route_with_high_bits",
     [] { return raw_socket(AF_NETLINK, SOCK_RAW, 0x100000000ull | NETLINK_ROUTE); }, EPERM},
    // Unfiltered: EOPNOTSUPP (only AF_UNIX makes pairs) or EAFNOSUPPORT.
    {"socketpair_vsock", [] { return raw_socketpair(AF_VSOCK, SOCK_STREAM); }, EPERM},
    {"socketpair_packet", [] { return raw_socketpair(AF_PACKET, SOCK_DGRAM); }, EPERM},
    {"socketpair_netlink_generic",
     [] {
       int sv[2];
       return syscall(SYS_socketpair, AF_NETLINK, SOCK_RAW, NETLINK_GENERIC, sv);
     },
     EPERM},
};

bool is_root() {
  return geteuid() == 0;
}

class DeniedCall : public ::testing::TestWithParam<Probe> {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root to show that the filter, not privilege, denies";
    auto fd = seccomp_filter_memfd();
    ASSERT_TRUE(fd) << fd.error();
    prog_ = read_program(fd->get());
    ASSERT_GT(prog_.size(), 10u);
  }
  std::vector<sock_filter> prog_;
};

TEST_P(DeniedCall, FailsWithItsErrnoOnlyUnderTheFilter) {
  const Probe& p = GetParam();
  int unfiltered = in_child(nullptr, [&] { return outcome(p); });
  // The control: without the filter the call succeeds (0) or fails some other way, so the
  // check below measures the filter's rule and nothing else.
  EXPECT_NE(unfiltered, p.denied_with)
      << p.name << " fails with " << std::strerror(p.denied_with)
      << " even without the filter: this probe cannot show the rule here";
  EXPECT_LT(unfiltered, kKilled) << "the unfiltered child died";
  int filtered = in_child(&prog_, [&] { return outcome(p); });
  EXPECT_EQ(filtered, p.denied_with)
      << p.name << " under the filter: " << (filtered == 0 ? "succeeded" : std::strerror(filtered))
      << " (without it: " << (unfiltered == 0 ? "succeeded" : std::strerror(unfiltered)) << ")";
}

INSTANTIATE_TEST_SUITE_P(SeccompFilter, DeniedCall, ::testing::ValuesIn(kProbes),
                         [](const ::testing::TestParamInfo<Probe>& info) {
                           return std::string(info.param.name);
                         });

// Checks run in one child under the filter; each returns 0 or the number of the failed step.

int ordinary_calls() {
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

// The sockets a job and the agent use: TCP and UDP over IPv4 and IPv6 (bound, connected over
// loopback), AF_UNIX (a pair that carries bytes), and netlink route (a link dump answered;
// getifaddrs and if_nametoindex, which glibc builds on it).
int allowed_sockets() {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (l < 0) return 1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(l, 1) != 0) return 2;
  if (getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0) return 3;
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c < 0 || connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 4;
  if (socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0) < 0) return 5;
  int s6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s6 < 0) return 6;
  sockaddr_in6 a6{};
  a6.sin6_family = AF_INET6;
  a6.sin6_addr = in6addr_any;
  if (bind(s6, reinterpret_cast<sockaddr*>(&a6), sizeof a6) != 0) return 7;
  if (socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0) < 0) return 8;

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 9;
  char ch = 0;
  if (write(sv[0], "x", 1) != 1 || read(sv[1], &ch, 1) != 1 || ch != 'x') return 10;
  if (socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0) < 0) return 11;

  int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (nl < 0) return 12;
  struct {
    nlmsghdr h;
    rtgenmsg g;
  } req{};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_GETLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.g.rtgen_family = AF_UNSPEC;
  if (send(nl, &req, sizeof req, 0) != static_cast<ssize_t>(sizeof req)) return 13;
  alignas(nlmsghdr) char buf[16384];
  ssize_t n = recv(nl, buf, sizeof buf, 0);
  if (n < static_cast<ssize_t>(sizeof(nlmsghdr))) return 14;
  if (reinterpret_cast<nlmsghdr*>(buf)->nlmsg_type != RTM_NEWLINK) return 15;
  if (socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_ROUTE) < 0) return 16;

  ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) != 0) return 17;
  freeifaddrs(ifs);
  if (if_nametoindex("lo") == 0) return 18;
  return 0;
}

class SeccompFilter : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root to show that the filter, not privilege, denies";
    auto fd = seccomp_filter_memfd();
    ASSERT_TRUE(fd) << fd.error();
    EXPECT_TRUE(fcntl(fd->get(), F_GETFD) & FD_CLOEXEC) << "the memfd must be close-on-exec";
    EXPECT_GE(fd->get(), 3);
    prog_ = read_program(fd->get());
    ASSERT_GT(prog_.size(), 10u);
  }
  std::vector<sock_filter> prog_;
};

TEST_F(SeccompFilter, AllowsOrdinaryCalls) {
  EXPECT_EQ(in_child(&prog_, ordinary_calls), 0) << "exit code = number of the failed step";
}

TEST_F(SeccompFilter, AllowsInetInet6UnixAndNetlinkRouteSockets) {
  // Without the filter first: a failure there is the host's, not the filter's.
  ASSERT_EQ(in_child(nullptr, allowed_sockets), 0) << "the host itself cannot; step number";
  EXPECT_EQ(in_child(&prog_, allowed_sockets), 0) << "exit code = number of the failed step";
}

TEST(SeccompDenyList, NamesResolveOnThisArchitecture) {
  for (auto& name : denied_syscalls())
    EXPECT_NE(seccomp_syscall_resolve_name(name.c_str()), __NR_SCMP_ERROR) << name;
  for (auto& name : unavailable_syscalls())
    EXPECT_NE(seccomp_syscall_resolve_name(name.c_str()), __NR_SCMP_ERROR) << name;
}

TEST(SeccompDenyList, TheProbesCoverEveryListedCall) {
  // A call added to a list without a probe would be denied but never shown to be.
  std::vector<std::string> probed;
  for (const auto& p : kProbes) probed.emplace_back(p.name);
  auto has_probe = [&](const std::string& call) {
    for (const auto& name : probed)
      if (name == call || name.rfind(call + "_", 0) == 0) return true;
    return false;
  };
  for (auto& name : unavailable_syscalls()) EXPECT_TRUE(has_probe(name)) << name;
  for (const char* name :
       {"ptrace", "bpf", "perf_event_open", "userfaultfd", "keyctl", "setns", "mount"})
    EXPECT_TRUE(has_probe(name)) << name;
}

}  // namespace
}  // namespace berth::vmm::jail

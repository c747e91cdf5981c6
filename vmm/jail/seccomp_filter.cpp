#include "vmm/jail/seccomp_filter.hpp"

#include <linux/netlink.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

namespace berth::vmm::jail {

namespace {

struct CtxRelease {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

std::string scmp_error(const std::string& what, int rc) {
  return what + ": " + std::strerror(-rc);
}

// socket(family, type, protocol) and socketpair(family, type, protocol, sv): EPERM unless the
// family is allowed, and for AF_NETLINK unless the protocol is NETLINK_ROUTE. Default allow
// means every refusal is a rule; one comparison per argument per rule (libseccomp 2.5), so the
// family gaps between the allowed values are spelled out one value each, and everything past
// the largest allowed one is refused by a single "greater than". The comparisons are on the
// whole 64-bit register while the kernel reads only its low 32 bits, so a family or protocol
// with any high bit set (0x1_0000_0002 would be AF_INET to the kernel) is refused as well:
// it is greater than every allowed value.
//
// EPERM, not EAFNOSUPPORT: it is the kernel's own answer to an unprivileged AF_PACKET or raw
// socket, so callers already take it as "not for you", and it says that a policy refused the
// call rather than that the kernel lacks the family — which a job's author reading the error
// should know. It also differs from every answer an unfiltered kernel gives root for these
// calls, so the test can prove each rule on any host (seccomp_filter_test.cpp).
std::expected<void, std::string> add_socket_rules(scmp_filter_ctx ctx, int syscall_nr,
                                                  const char* name) {
  const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
  auto rule = [&](scmp_arg_cmp a,
                  std::optional<scmp_arg_cmp> b = {}) -> std::expected<void, std::string> {
    int rc = b ? seccomp_rule_add(ctx, eperm, syscall_nr, 2, a, *b)
               : seccomp_rule_add(ctx, eperm, syscall_nr, 1, a);
    if (rc < 0) return std::unexpected(scmp_error(std::string("seccomp: rule for ") + name, rc));
    return {};
  };
  const auto& allowed = allowed_socket_families();
  const int highest = *std::max_element(allowed.begin(), allowed.end());
  for (int family = 0; family < highest; ++family) {
    if (std::find(allowed.begin(), allowed.end(), family) != allowed.end()) continue;
    if (auto r = rule(SCMP_A0(SCMP_CMP_EQ, static_cast<uint64_t>(family))); !r) return r;
  }
  if (auto r = rule(SCMP_A0(SCMP_CMP_GT, static_cast<uint64_t>(highest))); !r) return r;
  // NETLINK_ROUTE is 0, so "any other protocol" is "greater than 0".
  return rule(SCMP_A0(SCMP_CMP_EQ, uint64_t{AF_NETLINK}),
              SCMP_A2(SCMP_CMP_GT, uint64_t{NETLINK_ROUTE}));
}

}  // namespace

const std::vector<std::string>& denied_syscalls() {
  static const std::vector<std::string> names = {
      // kernels, modules
      "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
      // mounts (the old call and the new mount API)
      "mount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
      "open_tree", "mount_setattr",
      // namespaces
      "unshare", "setns",
      // host state
      "swapon", "swapoff", "reboot", "acct", "settimeofday", "clock_settime", "clock_adjtime",
      "adjtimex", "syslog",
      // other processes' memory
      "ptrace", "process_vm_readv", "process_vm_writev",
      // keyrings, BPF, perf, userfaultfd, file handles
      "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
      "open_by_handle_at"};
  return names;
}

const std::vector<std::string>& unavailable_syscalls() {
  // io_uring is a second system-call interface: its operations bypass this filter (an
  // IORING_OP_SOCKET is not a socket() call, so the family rules below would not see it) and
  // it has been a leading source of kernel privilege escalations. ENOSYS rather than EPERM
  // because "this kernel has no io_uring" (before 5.1, or CONFIG_IO_URING=n) is the case
  // every user already handles: libuv (node) tries io_uring_setup and keeps its thread pool
  // when it fails, and programs on liburing are written for kernels without it; EPERM is the
  // newer answer of io_uring_disabled (Linux 6.6), which not every program expects.
  static const std::vector<std::string> names = {"io_uring_setup", "io_uring_enter",
                                                 "io_uring_register"};
  return names;
}

const std::vector<int>& allowed_socket_families() {
  static const std::vector<int> families = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK};
  return families;
}

std::expected<UniqueFd, std::string> seccomp_filter_memfd() {
  std::unique_ptr<void, CtxRelease> ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return std::unexpected(std::string("seccomp_init failed"));
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS); rc < 0)
    return std::unexpected(scmp_error("seccomp: bad-arch action", rc));

  const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
  for (auto& name : denied_syscalls()) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) return std::unexpected("seccomp: unknown system call " + name);
    if (int rc = seccomp_rule_add(ctx.get(), eperm, nr, 0); rc < 0)
      return std::unexpected(scmp_error("seccomp: rule for " + name, rc));
  }

  // clone(flags, ...): any namespace flag → EPERM (one rule per flag; rules are or-ed).
  for (uint64_t flag : {CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
                        CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWTIME}) {
    if (int rc = seccomp_rule_add(ctx.get(), eperm, SCMP_SYS(clone), 1,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
        rc < 0)
      return std::unexpected(scmp_error("seccomp: rule for clone", rc));
  }
  if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0); rc < 0)
    return std::unexpected(scmp_error("seccomp: rule for clone3", rc));
  for (auto& name : unavailable_syscalls()) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) return std::unexpected("seccomp: unknown system call " + name);
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), nr, 0); rc < 0)
      return std::unexpected(scmp_error("seccomp: rule for " + name, rc));
  }
  if (auto r = add_socket_rules(ctx.get(), SCMP_SYS(socket), "socket"); !r)
    return std::unexpected(r.error());
  if (auto r = add_socket_rules(ctx.get(), SCMP_SYS(socketpair), "socketpair"); !r)
    return std::unexpected(r.error());

  // personality(p): only PER_LINUX (0) and the query 0xffffffff pass. libseccomp 2.5 allows one
  // comparison per argument in a rule, so "0 < p < 0xffffffff" is written as a union: a 32-bit
  // value is neither all zeros nor all ones exactly when, going round its bits, some set bit i
  // is followed by a clear bit i+1 (mod 32) — one masked comparison per i. Values with high
  // bits set (the kernel would truncate them) are refused by the last rule.
  for (int i = 0; i < 32; ++i) {
    uint64_t bit = uint64_t{1} << i, next = uint64_t{1} << ((i + 1) % 32);
    if (int rc = seccomp_rule_add(ctx.get(), eperm, SCMP_SYS(personality), 1,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, bit | next, bit));
        rc < 0)
      return std::unexpected(scmp_error("seccomp: rule for personality", rc));
  }
  if (int rc = seccomp_rule_add(ctx.get(), eperm, SCMP_SYS(personality), 1,
                                SCMP_A0(SCMP_CMP_GT, 0xffffffffull));
      rc < 0)
    return std::unexpected(scmp_error("seccomp: rule for personality", rc));

  UniqueFd fd(memfd_create("berth-seccomp", MFD_CLOEXEC));
  if (!fd) return std::unexpected(std::string("memfd_create: ") + std::strerror(errno));
  if (int rc = seccomp_export_bpf(ctx.get(), fd.get()); rc < 0)
    return std::unexpected(scmp_error("seccomp_export_bpf", rc));
  if (lseek(fd.get(), 0, SEEK_SET) != 0)
    return std::unexpected(std::string("lseek seccomp memfd: ") + std::strerror(errno));
  return above_stdio(std::move(fd));
}

}  // namespace berth::vmm::jail

#include "vmm/jail/seccomp_filter.hpp"

#include <linux/sched.h>
#include <seccomp.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace berth::vmm::jail {

namespace {

struct CtxRelease {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

std::string scmp_error(const std::string& what, int rc) {
  return what + ": " + std::strerror(-rc);
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

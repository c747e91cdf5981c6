#include "vmm/kvm/thread_filter.hpp"

#include <linux/kvm.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace berth::vmm::kvm {

namespace {

struct CtxRelease {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

// Argument `arg` equals `value` in its low 32 bits. For int and unsigned int parameters the kernel
// looks at no more (ioctl's fd and cmd: ksys_ioctl(unsigned int, unsigned int, ...)), while a BPF
// filter sees the whole 64-bit register, and a plain SCMP_CMP_EQ would refuse a good call whose
// caller left something in the upper half.
scmp_arg_cmp low32(unsigned arg, uint32_t value) {
  return scmp_arg_cmp{arg, SCMP_CMP_MASKED_EQ, 0xffffffffu, value};
}

std::string scmp_error(const std::string& what, int rc) {
  return "seccomp: " + what + ": " + std::strerror(-rc);
}

// What both kinds of thread do. A vCPU thread runs device code on its exits (serial, i8042,
// virtio-mmio registers: a driver's DRIVER_OK activates the NIC, which reads the TAP and changes
// its epoll set) and the event loop runs the same devices' queue work, so the lists differ only
// in ioctl.
constexpr const char* kCommon[] = {
    // TAP frames (read, writev), eventfds (irqfds, ioeventfds, the loop's wake fd, the NIC's TX
    // kick), console and log lines to stdout/stderr.
    "read",
    "write",
    "readv",
    "writev",
    // The loop's epoll set and the NIC's own (watch_tap(), on_readable()).
    "epoll_wait",
    "epoll_pwait",
    "epoll_ctl",
    // std::mutex, std::condition_variable (Vm::finish() notifies waiters), spdlog's sink lock.
    "futex",
    "sched_yield",
    // steady_clock/system_clock go through the vDSO, but fall back to the system call when the
    // host's clocksource has no vDSO support (e.g. under some hypervisors).
    "clock_gettime",
    "gettimeofday",
    "clock_nanosleep",
    "nanosleep",
    // glibc malloc: a thread's arena is an mmap'ed heap grown with mprotect, trimmed with
    // madvise(MADV_DONTNEED); big blocks are mmap/munmap/mremap. mmap and mprotect are added
    // below with PROT_EXEC refused.
    "brk",
    "munmap",
    "mremap",
    "madvise",
    // Vm::finish() kicks the other vCPUs with pthread_kill(): getpid() then tgkill() (added
    // below for this process only). The kick signal's handler returns through rt_sigreturn; an
    // interrupted sleep restarts through restart_syscall.
    "getpid",
    "gettid",
    "rt_sigreturn",
    "rt_sigprocmask",  // glibc blocks all signals while a thread exits (pthread_create.c)
    "restart_syscall",
    // A device whose last reference a thread drops closes its fds.
    "close",
    // The thread's end; exit_group so that abort()/std::terminate still end the process.
    "exit",
    "exit_group",
};

std::expected<void, std::string> install(int vcpu_fd) {
  // seccomp(2): installing a filter needs CAP_SYS_ADMIN or no_new_privs on the calling thread.
  // PR_SET_NO_NEW_PRIVS (prctl(2), Documentation/userspace-api/no_new_privs.rst) sets a flag of
  // the calling task — this thread — which children created or exec'ed from it inherit. These
  // threads never create or exec anything; the worker's other threads (which run bwrap, a setuid
  // program on some hosts) keep their own flag, unset. Only TSYNC would copy it to them.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return std::unexpected(std::string("seccomp: PR_SET_NO_NEW_PRIVS: ") + std::strerror(errno));

  const uint32_t deny = SCMP_ACT_ERRNO(EPERM);
  std::unique_ptr<void, CtxRelease> ctx(seccomp_init(deny));
  if (!ctx) return std::unexpected(std::string("seccomp: seccomp_init failed"));
  // A call through another ABI (int 0x80, x32) is denied like any other, not killed.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, deny); rc < 0)
    return std::unexpected(scmp_error("bad-arch action", rc));
  // no_new_privs is set above, explicitly; TSYNC stays off (libseccomp's default, made plain):
  // without it seccomp(2) filters the calling thread only.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0); rc < 0)
    return std::unexpected(scmp_error("no_new_privs attribute", rc));
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 0); rc < 0)
    return std::unexpected(scmp_error("tsync attribute", rc));
  // SECCOMP_FILTER_FLAG_LOG (Linux 4.14): denials reach the audit log, rate-limited by the
  // kernel. Best effort: an older kernel or libseccomp only loses the log line.
  (void)seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_LOG, 1);

  for (const char* name : kCommon) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return std::unexpected(std::string("seccomp: unknown call ") + name);
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 0); rc < 0)
      return std::unexpected(scmp_error(std::string("rule for ") + name, rc));
  }
  // Memory the thread maps or reprotects is never executable: no call here needs that, and it is
  // the step from writing into the monitor to running code of one's own.
  for (int nr : {SCMP_SYS(mmap), SCMP_SYS(mprotect)}) {
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 1,
                                  SCMP_A2_64(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
        rc < 0)
      return std::unexpected(scmp_error("rule for mmap/mprotect", rc));
  }
  // Signals to threads of this process only (the vCPU kick; abort()'s SIGABRT to itself).
  if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                                low32(0, static_cast<uint32_t>(getpid())));
      rc < 0)
    return std::unexpected(scmp_error("rule for tgkill", rc));
  // A vCPU thread: KVM_RUN on its own vCPU fd, nothing else. Its registers, CPUID, MSRs and
  // LAPIC are set before the thread starts (Vcpu::configure() on the thread calling start()).
  if (vcpu_fd >= 0) {
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2,
                                  low32(0, static_cast<uint32_t>(vcpu_fd)), low32(1, KVM_RUN));
        rc < 0)
      return std::unexpected(scmp_error("rule for ioctl", rc));
  }
  if (int rc = seccomp_load(ctx.get()); rc < 0) return std::unexpected(scmp_error("load", rc));
  return {};
}

}  // namespace

std::expected<void, std::string> install_vcpu_thread_filter(int vcpu_fd) {
  if (vcpu_fd < 0) return std::unexpected(std::string("seccomp: no vCPU fd"));
  return install(vcpu_fd);
}

std::expected<void, std::string> install_event_loop_thread_filter() {
  return install(-1);
}

}  // namespace berth::vmm::kvm

#pragma once
// The jail's system-call filter (DESIGN.md §3), built with libseccomp and handed to bwrap as a
// compiled BPF program (`--seccomp FD`). bwrap loads it last, right before it executes the
// agent, so its own mount and namespace setup is not affected; the agent and every job
// process inherit it and cannot remove it.
//
// Policy: allow by default; fail with EPERM the calls that reach kernel attack surface or host
// state a job never needs — loading kernels or modules, mounting, namespaces (unshare, setns,
// and clone with a CLONE_NEW* flag), tracing other processes, keyrings, BPF, perf, userfaultfd,
// swap, reboot, accounting, the clock, the kernel log, and personality() beyond the default
// (ADDR_NO_RANDOMIZE and READ_IMPLIES_EXEC weaken the job's own hardening). clone3 fails with
// ENOSYS because its flags are behind a pointer a filter cannot read; glibc then uses clone.
// io_uring fails with ENOSYS too (see unavailable_syscalls()). socket() and socketpair() are
// allowed only for AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK with NETLINK_ROUTE (the agent
// configures its NIC with it, glibc's getifaddrs and getaddrinfo read it); every other family
// and netlink protocol fails with EPERM. Foreign system-call ABIs (i386, x32) kill the process:
// nothing here is built for them and their numbers would slip past a filter written for
// x86_64's.
//
// Why a denylist and not an allowlist: the filter covers the agent and whatever a job runs —
// gcc, rustc, go, the JVM, node, php, ruby, perl, lua, python — in whichever versions the
// images carry, and each new glibc or runtime starts using calls an allowlist would not know
// (glibc 2.33's faccessat2 and 2.34's clone3 broke container runtimes whose lists lacked them).
// A wrong allowlist fails real jobs in ways that look like bugs in the user's program, and it
// cannot be tested against every program users submit. The jail's isolation does not rest on
// the filter alone (no user namespace, uid 65534, no capabilities, no_new_privs, cgroups): the
// filter removes the kernel interfaces that are a job's usual way to attack the kernel, and
// those are few enough to list. The monitor's own threads, whose calls we do know, run under
// an allowlist (vmm/kvm/thread_filter.cpp).
#include <expected>
#include <string>
#include <vector>

#include "vmm/jail/unique_fd.hpp"

namespace berth::vmm::jail {

// The plain (argument-independent) EPERM list, by name.
const std::vector<std::string>& denied_syscalls();

// Calls that answer ENOSYS, as on a kernel built without them, by name: io_uring_setup,
// io_uring_enter, io_uring_register.
const std::vector<std::string>& unavailable_syscalls();

// The socket families socket() and socketpair() accept (AF_NETLINK with NETLINK_ROUTE only).
const std::vector<int>& allowed_socket_families();

// A memfd (close-on-exec) holding the BPF program, positioned at its start.
std::expected<UniqueFd, std::string> seccomp_filter_memfd();

}  // namespace berth::vmm::jail

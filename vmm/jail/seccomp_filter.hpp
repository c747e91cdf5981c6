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
// Foreign system-call ABIs (i386, x32) kill the process: nothing here is built for them and
// their numbers would slip past a filter written for x86_64's.
#include <expected>
#include <string>
#include <vector>

#include "vmm/jail/unique_fd.hpp"

namespace berth::vmm::jail {

// The plain (argument-independent) EPERM list, by name.
const std::vector<std::string>& denied_syscalls();

// A memfd (close-on-exec) holding the BPF program, positioned at its start.
std::expected<UniqueFd, std::string> seccomp_filter_memfd();

}  // namespace berth::vmm::jail

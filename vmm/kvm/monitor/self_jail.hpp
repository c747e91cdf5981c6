#pragma once
// The jailer of one microVM's monitor process (DESIGN.md §7; Firecracker's jailer is the model):
// what berth-monitor does to itself, as root, before it reads a byte the guest controls. The
// worker starts it in fresh mount, pid, ipc, uts and network namespaces (clone flags; the TAP
// arrives as an open descriptor, so the empty network namespace costs the NIC nothing) and in
// the job's cgroups. Here it then:
//
//   1. makes every mount private, so nothing below reaches the host's mount table;
//   2. mounts a small tmpfs on `root` holding only the kernel and the initramfs, each bound
//      read-only, and seals the tmpfs read-only;
//   3. chroots into it;
//   4. closes every descriptor but stdio and `keep_fds` (/dev/kvm, the TAP, the control socket);
//   5. empties the capability bounding set, drops to `uid`/`gid` (unique to the VM) with no
//      supplementary groups — which clears every capability — and sets no_new_privs and
//      non-dumpable;
//   6. sets rlimits: open files, address space (guest RAM plus a margin), processes, no core;
//   7. checks that it holds no capability and the ids it asked for, or fails.
#include <sys/types.h>

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <vector>

namespace berth::vmm::kvm::monitor {

struct SelfJail {
  std::filesystem::path root;    // an existing, empty directory the worker made for this VM
  std::filesystem::path kernel;  // host paths; inside they are /kernel and /initrd
  std::filesystem::path initrd;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<int> keep_fds;
  uint64_t address_space_bytes = 0;  // RLIMIT_AS
  uint64_t open_files = 64;          // RLIMIT_NOFILE
  uint64_t processes = 64;           // RLIMIT_NPROC: threads count, and the uid is the VM's own
};

inline constexpr const char* kKernelInJail = "/kernel";
inline constexpr const char* kInitrdInJail = "/initrd";

std::expected<void, std::string> enter(const SelfJail& jail);

}  // namespace berth::vmm::kvm::monitor

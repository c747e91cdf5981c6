#include "vmm/kvm/monitor/self_jail.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace berth::vmm::kvm::monitor {

namespace {

std::unexpected<std::string> fail(const std::string& what) {
  return std::unexpected(what + ": " + std::strerror(errno));
}

std::expected<void, std::string> bind_file(const std::filesystem::path& from,
                                           const std::filesystem::path& to) {
  int fd = open(to.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
  if (fd < 0) return fail("create " + to.string());
  close(fd);
  if (mount(from.c_str(), to.c_str(), nullptr, MS_BIND, nullptr) != 0)
    return fail("bind " + from.string());
  // A bind mount takes its flags only on a remount.
  if (mount(nullptr, to.c_str(), nullptr,
            MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    return fail("remount " + to.string() + " read-only");
  return {};
}

std::expected<void, std::string> close_all_but(std::vector<int> keep) {
  keep.push_back(0);
  keep.push_back(1);
  keep.push_back(2);
  std::sort(keep.begin(), keep.end());
  unsigned from = 0;
  for (int fd : keep) {
    if (fd < 0) continue;
    if (static_cast<unsigned>(fd) > from &&
        syscall(SYS_close_range, from, static_cast<unsigned>(fd) - 1, 0) != 0)
      return fail("close_range");
    from = static_cast<unsigned>(fd) + 1;
  }
  if (syscall(SYS_close_range, from, ~0u, 0) != 0) return fail("close_range");
  return {};
}

std::expected<void, std::string> limit(int resource, const char* name, uint64_t value) {
  rlimit rl{value, value};
  if (setrlimit(resource, &rl) != 0) return fail(std::string("setrlimit ") + name);
  return {};
}

}  // namespace

std::expected<void, std::string> enter(const SelfJail& j) {
  if (j.uid == 0 || j.gid == 0)
    return std::unexpected(std::string("the monitor must not run as root"));
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return fail("make mounts private");
  if (mount("tmpfs", j.root.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "size=64k,nr_inodes=16,mode=0755") != 0)
    return fail("mount the root tmpfs on " + j.root.string());
  if (auto ok = bind_file(j.kernel, j.root / "kernel"); !ok) return ok;
  if (!j.initrd.empty())
    if (auto ok = bind_file(j.initrd, j.root / "initrd"); !ok) return ok;
  if (mount(nullptr, j.root.c_str(), nullptr,
            MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "size=64k,nr_inodes=16") != 0)
    return fail("seal the root read-only");
  if (chdir(j.root.c_str()) != 0) return fail("chdir " + j.root.string());
  if (chroot(".") != 0) return fail("chroot " + j.root.string());
  if (chdir("/") != 0) return fail("chdir /");

  if (auto ok = close_all_but(j.keep_fds); !ok) return ok;

  // Empty the bounding set while we still may (CAP_SETPCAP): nothing exec'ed later could regain
  // a capability. The loop ends at the first number this kernel does not know.
  for (int cap = 0; cap <= 63; ++cap)
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) break;
      return fail("PR_CAPBSET_DROP " + std::to_string(cap));
    }
  if (setgroups(0, nullptr) != 0) return fail("setgroups");
  if (setresgid(j.gid, j.gid, j.gid) != 0) return fail("setresgid " + std::to_string(j.gid));
  // All three uids non-zero without SECBIT_KEEP_CAPS: the kernel clears the permitted,
  // effective and ambient sets (capabilities(7), "Effect of user ID changes on capabilities").
  if (setresuid(j.uid, j.uid, j.uid) != 0) return fail("setresuid " + std::to_string(j.uid));
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail("PR_SET_NO_NEW_PRIVS");
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return fail("PR_SET_DUMPABLE");

  if (auto ok = limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", j.open_files); !ok) return ok;
  if (j.address_space_bytes)
    if (auto ok = limit(RLIMIT_AS, "RLIMIT_AS", j.address_space_bytes); !ok) return ok;
  if (auto ok = limit(RLIMIT_NPROC, "RLIMIT_NPROC", j.processes); !ok) return ok;
  if (auto ok = limit(RLIMIT_CORE, "RLIMIT_CORE", 0); !ok) return ok;

  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) != 0) return fail("capget");
  for (auto& d : data)
    if (d.effective || d.permitted || d.inheritable)
      return std::unexpected(std::string("capabilities left after dropping to the VM's uid"));
  uid_t r, e, s;
  if (getresuid(&r, &e, &s) != 0 || r != j.uid || e != j.uid || s != j.uid)
    return std::unexpected(std::string("the uid did not change"));
  return {};
}

}  // namespace berth::vmm::kvm::monitor

#include "agent/privileges.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "agent/log.hpp"

namespace berth::agent {

namespace {

// capset/capget without libcap (not worth a dependency for two syscalls).
struct CapSets {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
};

std::expected<void, std::string> drop_bounding_set() {
  // PR_CAPBSET_DROP needs CAP_SETPCAP, so this comes before the uid change takes it away.
  for (int cap = 0; cap < 64; ++cap) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0) continue;
    if (errno == EINVAL) break;  // past the kernel's last capability
    return std::unexpected(errno_text("PR_CAPBSET_DROP " + std::to_string(cap)));
  }
  return {};
}

std::expected<void, std::string> clear_capabilities() {
  CapSets caps;  // all zero: effective, permitted, inheritable
  if (syscall(SYS_capset, &caps.header, caps.data) != 0)
    return std::unexpected(errno_text("capset"));
  return {};
}

std::expected<void, std::string> verify(uid_t uid, gid_t gid) {
  // The proof asked of us: root cannot be regained.
  if (setuid(0) == 0) return std::unexpected("setuid(0) still succeeds after dropping privileges");
  if (setgid(0) == 0) return std::unexpected("setgid(0) still succeeds after dropping privileges");
  uid_t r, e, s;
  gid_t rg, eg, sg;
  if (getresuid(&r, &e, &s) != 0 || r != uid || e != uid || s != uid)
    return std::unexpected("uids are not all " + std::to_string(uid));
  if (getresgid(&rg, &eg, &sg) != 0 || rg != gid || eg != gid || sg != gid)
    return std::unexpected("gids are not all " + std::to_string(gid));
  if (getgroups(0, nullptr) != 0) return std::unexpected("supplementary groups remain");
  CapSets caps;
  if (syscall(SYS_capget, &caps.header, caps.data) != 0)
    return std::unexpected(errno_text("capget"));
  for (const auto& d : caps.data)
    if (d.effective || d.permitted || d.inheritable)
      return std::unexpected("capabilities remain after dropping privileges");
  if (prctl(PR_CAPBSET_READ, CAP_SETUID, 0, 0, 0) != 0)
    return std::unexpected("the bounding set still holds CAP_SETUID");
  if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
    return std::unexpected("no_new_privs is not set");
  return {};
}

}  // namespace

std::expected<void, std::string> drop_privileges(uid_t uid, gid_t gid) {
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0)
    return std::unexpected(errno_text("PR_SET_KEEPCAPS"));
  if (auto r = drop_bounding_set(); !r) return r;
  // EINVAL: a kernel without ambient capabilities, which then has none to clear.
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return std::unexpected(errno_text("PR_CAP_AMBIENT_CLEAR_ALL"));
  if (setgroups(0, nullptr) != 0) return std::unexpected(errno_text("setgroups"));
  if (setresgid(gid, gid, gid) != 0) return std::unexpected(errno_text("setresgid"));
  if (setresuid(uid, uid, uid) != 0) return std::unexpected(errno_text("setresuid"));
  // The uid change empties permitted and effective, but not inheritable.
  if (auto r = clear_capabilities(); !r) return r;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return std::unexpected(errno_text("PR_SET_NO_NEW_PRIVS"));
  return verify(uid, gid);
}

}  // namespace berth::agent

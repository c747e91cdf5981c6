#include "agent/vm_setup.hpp"

#include <fcntl.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "agent/log.hpp"

namespace berth::agent {

namespace {

// mkdir -p for the few absolute paths mounted on; existing directories are fine.
std::expected<void, std::string> make_dirs(const std::string& path) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    auto prefix = path.substr(0, pos);
    if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
      return std::unexpected(errno_text("mkdir " + prefix));
  }
  return {};
}

void use_console() {
  // The kernel opens /dev/console for init only if the initramfs has that node; with devtmpfs
  // mounted it exists now, so the log reaches the serial console either way.
  int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    log(errno_text("open /dev/console (logging to the inherited stderr)"));
    return;
  }
  dup2(fd, STDOUT_FILENO);
  dup2(fd, STDERR_FILENO);
  close(fd);
  // A console nobody reads must not stall PID 1 (as in main.cpp).
  fcntl(STDERR_FILENO, F_SETFL, fcntl(STDERR_FILENO, F_GETFL) | O_NONBLOCK);
}

}  // namespace

bool is_vm_init(bool pid1, bool no_args, std::string_view kernel_cmdline) {
  if (!pid1 || !no_args) return false;
  size_t pos = 0;
  while ((pos = kernel_cmdline.find("berth.ip=", pos)) != std::string_view::npos) {
    if (pos == 0 || kernel_cmdline[pos - 1] == ' ' || kernel_cmdline[pos - 1] == '\t') return true;
    pos += 1;
  }
  return false;
}

std::vector<MountSpec> vm_mounts(const std::string& work, uint64_t work_bytes) {
  constexpr unsigned long kSafe = MS_NOSUID | MS_NODEV;
  std::vector<MountSpec> out = {
      {"sysfs", "/sys", "sysfs", kSafe | MS_NOEXEC, ""},
      {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755"},
      {"tmpfs", "/tmp", "tmpfs", kSafe, "mode=1777"},
      {"tmpfs", work, "tmpfs", kSafe, "mode=0755,size=" + std::to_string(work_bytes)},
      {"tmpfs", "/sys/fs/cgroup", "tmpfs", kSafe | MS_NOEXEC, "mode=0755"},
  };
  for (const char* c : kVmCgroupControllers)
    out.push_back({"cgroup", std::string("/sys/fs/cgroup/") + c, "cgroup", kSafe | MS_NOEXEC, c});
  return out;
}

std::expected<VmCgroups, std::string> setup_vm(const std::string& work, uint64_t work_bytes) {
  VmCgroups cg;
  for (const auto& m : vm_mounts(work, work_bytes)) {
    const bool is_cgroup = m.fstype == "cgroup";
    if (auto r = make_dirs(m.target); !r) {
      if (is_cgroup) {
        log(r.error() + " (steps run without " + m.data + " limits)");
        continue;
      }
      return std::unexpected(r.error());
    }
    if (mount(m.source.c_str(), m.target.c_str(), m.fstype.c_str(), m.flags,
              m.data.empty() ? nullptr : m.data.c_str()) != 0) {
      auto why = errno_text("mount " + m.fstype + " on " + m.target);
      // devtmpfs may already be mounted by the kernel (CONFIG_DEVTMPFS_MOUNT).
      if (errno == EBUSY && m.target == "/dev") continue;
      if (is_cgroup) {
        log(why + " (steps run without " + m.data + " limits)");
        continue;
      }
      return std::unexpected(why);
    }
    if (m.target == "/dev") use_console();
    if (!is_cgroup) continue;
    auto dir = m.target + "/" + kVmJobCgroup;
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      log(errno_text("mkdir " + dir) + " (steps run without " + m.data + " limits)");
      continue;
    }
    if (m.data == "memory")
      cg.memory = dir;
    else if (m.data == "pids")
      cg.pids = dir;
    else
      cg.cpuacct = dir;
  }
  log("machine set up: /sys /dev /tmp " + work + " (" + std::to_string(work_bytes >> 20) +
      " MiB) and cgroups");
  return cg;
}

void hide_kernel_cmdline() {
  // Read-only bind of an empty file: unprivileged jobs cannot unmount it.
  if (mount("/dev/null", "/proc/cmdline", nullptr, MS_BIND, nullptr) != 0)
    log(errno_text("bind /dev/null over /proc/cmdline"));
  else if (mount(nullptr, "/proc/cmdline", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0)
    log(errno_text("remount /proc/cmdline read-only"));
  // The kernel logs its command line at boot.
  int fd = open("/proc/sys/kernel/dmesg_restrict", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "1\n", 2) != 2) log(errno_text("dmesg_restrict"));
  if (fd >= 0) close(fd);
}

void vm_reboot(int status) {
  log("ending the machine (status " + std::to_string(status) + "): sync and reboot");
  sync();
  reboot(RB_AUTOBOOT);
  log(errno_text("reboot"));
  _exit(status);
}

}  // namespace berth::agent

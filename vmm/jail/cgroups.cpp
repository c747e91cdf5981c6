#include "vmm/jail/cgroups.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>

namespace berth::vmm::jail {

namespace fs = std::filesystem;

namespace {

std::string errno_text(int e) {
  return std::strerror(e);
}

std::expected<void, std::string> write_file(const fs::path& path, const std::string& value) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected("open " + path.string() + ": " + errno_text(errno));
  ssize_t n = write(fd, value.data(), value.size());
  int saved = errno;
  close(fd);
  if (n != static_cast<ssize_t>(value.size()))
    return std::unexpected("write " + value + " to " + path.string() + ": " +
                           (n < 0 ? errno_text(saved) : std::string("short write")));
  return {};
}

// Whether <root>/<controller> is a mounted cgroup v1 hierarchy.
bool controller_mounted(const fs::path& dir) {
  struct statfs st {};
  if (statfs(dir.c_str(), &st) != 0) return false;
  return st.f_type == CGROUP_SUPER_MAGIC && access((dir / "cgroup.procs").c_str(), F_OK) == 0;
}

// Subdirectories of `dir`, deepest first, so they can be removed in order.
void collect_children(const fs::path& dir, std::vector<fs::path>& out) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) {
      collect_children(it->path(), out);
      out.push_back(it->path());
    }
  }
}

std::vector<pid_t> read_pids(const fs::path& procs) {
  std::vector<pid_t> pids;
  std::ifstream in(procs);
  pid_t p;
  while (in >> p) pids.push_back(p);
  return pids;
}

}  // namespace

std::vector<pid_t> cgroup_tree_pids(const fs::path& dir) {
  std::vector<fs::path> dirs;
  collect_children(dir, dirs);
  dirs.push_back(dir);
  std::vector<pid_t> pids;
  for (auto& d : dirs) {
    auto p = read_pids(d / "cgroup.procs");
    pids.insert(pids.end(), p.begin(), p.end());
  }
  return pids;
}

std::expected<void, std::string> remove_cgroup_tree(const fs::path& dir,
                                                    std::chrono::milliseconds budget) {
  auto deadline = std::chrono::steady_clock::now() + budget;
  std::string last_error;
  while (true) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) return {};
    // cgroup v1 has no cgroup.kill: signal what is listed; tasks forked meanwhile show up on
    // the next round.
    for (pid_t p : cgroup_tree_pids(dir))
      if (p > 0) kill(p, SIGKILL);
    std::vector<fs::path> dirs;
    collect_children(dir, dirs);
    dirs.push_back(dir);
    last_error.clear();
    for (auto& d : dirs) {
      if (rmdir(d.c_str()) != 0 && errno != ENOENT && last_error.empty())
        last_error = "rmdir " + d.string() + ": " + errno_text(errno);
    }
    if (last_error.empty()) return {};
    if (std::chrono::steady_clock::now() >= deadline) {
      auto left = cgroup_tree_pids(dir);
      return std::unexpected(last_error + " (" + std::to_string(left.size()) + " task(s) left)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::expected<std::vector<CgroupDir>, std::string> create_job_cgroups(const std::string& job_id,
                                                                      const CgroupLimits& limits,
                                                                      const fs::path& root) {
  std::vector<CgroupDir> made;
  auto fail = [&](std::string why) -> std::expected<std::vector<CgroupDir>, std::string> {
    for (auto& d : made) (void)remove_cgroup_tree(d.path, std::chrono::milliseconds(500));
    return std::unexpected(std::move(why));
  };
  for (const char* controller : kJailControllers) {
    auto hierarchy = root / controller;
    if (!controller_mounted(hierarchy)) {
      spdlog::warn("[{}] cgroup controller {} is not mounted at {}; the jail runs without it",
                   job_id, controller, hierarchy.string());
      continue;
    }
    auto parent = hierarchy / "berth";
    if (mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST)
      return fail("mkdir " + parent.string() + ": " + errno_text(errno));
    auto dir = parent / job_id;
    if (auto ok = remove_cgroup_tree(dir, std::chrono::seconds(2)); !ok)
      return fail("stale cgroup of an earlier run: " + ok.error());
    if (mkdir(dir.c_str(), 0755) != 0)
      return fail("mkdir " + dir.string() + ": " + errno_text(errno));
    made.push_back({controller, dir});

    if (std::string(controller) == "memory") {
      auto bytes = std::to_string(limits.memory_bytes);
      if (auto ok = write_file(dir / "memory.limit_in_bytes", bytes); !ok) return fail(ok.error());
      // With swap accounting on, memsw bounds memory + swap; without it the file is absent and
      // the memory limit alone applies. It must be written after limit_in_bytes (memsw >= mem).
      if (access((dir / "memory.memsw.limit_in_bytes").c_str(), F_OK) == 0)
        if (auto ok = write_file(dir / "memory.memsw.limit_in_bytes", bytes); !ok)
          return fail(ok.error());
    } else if (std::string(controller) == "pids") {
      if (auto ok = write_file(dir / "pids.max", std::to_string(limits.pids_max)); !ok)
        return fail(ok.error());
    } else if (std::string(controller) == "cpu" && limits.cpu_percent > 0) {
      // CFS bandwidth: `quota` µs of CPU time per `period` µs, over all CPUs together.
      constexpr uint64_t kPeriodUs = 100'000;
      uint64_t quota = kPeriodUs * limits.cpu_percent / 100;
      if (auto ok = write_file(dir / "cpu.cfs_period_us", std::to_string(kPeriodUs)); !ok)
        return fail(ok.error());
      if (auto ok =
              write_file(dir / "cpu.cfs_quota_us", std::to_string(std::max<uint64_t>(quota, 1000)));
          !ok)
        return fail(ok.error());
    }
  }
  return made;
}

}  // namespace berth::vmm::jail

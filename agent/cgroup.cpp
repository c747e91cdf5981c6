#include "agent/cgroup.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <utility>

#include "agent/log.hpp"
#include "agent/unique_fd.hpp"

namespace berth::agent {

namespace {

void sleep_ms(long ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1'000'000};
  nanosleep(&ts, nullptr);
}

std::optional<uint64_t> parse_u64(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<uint64_t> read_u64(const std::string& path) {
  auto text = read_small_file(path);
  if (!text) return std::nullopt;
  return parse_u64(*text);
}

std::expected<std::string, std::string> make_child(const std::string& parent, int index) {
  if (parent.empty()) return std::string();
  std::string dir = parent + "/step-" + std::to_string(index);
  // EEXIST: a leftover of an earlier agent on a reused parent; it is empty or rmdir fails later.
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return std::unexpected(errno_text("mkdir " + dir));
  return dir;
}

}  // namespace

std::expected<std::string, std::string> read_small_file(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::unexpected(errno_text("open " + path));
  std::string out;
  char buf[4096];
  while (out.size() < (1 << 20)) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::unexpected(errno_text("read " + path));
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::expected<void, std::string> write_small_file(const std::string& path, std::string_view data) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return std::unexpected(errno_text("open " + path));
  ssize_t n = write(fd.get(), data.data(), data.size());
  if (n < 0) return std::unexpected(errno_text("write '" + std::string(data) + "' to " + path));
  return {};
}

StepCgroups::StepCgroups(StepCgroups&& o) noexcept
    : memory_(std::exchange(o.memory_, {})),
      pids_(std::exchange(o.pids_, {})),
      cpuacct_(std::exchange(o.cpuacct_, {})) {}

StepCgroups& StepCgroups::operator=(StepCgroups&& o) noexcept {
  if (this != &o) {
    remove();
    memory_ = std::exchange(o.memory_, {});
    pids_ = std::exchange(o.pids_, {});
    cpuacct_ = std::exchange(o.cpuacct_, {});
  }
  return *this;
}

StepCgroups::~StepCgroups() {
  remove();
}

std::expected<StepCgroups, std::string> StepCgroups::create(const CgroupParents& parents, int index,
                                                            const messages::Limits& limits) {
  StepCgroups cg;
  for (auto [parent, field] :
       {std::pair{&parents.memory, &cg.memory_}, std::pair{&parents.pids, &cg.pids_},
        std::pair{&parents.cpuacct, &cg.cpuacct_}}) {
    auto dir = make_child(*parent, index);
    if (!dir) return std::unexpected(dir.error());
    *field = *dir;
  }
  if (cg.has_memory()) {
    auto bytes = std::to_string(uint64_t{limits.memory_mib} << 20);
    if (auto r = write_small_file(cg.memory_ + "/memory.limit_in_bytes", bytes); !r)
      return std::unexpected(r.error());
    // memsw (memory + swap) must be >= limit_in_bytes, so it is written second. It exists only
    // with swap accounting; without it a job could page out past the limit.
    std::string memsw = cg.memory_ + "/memory.memsw.limit_in_bytes";
    if (access(memsw.c_str(), F_OK) == 0) {
      if (auto r = write_small_file(memsw, bytes); !r) log(r.error());
    }
  }
  if (cg.has_pids()) {
    if (auto r = write_small_file(cg.pids_ + "/pids.max", std::to_string(limits.processes)); !r)
      return std::unexpected(r.error());
  }
  return cg;
}

std::vector<std::string*> StepCgroups::dirs() {
  std::vector<std::string*> out;
  for (auto* d : {&memory_, &pids_, &cpuacct_})
    if (!d->empty()) out.push_back(d);
  return out;
}

std::expected<void, std::string> StepCgroups::enter_self() const {
  for (const auto* d : {&memory_, &pids_, &cpuacct_}) {
    if (d->empty()) continue;
    // cgroup v1: writing 0 moves the writing process.
    if (auto r = write_small_file(*d + "/cgroup.procs", "0"); !r) return r;
  }
  return {};
}

std::vector<pid_t> StepCgroups::tasks() const {
  std::vector<pid_t> out;
  for (const auto* d : {&pids_, &memory_, &cpuacct_}) {
    if (d->empty()) continue;
    auto text = read_small_file(*d + "/cgroup.procs");
    if (!text) continue;
    size_t pos = 0;
    while (pos < text->size()) {
      auto nl = text->find('\n', pos);
      if (nl == std::string::npos) nl = text->size();
      if (auto v = parse_u64(std::string_view(*text).substr(pos, nl - pos)); v && *v > 0)
        out.push_back(static_cast<pid_t>(*v));
      pos = nl + 1;
    }
  }
  return out;
}

size_t StepCgroups::kill_all() const {
  if (memory_.empty() && pids_.empty() && cpuacct_.empty()) return 0;
  size_t left = 0;
  // A process with SIGKILL pending can no longer fork, so each round shrinks the set; 50 rounds
  // of 2 ms bound the time spent here even when something is stuck in the kernel.
  for (int round = 0; round < 50; ++round) {
    auto pids = tasks();
    left = pids.size();
    if (pids.empty()) break;
    for (pid_t p : pids) kill(p, SIGKILL);
    sleep_ms(2);
  }
  return left;
}

std::optional<uint64_t> StepCgroups::cpu_ns() const {
  if (cpuacct_.empty()) return std::nullopt;
  return read_u64(cpuacct_ + "/cpuacct.usage");
}

std::optional<uint64_t> StepCgroups::peak_memory_bytes() const {
  if (memory_.empty()) return std::nullopt;
  return read_u64(memory_ + "/memory.max_usage_in_bytes");
}

uint64_t StepCgroups::oom_kills() const {
  if (memory_.empty()) return 0;
  auto text = read_small_file(memory_ + "/memory.oom_control");
  if (!text) return 0;
  auto at = text->find("oom_kill ");
  if (at == std::string::npos) return 0;
  auto end = text->find('\n', at);
  auto v = parse_u64(std::string_view(*text).substr(
      at + 9, end == std::string::npos ? std::string::npos : end - at - 9));
  return v.value_or(0);
}

uint64_t StepCgroups::memory_failcnt() const {
  if (memory_.empty()) return 0;
  return read_u64(memory_ + "/memory.failcnt").value_or(0);
}

void StepCgroups::remove() {
  auto all = dirs();
  if (all.empty()) return;
  kill_all();
  int last_err = 0;
  // Bounded (~0.3 s plus kill rounds): a cgroup that will not empty is left for the launcher,
  // which removes the machine's cgroups with everything under them.
  for (int attempt = 0; attempt < 15 && !all.empty(); ++attempt) {
    if (attempt > 0) {
      kill_all();
      sleep_ms(20);
    }
    for (auto it = all.begin(); it != all.end();) {
      if (rmdir((*it)->c_str()) == 0 || errno == ENOENT) {
        (*it)->clear();
        it = all.erase(it);
      } else {
        last_err = errno;
        ++it;
      }
    }
  }
  for (auto* d : all) {
    log(errno_text("rmdir " + *d + " (left behind)", last_err));
    d->clear();
  }
}

}  // namespace berth::agent

// kvm_machine_boot KERNEL INITRAMFS: the kvm runtime end to end where /dev/kvm is real (the KVM
// lab, tests/vmm/kvm_machine_boot.sh). A KvmMachine boots our guest kernel with a language
// image as its initramfs and a TAP on a bridge; the agent (PID 1) must configure its NIC from the
// kernel command line and send its hello frame over TCP; when we close the connection the agent
// must end the machine by rebooting (guest_reset), and stop() must leave no TAP behind. The
// monitor must run as its own jailed process: another uid, no capabilities, no_new_privs,
// seccomp, fresh mount/pid/net/ipc/uts namespaces, the machine's cgroups, a root of its own
// holding two files, and no descriptors but its three.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "messages/agent_auth.hpp"
#include "vmm/kvm/kvm_machine.hpp"
#include "vmm/net/bridge.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

long long ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// A connected socket to ip:port, or -1 (refused, unreachable, or no answer within 1 s).
int try_connect(const std::string& ip, uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &to.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof err;
  if (poll(&p, 1, 1000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
    close(fd);
    return -1;
  }
  return fd;
}

// Bytes of the first frame (4-byte length + body), waiting up to `timeout`.
std::string read_frame(int fd, std::chrono::milliseconds timeout) {
  std::string got;
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) != 1) continue;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
    if (got.size() >= 4) {
      uint32_t len = (uint8_t(got[0]) << 24) | (uint8_t(got[1]) << 16) | (uint8_t(got[2]) << 8) |
                     uint8_t(got[3]);
      if (got.size() >= 4 + size_t{len}) break;
    }
  }
  return got;
}

int fail(berth::vmm::kvm::KvmMachine& m, const std::string& why) {
  std::printf("kvm_machine_boot: FAIL: %s\n--- console tail ---\n%s\n---\n", why.c_str(),
              m.console_tail().c_str());
  m.stop();
  return 1;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The value of `key:` in /proc/PID/status, whitespace collapsed.
std::string status_field(pid_t pid, const std::string& key) {
  std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) {
      std::istringstream words(line.substr(key.size() + 1));
      std::string out, w;
      while (words >> w) out += (out.empty() ? "" : " ") + w;
      return out;
    }
  return "?";
}

// Every way the monitor process must differ from the worker; the reasons it does not.
std::vector<std::string> jail_violations(pid_t pid, uid_t uid, const std::string& job_id) {
  std::vector<std::string> bad;
  auto want = [&](const std::string& key, const std::string& value) {
    auto got = status_field(pid, key);
    if (got != value) bad.push_back(key + " is '" + got + "', want '" + value + "'");
  };
  auto u = std::to_string(uid);
  want("Uid", u + " " + u + " " + u + " " + u);
  want("Gid", u + " " + u + " " + u + " " + u);
  want("Groups", "");
  want("CapInh", "0000000000000000");
  want("CapPrm", "0000000000000000");
  want("CapEff", "0000000000000000");
  want("CapBnd", "0000000000000000");
  want("CapAmb", "0000000000000000");
  want("NoNewPrivs", "1");
  want("Seccomp_filters", "1");  // the main thread's; vCPU and loop threads have their own
  namespace fs = std::filesystem;
  auto proc = "/proc/" + std::to_string(pid);
  for (const char* ns : {"mnt", "pid", "net", "ipc", "uts"})
    if (fs::read_symlink(proc + "/ns/" + ns) ==
        fs::read_symlink(std::string("/proc/self/ns/") + ns))
      bad.push_back(std::string("shares the worker's ") + ns + " namespace");
  std::vector<std::string> root;
  for (auto& e : fs::directory_iterator(proc + "/root")) root.push_back(e.path().filename());
  std::sort(root.begin(), root.end());
  if (root != std::vector<std::string>{"initrd", "kernel"}) {
    std::string names;
    for (auto& n : root) names += n + " ";
    bad.push_back("its root holds: " + names);
  }
  size_t fds = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(proc + "/fd")) ++fds;
  // stdio, /dev/kvm, TAP, control socket, then the VM's own: vm, vcpu, eventfds, epoll, timer.
  if (fds > 32) bad.push_back(std::to_string(fds) + " open descriptors");
  if (read_file(proc + "/cgroup").find("berth/" + job_id) == std::string::npos)
    bad.push_back("not in the machine's cgroups: " + read_file(proc + "/cgroup"));
  return bad;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: kvm_machine_boot KERNEL INITRAMFS\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::info);
  namespace vmm = berth::vmm;
  const std::string bridge = "bkt0", gw = "10.214.0.1", ip = "10.214.0.2";
  if (auto ok = vmm::net::ensure_bridge(bridge, gw, 24); !ok) {
    std::printf("kvm_machine_boot: FAIL: bridge: %s\n", ok.error().c_str());
    return 1;
  }
  vmm::MachineConfig mc;
  mc.job_id = "kvm-machine-boot-1";
  mc.kernel = argv[1];
  mc.initramfs = argv[2];
  mc.run_dir = "/tmp/kvm-machine-boot";
  mc.net = {bridge, ip, 24, gw};
  mc.memory_mib = 128;
  mc.monitor = BERTH_MONITOR;
  mc.job_uid = 2'000'000'002;
  mc.secret = *berth::messages::random_bytes(berth::messages::kSecretBytes);
  vmm::kvm::KvmMachine m(mc);
  std::printf("kvm_machine_boot: guest memory %u MiB, cmdline: %s\n",
              vmm::kvm::guest_memory_mib(mc), vmm::kvm::kernel_cmdline(mc).c_str());
  auto t0 = Clock::now();
  if (auto ok = m.start(); !ok) return fail(m, "start: " + ok.error());
  std::printf("kvm_machine_boot: started in %lld ms, tap %s (exists: %d)\n", ms_since(t0),
              m.tap().c_str(), vmm::net::link_exists(m.tap()));
  if (!vmm::net::link_exists(m.tap())) return fail(m, "the TAP does not exist after start()");
  std::printf("kvm_machine_boot: monitor pid %d\n", static_cast<int>(m.monitor_pid()));
  auto bad = jail_violations(m.monitor_pid(), mc.job_uid, mc.job_id);
  for (auto& b : bad) std::printf("kvm_machine_boot: jail: %s\n", b.c_str());
  if (!bad.empty()) return fail(m, "the monitor process is not jailed as it should be");
  std::printf(
      "kvm_machine_boot: the monitor runs jailed (uid %u, no capabilities, own namespaces, "
      "cgroups and root)\n",
      mc.job_uid);

  int fd = -1;
  while (fd < 0) {
    if (m.poll() != vmm::MachineEnd::running)
      return fail(m, "the VM ended before the agent answered: " + m.end_message().value_or("?"));
    if (ms_since(t0) > 240'000) return fail(m, "the agent did not accept within 240 s");
    fd = try_connect(ip, mc.agent_port);
    if (fd < 0) std::this_thread::sleep_for(250ms);
  }
  auto connected_ms = ms_since(t0);
  auto frame = read_frame(fd, 20s);
  std::printf("kvm_machine_boot: agent accepted at %lld ms; first frame %zu bytes at %lld ms\n",
              connected_ms, frame.size(), ms_since(t0));
  if (frame.size() < 5) {
    close(fd);
    return fail(m, "no hello frame from the agent");
  }
  // The supervisor going away ends the session; the agent, PID 1, must then reboot the guest.
  close(fd);
  auto closed = Clock::now();
  while (m.poll() == vmm::MachineEnd::running && ms_since(closed) < 60'000)
    std::this_thread::sleep_for(100ms);
  auto end = m.poll();
  std::printf("kvm_machine_boot: after closing, the VM %s in %lld ms: %s\n",
              end == vmm::MachineEnd::running ? "still runs" : "ended", ms_since(closed),
              m.end_message().value_or("-").c_str());
  if (end != vmm::MachineEnd::exited)
    return fail(m, "the agent did not end the VM by rebooting (guest_reset)");
  m.stop();
  if (vmm::net::link_exists(m.tap())) {
    std::printf("kvm_machine_boot: FAIL: TAP %s still exists after stop()\n", m.tap().c_str());
    return 1;
  }
  std::printf("--- console tail ---\n%s\n---\nkvm_machine_boot: OK\n", m.console_tail().c_str());
  return 0;
}

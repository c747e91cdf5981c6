#include "tests/unit/jail/jail_fixture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "tests/support/process.hpp"
#include "vmm/net/bridge.hpp"

namespace berth::vmm::jail::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::mt19937_64& rng() {
  static std::mt19937_64 r{std::random_device{}()};
  return r;
}

std::string random_hex(int digits) {
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < digits; ++i) s += hex[rng()() % 16];
  return s;
}

constexpr const char* kStandIn = R"(#!/bin/sh
# Stand-in for berth-agent (tests/unit/jail): configure the NIC like the agent, then serve a
# shell on the agent port.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
printf '%s\n' "$*" > /tmp/agent-args
port= ip= iface= gateway= route=
while [ $# -gt 0 ]; do
  case "$1" in
    --listen) port=${2##*:}; shift 2 ;;
    --ip) ip=$2; shift 2 ;;
    --iface) iface=$2; shift 2 ;;
    --gateway) gateway=$2; shift 2 ;;
    --route-via) route=$2; shift 2 ;;
    --*) shift 2 ;;
    *) shift ;;
  esac
done
n=0
until ip link show "$iface" >/dev/null 2>&1; do
  n=$((n + 1))
  [ $n -gt 100 ] && { echo "stand-in agent: no $iface after 5 s"; exit 1; }
  sleep 0.05
done
ip link set lo up && ip addr add "$ip" dev "$iface" && ip link set "$iface" up || exit 1
[ -z "$route" ] || ip route add default via "$route" || exit 1
# One packet to the gateway makes the jail ARP for it, and the host learns the jail's address
# from that request at once, instead of retrying its own unanswered ARP (and the SYN queued
# behind it) a second later.
busybox nc -w 1 "$gateway" 9 </dev/null >/dev/null 2>&1 &
echo "stand-in agent up on $ip port $port"
exec busybox nc -ll -p "$port" -e /bin/sh
)";

}  // namespace

std::string jail_unsupported_reason() {
  if (geteuid() != 0) return "not root";
  if (access("/usr/bin/bwrap", X_OK) != 0 && access("/bin/bwrap", X_OK) != 0) return "no bwrap";
  if (access("/sys/fs/cgroup/memory/cgroup.procs", F_OK) != 0)
    return "no cgroup v1 memory controller";
  if (access("/bin/busybox", X_OK) != 0) return "no /bin/busybox (busybox-static)";
  return {};
}

fs::path write_stand_in_agent(const fs::path& dir) {
  auto path = dir / "stand-in-agent";
  std::ofstream(path) << kStandIn;
  fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
  return path;
}

std::expected<std::string, std::string> jail_shell(const std::string& ip, uint16_t port,
                                                   const std::string& script,
                                                   std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) return std::unexpected("bad ip " + ip);
  int fd = -1;
  std::string last = "no attempt";
  while (std::chrono::steady_clock::now() < deadline) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) break;
    last = std::strerror(errno);
    close(fd);
    fd = -1;
    std::this_thread::sleep_for(50ms);
  }
  if (fd < 0) return std::unexpected("connect " + ip + ":" + std::to_string(port) + ": " + last);
  auto text = "exec 2>&1\n" + script + "\n";
  if (write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    close(fd);
    return std::unexpected(std::string("write: ") + std::strerror(errno));
  }
  shutdown(fd, SHUT_WR);
  std::string out;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      close(fd);
      return std::unexpected("timed out; output so far: " + out);
    }
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

std::vector<pid_t> child_pids() {
  std::vector<pid_t> pids;
  for (auto& task : fs::directory_iterator("/proc/self/task")) {
    std::ifstream in(task.path() / "children");
    pid_t p;
    while (in >> p) pids.push_back(p);
  }
  return pids;
}

void JailFixture::SetUpTestSuite() {
  if (!jail_unsupported_reason().empty()) return;
  // A /24 no interface on this host uses yet.
  auto addrs = berth::test::run({"ip", "-4", "-o", "addr"}, 10s).output;
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto candidate = net::Cidr::parse("10.213." + std::to_string(64 + rng()() % 190) + ".0/24");
    auto prefix = candidate->network().to_string();
    prefix.resize(prefix.size() - 1);  // "10.213.X."
    if (addrs.find(" " + prefix) == std::string::npos) {
      network_ = *candidate;
      break;
    }
  }
  bridge_ = "bt" + random_hex(8);
  auto ok = net::ensure_bridge(bridge_, network_.host(1)->to_string(), network_.prefix());
  if (!ok) setup_error_ = ok.error();
}

void JailFixture::TearDownTestSuite() {
  if (!bridge_.empty()) (void)net::delete_link(bridge_);
  bridge_.clear();
}

void JailFixture::SetUp() {
  if (auto why = jail_unsupported_reason(); !why.empty()) GTEST_SKIP() << "jail tests need " << why;
  ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  scratch_ = berth::test::scratch_dir("jail");
  agent_ = write_stand_in_agent(scratch_);
  id_prefix_ = "jt" + random_hex(8);
}

void JailFixture::TearDown() {
  std::error_code ec;
  if (!scratch_.empty()) fs::remove_all(scratch_, ec);
}

std::string JailFixture::guest_ip(int host) const {
  return network_.host(host)->to_string();
}

MachineConfig JailFixture::config(int host) {
  MachineConfig c;
  c.job_id = id_prefix_ + "-" + std::to_string(host);
  c.rootfs = "/";
  c.agent = agent_;
  c.run_dir = scratch_ / ("run-" + std::to_string(host));
  c.net = {bridge_, guest_ip(host), network_.prefix(), network_.host(1)->to_string()};
  c.memory_mib = 128;
  c.processes = 32;
  c.work_dir_bytes = 8 << 20;
  c.agent_port = kPort;
  return c;
}

}  // namespace berth::vmm::jail::test

#pragma once
// The agent's configuration: command-line flags from the launcher (jail), or `berth.*` keys of
// the kernel command line when the agent is PID 1 of a microVM and has no arguments.
#include <sys/types.h>

#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace berth::agent {

// An IPv4 address in host byte order, with a prefix length where one is given.
struct Ipv4 {
  uint32_t addr = 0;
  int prefix = 32;
};

struct Options {
  Ipv4 listen{0, 32};
  uint16_t port = 7070;
  std::string iface = "eth0";
  std::optional<Ipv4> ip;       // address and prefix to give `iface`; none: leave the NIC alone
  std::optional<Ipv4> gateway;  // the host's address on the bridge (announce() greets it)
  // A default route via this address: only for jobs granted egress (the worker's egress = nat
  // and the job's network: true). Without it the machine reaches nothing beyond its subnet.
  std::optional<Ipv4> route_via;
  std::string work = "/work";
  uint64_t work_bytes = 64 << 20;  // microVM only: size of the /work tmpfs (berth.work_mib=)
  uid_t uid = 65534;
  gid_t gid = 65534;
  std::string cgroup_memory;  // cgroup v1 directories a per-step child is made in; empty: none
  std::string cgroup_pids;
  std::string cgroup_cpuacct;
  // This machine's secret (raw bytes), which the agent proves to the supervisor
  // (messages/agent_auth.hpp): read from --secret-fd (jail) or berth.secret= (microVM).
  std::string secret;
  bool help = false;
};

std::string usage();

// `args` excludes argv[0]. Accepts "--key value" and "--key=value".
std::expected<Options, std::string> parse_args(std::span<const std::string> args);

// Applies berth.ip=A.B.C.D/P, berth.gw=A.B.C.D, berth.route=A.B.C.D, berth.iface=NAME,
// berth.work_mib=N (1..65536), berth.secret=HEX from a kernel command line;
// every other word is ignored (it is the kernel's).
std::expected<void, std::string> apply_kernel_cmdline(std::string_view cmdline, Options& opts);

// "A.B.C.D" or, when `with_prefix`, "A.B.C.D/P" (prefix 0..32).
std::expected<Ipv4, std::string> parse_ipv4(std::string_view text, bool with_prefix);
std::string format_ipv4(uint32_t addr);

}  // namespace berth::agent

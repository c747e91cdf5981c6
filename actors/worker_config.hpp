#pragma once
// berth-worker's configuration: a TOML file, each key overridable by BERTH_WORKER_<KEY> and by
// --<key-with-dashes>; every default works on a single machine (docs/operations.md).
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "base/config_loader.hpp"
#include "vmm/net/ipv4.hpp"

namespace berth::actors {

struct WorkerConfig {
  std::string worker_id;  // default: hostname-pid
  std::string nats_url = "nats://127.0.0.1:4222";
  uint32_t slots = 2;  // jobs run at once
  std::string state_dir = "/var/lib/berth/worker";
  std::string image_dir;      // default images::default_image_dir()
  std::string languages_dir;  // default images::default_languages_dir()
  std::string agent_path;     // default: the berth-agent built beside this binary
  std::string monitor_path;   // kvm: berth-monitor; default: the one built beside this binary
  std::string runtime = "auto";
  // The guest kernel (bzImage) of the kvm runtime, e.g. the path images/kernel/build.sh prints.
  // Empty: none, so runtime = auto picks the jail.
  std::string kernel;
  std::string bridge = "berth0";
  std::string cidr = "10.213.0.0/24";
  // "none": no job reaches anything beyond its own machine and the agent session. "nat": jobs
  // submitted with network: true (only those) get a default route, masqueraded out of the
  // host, to anything outside egress_deny (vmm/net/host_filter.hpp).
  std::string egress = "none";
  // Destinations (comma-separated CIDRs) a job with egress may not reach; empty: RFC 1918,
  // link-local (cloud metadata), loopback, CGNAT, multicast and reserved ranges. The worker's
  // own subnet and its NATS server are denied whatever this says.
  std::string egress_deny;
  // Jail jobs run as host uid/gid uid_base + the low 16 bits of their machine's address: no two
  // machines of this host share one (workers on one host have distinct subnets).
  uint32_t uid_base = 2'000'000'000;
  // CPU bandwidth of each machine, in percent of one core.
  uint32_t cpu_percent = 100;
  // Host memory the worker's machines may take together (actors/memory_budget.hpp); 0: three
  // quarters of the host's.
  uint32_t memory_mib = 0;
  // How long JetStream waits for a claimed job's ack before handing it to another worker; a
  // running job renews it every third of this (actors/ack_heartbeat.hpp).
  uint32_t ack_wait_ms = 30'000;
  uint32_t max_attempts = 3;
  // From machine start to the agent's hello. 0: the runtime's own default (default_boot_timeout).
  uint32_t boot_timeout_ms = 0;
  uint32_t drain_timeout_ms = 10'000;
  std::string log_level = "info";
  // host:port of the status server (GET /healthz, GET /metrics); "off" runs none.
  std::string status_listen = "127.0.0.1:9470";
};

inline constexpr uint32_t kMinAckWaitMs = 1'000;

// The boot timeout when none is configured: a jail's agent runs within a second; a microVM must
// boot its kernel and unpack the image first, which takes about 10 s in the KVM lab (a TCG-
// emulated host, 10-20x slower than hardware), so kvm gets room for a loaded lab.
constexpr uint32_t default_boot_timeout_ms(std::string_view runtime) {
  return runtime == "kvm" ? 30'000 : 10'000;
}

// egress_deny as networks (the defaults when it is empty), or what is wrong with it.
std::expected<std::vector<vmm::net::Cidr>, std::string> egress_denied_ranges(const WorkerConfig& c);

// Parses argv (and the file it names with --config, and the environment).
// The error is the text to print: a usage message for --help (exit 0), or what was wrong.
std::expected<WorkerConfig, config::Error> load_worker_config(int argc, char** argv);

}  // namespace berth::actors

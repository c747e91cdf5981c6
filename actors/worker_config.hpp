#pragma once
// berth-worker's configuration: a TOML file, each key overridable by BERTH_WORKER_<KEY> and by
// --<key-with-dashes>; every default works on a single machine (docs/operations.md).
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "base/config_loader.hpp"

namespace berth::actors {

struct WorkerConfig {
  std::string worker_id;  // default: hostname-pid
  std::string nats_url = "nats://127.0.0.1:4222";
  uint32_t slots = 2;  // jobs run at once
  std::string state_dir = "/var/lib/berth/worker";
  std::string image_dir;      // default images::default_image_dir()
  std::string languages_dir;  // default images::default_languages_dir()
  std::string agent_path;     // default: the berth-agent built beside this binary
  std::string runtime = "auto";
  // The guest kernel (bzImage) of the kvm runtime, e.g. the path images/kernel/build.sh prints.
  // Empty: none, so runtime = auto picks the jail.
  std::string kernel;
  std::string bridge = "berth0";
  std::string cidr = "10.213.0.0/24";
  uint32_t ack_wait_ms = 30'000;
  uint32_t max_attempts = 3;
  // From machine start to the agent's hello. 0: the runtime's own default (default_boot_timeout).
  uint32_t boot_timeout_ms = 0;
  uint32_t drain_timeout_ms = 10'000;
  std::string log_level = "info";
  // host:port of the status server (GET /healthz, GET /metrics); "off" runs none.
  std::string status_listen = "127.0.0.1:9470";
};

// The boot timeout when none is configured: a jail's agent runs within a second; a microVM must
// boot its kernel and unpack the image first, which takes about 10 s in the KVM lab (a TCG-
// emulated host, 10-20x slower than hardware), so kvm gets room for a loaded lab.
constexpr uint32_t default_boot_timeout_ms(std::string_view runtime) {
  return runtime == "kvm" ? 30'000 : 10'000;
}

// Parses argv (and the file it names with --config, and the environment).
// The error is the text to print: a usage message for --help (exit 0), or what was wrong.
std::expected<WorkerConfig, config::Error> load_worker_config(int argc, char** argv);

}  // namespace berth::actors

#include "actors/worker_config.hpp"

#include <unistd.h>

#include <map>

#include "actors/memory_budget.hpp"
#include "base/config_loader.hpp"
#include "base/listen_address.hpp"
#include "images/image_store.hpp"
#include "images/language.hpp"
#include "vmm/net/host_filter.hpp"

namespace berth::actors {

std::expected<WorkerConfig, config::Error> load_worker_config(int argc, char** argv) {
  WorkerConfig c;
  std::map<std::string, config::Field> fields = {{"worker_id", &c.worker_id},
                                                 {"nats_url", &c.nats_url},
                                                 {"slots", &c.slots},
                                                 {"state_dir", &c.state_dir},
                                                 {"image_dir", &c.image_dir},
                                                 {"languages_dir", &c.languages_dir},
                                                 {"agent_path", &c.agent_path},
                                                 {"monitor_path", &c.monitor_path},
                                                 {"runtime", &c.runtime},
                                                 {"kernel", &c.kernel},
                                                 {"bridge", &c.bridge},
                                                 {"cidr", &c.cidr},
                                                 {"egress", &c.egress},
                                                 {"egress_deny", &c.egress_deny},
                                                 {"uid_base", &c.uid_base},
                                                 {"cpu_percent", &c.cpu_percent},
                                                 {"memory_mib", &c.memory_mib},
                                                 {"ack_wait_ms", &c.ack_wait_ms},
                                                 {"max_attempts", &c.max_attempts},
                                                 {"boot_timeout_ms", &c.boot_timeout_ms},
                                                 {"drain_timeout_ms", &c.drain_timeout_ms},
                                                 {"log_level", &c.log_level},
                                                 {"status_listen", &c.status_listen}};

  if (auto r = config::load(
          argc, argv,
          "berth-worker: pulls jobs from NATS JetStream and runs each in a fresh machine",
          "BERTH_WORKER_", fields);
      !r)
    return std::unexpected(r.error());

  if (c.worker_id.empty()) {
    char host[256] = "worker";
    gethostname(host, sizeof host - 1);
    c.worker_id = std::string(host) + "-" + std::to_string(getpid());
  }
  if (c.image_dir.empty()) c.image_dir = images::default_image_dir();
  if (c.languages_dir.empty()) c.languages_dir = images::default_languages_dir();
  if (c.agent_path.empty()) c.agent_path = BERTH_DEFAULT_AGENT_PATH;
  if (c.memory_mib == 0) c.memory_mib = static_cast<uint32_t>(default_memory_budget_mib());
  if (c.monitor_path.empty()) c.monitor_path = BERTH_DEFAULT_MONITOR_PATH;
  if (c.slots == 0) return std::unexpected(config::Error{"slots must be at least 1"});
  if (c.max_attempts == 0) return std::unexpected(config::Error{"max_attempts must be at least 1"});
  // Running jobs send "in progress" every third of the ack wait; below a second that is a
  // stream of acks, and a short network hiccup would hand a running job to a second worker.
  if (c.ack_wait_ms < kMinAckWaitMs)
    return std::unexpected(config::Error{"ack_wait_ms must be at least " +
                                         std::to_string(kMinAckWaitMs) + " (got " +
                                         std::to_string(c.ack_wait_ms) + ")"});
  if (c.status_listen != "off")
    if (auto l = parse_listen(c.status_listen); !l)
      return std::unexpected(config::Error{"status_listen must be host:port or off: " + l.error()});
  if (c.bridge.empty() || c.bridge.size() > 15 ||
      c.bridge.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != std::string::npos)
    return std::unexpected(config::Error{
        "bridge must be a network interface name of 1 to 15 of [A-Za-z0-9_.-], got '" + c.bridge +
        "'"});
  if (c.egress != "none" && c.egress != "nat")
    return std::unexpected(
        config::Error{"egress must be \"none\" or \"nat\", got '" + c.egress + "'"});
  if (auto d = egress_denied_ranges(c); !d) return std::unexpected(config::Error{d.error()});
  if (c.uid_base < 1000 || c.uid_base > 0xffffffffu - 0x10000u)
    return std::unexpected(config::Error{"uid_base must be in 1000.." +
                                         std::to_string(0xffffffffu - 0x10000u) + ", got " +
                                         std::to_string(c.uid_base)});
  if (c.cpu_percent < 1 || c.cpu_percent > 100'000)
    return std::unexpected(
        config::Error{"cpu_percent must be in 1..100000, got " + std::to_string(c.cpu_percent)});
  return c;
}

std::expected<std::vector<vmm::net::Cidr>, std::string> egress_denied_ranges(
    const WorkerConfig& c) {
  if (c.egress_deny.empty()) return vmm::net::default_denied_ranges();
  std::vector<vmm::net::Cidr> out;
  size_t pos = 0;
  while (pos <= c.egress_deny.size()) {
    auto comma = c.egress_deny.find(',', pos);
    auto item =
        c.egress_deny.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    while (!item.empty() && item.back() == ' ') item.pop_back();
    auto cidr = vmm::net::Cidr::parse(item);
    if (!cidr) return std::unexpected("egress_deny: '" + item + "': " + cidr.error());
    out.push_back(*cidr);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

}  // namespace berth::actors

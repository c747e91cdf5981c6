#include "actors/worker_config.hpp"

#include <unistd.h>

#include <map>

#include "base/config_loader.hpp"
#include "base/listen_address.hpp"
#include "images/image_store.hpp"
#include "images/language.hpp"

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
                                                 {"runtime", &c.runtime},
                                                 {"kernel", &c.kernel},
                                                 {"bridge", &c.bridge},
                                                 {"cidr", &c.cidr},
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
  if (c.slots == 0) return std::unexpected(config::Error{"slots must be at least 1"});
  if (c.max_attempts == 0) return std::unexpected(config::Error{"max_attempts must be at least 1"});
  if (c.status_listen != "off")
    if (auto l = parse_listen(c.status_listen); !l)
      return std::unexpected(config::Error{"status_listen must be host:port or off: " + l.error()});
  if (c.bridge.empty() || c.bridge.size() > 15)
    return std::unexpected(
        config::Error{"bridge must be a network interface name of 1 to 15 characters"});
  return c;
}

}  // namespace berth::actors

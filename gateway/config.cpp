#include "gateway/config.hpp"

#include <map>
#include <set>

#include "base/config_loader.hpp"
#include "images/image_store.hpp"
#include "images/language.hpp"

namespace berth::gateway {

std::expected<GatewayConfig, ConfigError> load_gateway_config(int argc, char** argv) {
  GatewayConfig c;
  std::map<std::string, config::Field> fields = {
      {"listen", &c.listen},
      {"nats_url", &c.nats_url},
      {"max_body_bytes", &c.max_body_bytes},
      {"languages_dir", &c.languages_dir},
      {"image_dir", &c.image_dir},
      {"wait_timeout_ms", &c.wait_timeout_ms},
      {"log_level", &c.log_level},
  };

  if (auto r = config::load(argc, argv, "berth-gateway: the HTTP and NATS API of berth",
                            "BERTH_GATEWAY_", fields);
      !r)
    return std::unexpected(r.error());

  if (c.languages_dir.empty()) c.languages_dir = images::default_languages_dir().string();
  if (c.image_dir.empty()) c.image_dir = images::default_image_dir().string();
  if (auto l = parse_listen(c.listen); !l) return std::unexpected(ConfigError{l.error()});
  if (c.max_body_bytes == 0) return std::unexpected(ConfigError{"max_body_bytes must be > 0"});
  static const std::set<std::string> levels = {"trace", "debug",    "info", "warn",
                                               "error", "critical", "off"};
  if (!levels.contains(c.log_level))
    return std::unexpected(
        ConfigError{"log_level must be one of trace, debug, info, warn, "
                    "error, critical, off; got '" +
                    c.log_level + "'"});
  return c;
}

}  // namespace berth::gateway

#include "actors/worker_config.hpp"

#include <unistd.h>

#include <map>
#include <variant>

#include <toml++/toml.h>
#include <CLI/CLI.hpp>

#include "base/listen_address.hpp"
#include "images/image_store.hpp"
#include "images/language.hpp"

namespace berth::actors {

namespace {
using Field = std::variant<std::string*, uint32_t*>;

std::expected<void, std::string> assign(const std::string& key, Field f, const std::string& text,
                                        const std::string& origin) {
  if (auto* s = std::get_if<std::string*>(&f)) {
    **s = text;
    return {};
  }
  try {
    size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used != text.size() || v < 0 || v > UINT32_MAX) throw std::invalid_argument(text);
    *std::get<uint32_t*>(f) = static_cast<uint32_t>(v);
    return {};
  } catch (...) {
    return std::unexpected(origin + ": " + key + " must be a non-negative integer, got '" + text +
                           "'");
  }
}

std::string env_name(const std::string& key) {
  std::string out = "BERTH_WORKER_";
  for (char c : key) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string flag_name(std::string key) {
  for (auto& c : key)
    if (c == '_') c = '-';
  return "--" + key;
}
}  // namespace

std::expected<WorkerConfig, std::string> load_worker_config(int argc, char** argv) {
  WorkerConfig c;
  std::map<std::string, Field> fields = {{"worker_id", &c.worker_id},
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

  CLI::App app{"berth-worker: pulls jobs from NATS JetStream and runs each in a fresh machine"};
  std::string config_file;
  app.add_option("--config", config_file, "TOML configuration file");
  std::map<std::string, std::string> flags;
  for (auto& [key, _] : fields) app.add_option(flag_name(key), flags[key], "overrides " + key);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return std::unexpected(app.help());
  } catch (const CLI::ParseError& e) {
    return std::unexpected(std::string(e.what()));
  }

  if (!config_file.empty()) {
    toml::table t;
    try {
      t = toml::parse_file(config_file);
    } catch (const toml::parse_error& e) {
      return std::unexpected(config_file + ": " + std::string(e.description()));
    }
    for (auto& [k, node] : t) {
      std::string key(k.str());
      auto it = fields.find(key);
      if (it == fields.end()) return std::unexpected(config_file + ": unknown key '" + key + "'");
      std::string text;
      if (auto s = node.value<std::string>())
        text = *s;
      else if (auto i = node.value<int64_t>())
        text = std::to_string(*i);
      else
        return std::unexpected(config_file + ": " + key + " must be a string or an integer");
      if (auto r = assign(key, it->second, text, config_file); !r)
        return std::unexpected(r.error());
    }
  }
  for (auto& [key, field] : fields) {
    if (const char* v = std::getenv(env_name(key).c_str()); v && *v)
      if (auto r = assign(key, field, v, env_name(key)); !r) return std::unexpected(r.error());
    if (!flags[key].empty())
      if (auto r = assign(key, field, flags[key], flag_name(key)); !r)
        return std::unexpected(r.error());
  }

  if (c.worker_id.empty()) {
    char host[256] = "worker";
    gethostname(host, sizeof host - 1);
    c.worker_id = std::string(host) + "-" + std::to_string(getpid());
  }
  if (c.image_dir.empty()) c.image_dir = images::default_image_dir();
  if (c.languages_dir.empty()) c.languages_dir = images::default_languages_dir();
  if (c.agent_path.empty()) c.agent_path = BERTH_DEFAULT_AGENT_PATH;
  if (c.slots == 0) return std::unexpected("slots must be at least 1");
  if (c.max_attempts == 0) return std::unexpected("max_attempts must be at least 1");
  if (c.status_listen != "off")
    if (auto l = parse_listen(c.status_listen); !l)
      return std::unexpected("status_listen must be host:port or off: " + l.error());
  if (c.bridge.empty() || c.bridge.size() > 15)
    return std::unexpected("bridge must be a network interface name of 1 to 15 characters");
  return c;
}

}  // namespace berth::actors

#include "gateway/config.hpp"

#include <cctype>
#include <cstdlib>
#include <map>
#include <set>
#include <variant>

#include <toml++/toml.h>
#include <CLI/CLI.hpp>

#include "images/image_store.hpp"
#include "images/language.hpp"

namespace berth::gateway {

namespace {
using Field = std::variant<std::string*, uint64_t*>;

std::expected<void, std::string> assign(const std::string& key, Field f, const std::string& text,
                                        const std::string& origin) {
  if (auto* s = std::get_if<std::string*>(&f)) {
    **s = text;
    return {};
  }
  try {
    size_t used = 0;
    unsigned long long v = std::stoull(text, &used);
    if (used != text.size() || text.starts_with('-')) throw std::invalid_argument(text);
    *std::get<uint64_t*>(f) = v;
    return {};
  } catch (...) {
    return std::unexpected(origin + ": " + key + " must be a non-negative integer, got '" + text +
                           "'");
  }
}

std::string env_name(const std::string& key) {
  std::string out = "BERTH_GATEWAY_";
  for (char c : key) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string flag_name(std::string key) {
  for (auto& c : key)
    if (c == '_') c = '-';
  return "--" + key;
}
}  // namespace

std::expected<GatewayConfig, ConfigError> load_gateway_config(int argc, char** argv) {
  GatewayConfig c;
  std::map<std::string, Field> fields = {
      {"listen", &c.listen},
      {"nats_url", &c.nats_url},
      {"max_body_bytes", &c.max_body_bytes},
      {"languages_dir", &c.languages_dir},
      {"image_dir", &c.image_dir},
      {"wait_timeout_ms", &c.wait_timeout_ms},
      {"log_level", &c.log_level},
  };

  CLI::App app{"berth-gateway: the HTTP and NATS API of berth"};
  std::string config_file;
  app.add_option("--config", config_file, "TOML configuration file");
  std::map<std::string, std::string> flags;
  std::map<std::string, CLI::Option*> options;
  for (auto& [key, _] : fields)
    options[key] = app.add_option(flag_name(key), flags[key], "overrides " + key);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return std::unexpected(ConfigError{app.help(), true});
  } catch (const CLI::ParseError& e) {
    return std::unexpected(ConfigError{std::string(e.what())});
  }

  // Lowest precedence first, so each later source overwrites the earlier.
  if (!config_file.empty()) {
    toml::table t;
    try {
      t = toml::parse_file(config_file);
    } catch (const toml::parse_error& e) {
      return std::unexpected(ConfigError{config_file + ": " + std::string(e.description())});
    }
    for (auto& [k, node] : t) {
      std::string key(k.str());
      auto it = fields.find(key);
      if (it == fields.end())
        return std::unexpected(ConfigError{config_file + ": unknown key '" + key + "'"});
      std::string text;
      if (auto s = node.value_exact<std::string>())
        text = *s;
      else if (auto i = node.value_exact<int64_t>())
        text = std::to_string(*i);
      else
        return std::unexpected(
            ConfigError{config_file + ": " + key + " must be a string or an integer"});
      if (auto r = assign(key, it->second, text, config_file); !r)
        return std::unexpected(ConfigError{r.error()});
    }
  }
  for (auto& [key, field] : fields) {
    if (const char* v = std::getenv(env_name(key).c_str()); v && *v)
      if (auto r = assign(key, field, v, env_name(key)); !r)
        return std::unexpected(ConfigError{r.error()});
  }
  for (auto& [key, field] : fields) {
    if (options[key]->count() > 0)
      if (auto r = assign(key, field, flags[key], flag_name(key)); !r)
        return std::unexpected(ConfigError{r.error()});
  }

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

#pragma once
// The configuration rule every berth binary follows (DESIGN.md §6): keys from a TOML file
// (--config FILE), each overridden by the environment variable <PREFIX><KEY> (upper case) and then
// by the flag --<key-with-dashes>. One loader, so the gateway and the worker cannot drift apart.
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <expected>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <variant>

#include <toml++/toml.h>
#include <CLI/CLI.hpp>

namespace berth::config {

// Where a key's value goes: text as it is, or a non-negative integer that must fit.
using Field = std::variant<std::string*, uint32_t*, uint64_t*>;

// The text to print: a usage message for --help (exit 0), or what was wrong and where (exit 2).
struct Error {
  std::string message;
  bool help = false;
};

inline std::string env_name(const std::string& prefix, const std::string& key) {
  std::string out = prefix;
  for (char c : key) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

inline std::string flag_name(std::string key) {
  for (auto& c : key)
    if (c == '_') c = '-';
  return "--" + key;
}

// `origin` names where the text came from (a file, a variable, a flag) in the error.
inline std::expected<void, std::string> assign(const std::string& key, const Field& f,
                                               const std::string& text, const std::string& origin) {
  if (auto* s = std::get_if<std::string*>(&f)) {
    **s = text;
    return {};
  }
  try {
    size_t used = 0;
    unsigned long long v = std::stoull(text, &used);
    bool fits = std::holds_alternative<uint64_t*>(f) || v <= std::numeric_limits<uint32_t>::max();
    if (used != text.size() || text.starts_with('-') || !fits) throw std::invalid_argument(text);
    if (auto* p = std::get_if<uint64_t*>(&f))
      **p = v;
    else
      *std::get<uint32_t*>(f) = static_cast<uint32_t>(v);
    return {};
  } catch (...) {
    return std::unexpected(origin + ": " + key + " must be a non-negative integer, got '" + text +
                           "'");
  }
}

// Fills `fields` from argv, the file it names and the environment, lowest precedence first.
inline std::expected<void, Error> load(int argc, char** argv, const std::string& description,
                                       const std::string& env_prefix,
                                       const std::map<std::string, Field>& fields) {
  CLI::App app{description};
  std::string config_file;
  app.add_option("--config", config_file, "TOML configuration file");
  std::map<std::string, std::string> flags;
  std::map<std::string, CLI::Option*> options;
  for (auto& [key, _] : fields)
    options[key] = app.add_option(flag_name(key), flags[key],
                                  "overrides " + key + " (also " + env_name(env_prefix, key) + ")");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return std::unexpected(Error{app.help(), true});
  } catch (const CLI::ParseError& e) {
    return std::unexpected(Error{std::string(e.what())});
  }

  if (!config_file.empty()) {
    toml::table t;
    try {
      t = toml::parse_file(config_file);
    } catch (const toml::parse_error& e) {
      return std::unexpected(Error{config_file + ": " + std::string(e.description())});
    }
    for (auto& [k, node] : t) {
      std::string key(k.str());
      auto it = fields.find(key);
      if (it == fields.end())
        return std::unexpected(Error{config_file + ": unknown key '" + key + "'"});
      std::string text;
      if (auto s = node.value_exact<std::string>())
        text = *s;
      else if (auto i = node.value_exact<int64_t>())
        text = std::to_string(*i);
      else
        return std::unexpected(Error{config_file + ": " + key + " must be a string or an integer"});
      if (auto r = assign(key, it->second, text, config_file); !r)
        return std::unexpected(Error{r.error()});
    }
  }
  for (auto& [key, field] : fields) {
    auto var = env_name(env_prefix, key);
    if (const char* v = std::getenv(var.c_str()); v && *v)
      if (auto r = assign(key, field, v, var); !r) return std::unexpected(Error{r.error()});
  }
  for (auto& [key, field] : fields) {
    if (options[key]->count() > 0)
      if (auto r = assign(key, field, flags[key], flag_name(key)); !r)
        return std::unexpected(Error{r.error()});
  }
  return {};
}

}  // namespace berth::config

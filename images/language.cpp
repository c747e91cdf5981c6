#include "images/language.hpp"

#include <fstream>
#include <sstream>

#include <toml++/toml.h>

namespace berth::images {

namespace {
std::expected<std::vector<std::string>, std::string> strings(const toml::table& t, const char* key,
                                                             bool required) {
  std::vector<std::string> out;
  auto node = t[key];
  if (!node) {
    if (required) return std::unexpected(std::string("missing '") + key + "'");
    return out;
  }
  auto* arr = node.as_array();
  if (!arr) return std::unexpected(std::string("'") + key + "' must be an array of strings");
  for (auto& v : *arr) {
    auto s = v.value<std::string>();
    if (!s) return std::unexpected(std::string("'") + key + "' must be an array of strings");
    out.push_back(*s);
  }
  if (required && out.empty()) return std::unexpected(std::string("'") + key + "' is empty");
  return out;
}

template <class T>
void limit(const toml::table& t, const char* key, T& field) {
  if (auto v = t[key].value<int64_t>(); v && *v > 0) field = static_cast<T>(*v);
}
}  // namespace

std::expected<Language, std::string> parse_language(const std::string& text,
                                                    const std::string& origin) {
  toml::table t;
  try {
    t = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return std::unexpected(origin + ": " + std::string(e.description()));
  }
  Language l;
  l.definition = text;
  auto fail = [&](const std::string& why) { return std::unexpected(origin + ": " + why); };
  for (auto [key, field] : {std::pair{"name", &l.name}, std::pair{"version", &l.version},
                            std::pair{"source_file", &l.source_file}}) {
    auto v = t[key].value<std::string>();
    if (!v || v->empty()) return fail(std::string("missing string '") + key + "'");
    *field = *v;
  }
  auto packages = strings(t, "packages", true);
  if (!packages) return fail(packages.error());
  l.packages = *packages;
  auto run = strings(t, "run", true);
  if (!run) return fail(run.error());
  l.run = *run;
  auto compile = strings(t, "compile", false);
  if (!compile) return fail(compile.error());
  l.compile = *compile;
  if (auto* env = t["env"].as_table()) {
    for (auto& [k, v] : *env) {
      auto s = v.value<std::string>();
      if (!s) return fail("env." + std::string(k.str()) + " must be a string");
      l.env[std::string(k.str())] = *s;
    }
  }
  if (auto* image = t["image"].as_table()) {
    for (auto [key, field] : {std::pair{"trim", &l.trim}, std::pair{"keep", &l.keep}}) {
      auto v = strings(*image, key, false);
      if (!v) return fail("[image] " + v.error());
      for (auto& path : *v)
        if (path.empty() || path.front() == '/' || path.find("..") != std::string::npos)
          return fail(std::string("image.") + key + ": '" + path +
                      "' must be a path relative to the image root, without '..'");
      *field = *v;
    }
  }
  if (auto* lim = t["limits"].as_table()) {
    limit(*lim, "wall_ms", l.default_limits.wall_ms);
    limit(*lim, "cpu_ms", l.default_limits.cpu_ms);
    limit(*lim, "memory_mib", l.default_limits.memory_mib);
    limit(*lim, "processes", l.default_limits.processes);
    limit(*lim, "output_bytes", l.default_limits.output_bytes);
    limit(*lim, "file_size_bytes", l.default_limits.file_size_bytes);
  }
  return l;
}

std::expected<LanguageCatalog, std::string> LanguageCatalog::load(
    const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return std::unexpected("language directory " + dir.string() + ": " + ec.message());
  LanguageCatalog c;
  for (auto& entry : it) {
    if (entry.path().extension() != ".toml") continue;
    std::ifstream in(entry.path());
    std::stringstream ss;
    ss << in.rdbuf();
    auto l = parse_language(ss.str(), entry.path().string());
    if (!l) return std::unexpected(l.error());
    auto name = l->name;
    c.languages_.emplace(name, std::move(*l));
  }
  if (c.languages_.empty()) return std::unexpected("no *.toml language files in " + dir.string());
  return c;
}

const Language* LanguageCatalog::find(const std::string& name) const {
  auto it = languages_.find(name);
  return it == languages_.end() ? nullptr : &it->second;
}

std::filesystem::path default_languages_dir() {
  if (const char* d = std::getenv("BERTH_LANGUAGES_DIR"); d && *d) return d;
  return BERTH_DEFAULT_LANGUAGES_DIR;
}

}  // namespace berth::images

#include "gateway/job_request.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

#include <nlohmann/json.hpp>

namespace berth::gateway {

using nlohmann::json;

namespace {

constexpr std::array<std::string_view, 8> kFields = {"language", "files", "source", "stdin",
                                                     "args",     "env",   "limits", "network"};

std::string type_name(const json& j) {
  return j.type_name();  // "string", "number", "object", ...
}

ApiError wrong_type(const std::string& field, std::string_view want, const json& got) {
  return bad_request(field + " must be " + std::string(want) + ", not " + type_name(got));
}

// A file name inside the job's work dir: relative, no "..", no empty or "." components.
std::expected<void, ApiError> check_file_name(const std::string& field, const std::string& name) {
  if (name.empty()) return std::unexpected(bad_request(field + " must not be empty"));
  if (name.size() > 255) return std::unexpected(bad_request(field + " is longer than 255 bytes"));
  if (name.front() == '/')
    return std::unexpected(bad_request(field + " '" + name + "' must be relative (no leading /)"));
  if (name.find('\0') != std::string::npos)
    return std::unexpected(bad_request(field + " must not contain NUL"));
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    std::string_view part(name.data() + start, end - start);
    if (part == "..")
      return std::unexpected(bad_request(field + " '" + name + "' must not contain '..'"));
    if (part.empty() || part == ".")
      return std::unexpected(
          bad_request(field + " '" + name + "' has an empty or '.' path component"));
    start = end + 1;
  }
  return {};
}

std::expected<std::vector<messages::SourceFile>, ApiError> parse_files(const json& files) {
  if (!files.is_array()) return std::unexpected(wrong_type("files", "an array", files));
  if (files.empty()) return std::unexpected(bad_request("files must not be empty"));
  std::vector<messages::SourceFile> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < files.size(); ++i) {
    std::string field = "files[" + std::to_string(i) + "]";
    const json& f = files[i];
    if (!f.is_object())
      return std::unexpected(wrong_type(field, "an object {\"name\", \"content\"}", f));
    for (const auto& [k, _] : f.items())
      if (k != "name" && k != "content")
        return std::unexpected(bad_request(field + ": unknown field '" + k + "'"));
    if (!f.contains("name")) return std::unexpected(bad_request(field + ".name is required"));
    if (!f["name"].is_string())
      return std::unexpected(wrong_type(field + ".name", "a string", f["name"]));
    if (f.contains("content") && !f["content"].is_string())
      return std::unexpected(wrong_type(field + ".content", "a string", f["content"]));
    messages::SourceFile sf{f["name"].get<std::string>(), f.value("content", std::string())};
    if (auto r = check_file_name(field + ".name", sf.name); !r) return std::unexpected(r.error());
    if (!seen.insert(sf.name).second)
      return std::unexpected(bad_request(field + ".name '" + sf.name + "' is given twice"));
    out.push_back(std::move(sf));
  }
  return out;
}

template <class T>
std::expected<void, ApiError> set_limit(const json& limits, const char* name, uint64_t max,
                                        T& out) {
  if (!limits.contains(name)) return {};
  const json& v = limits[name];
  std::string field = std::string("limits.") + name;
  auto range = [&] { return bad_request(field + " must be between 1 and " + std::to_string(max)); };
  if (v.is_number_unsigned()) {
    uint64_t n = v.get<uint64_t>();
    if (n == 0 || n > max) return std::unexpected(range());
    out = static_cast<T>(n);
    return {};
  }
  if (v.is_number_integer()) return std::unexpected(range());  // negative
  return std::unexpected(wrong_type(field, "an integer", v));
}

std::expected<messages::Limits, ApiError> parse_limits(const json& j,
                                                       const messages::Limits& defaults) {
  using B = messages::LimitBounds;
  if (!j.is_object()) return std::unexpected(wrong_type("limits", "an object", j));
  static const std::set<std::string> known = {"wall_ms",   "cpu_ms",       "memory_mib",
                                              "processes", "output_bytes", "file_size_bytes"};
  for (const auto& [k, _] : j.items())
    if (!known.contains(k))
      return std::unexpected(bad_request(
          "limits." + k +
          " is not a limit (known: wall_ms, cpu_ms, memory_mib, processes, output_bytes, "
          "file_size_bytes)"));
  messages::Limits l = defaults;
  for (auto r : {set_limit(j, "wall_ms", B::kMaxWallMs, l.wall_ms),
                 set_limit(j, "cpu_ms", B::kMaxCpuMs, l.cpu_ms),
                 set_limit(j, "memory_mib", B::kMaxMemoryMib, l.memory_mib),
                 set_limit(j, "processes", B::kMaxProcesses, l.processes),
                 set_limit(j, "output_bytes", B::kMaxOutputBytes, l.output_bytes),
                 set_limit(j, "file_size_bytes", B::kMaxFileSizeBytes, l.file_size_bytes)})
    if (!r) return std::unexpected(r.error());
  return l;
}

std::string available(const images::LanguageCatalog& catalog) {
  std::string out;
  for (const auto& [name, _] : catalog.all()) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

std::expected<messages::JobSpec, ApiError> parse_job_request(
    std::string_view body, const images::LanguageCatalog& catalog) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::parse_error& e) {
    // e.what() starts with "[json.exception.parse_error.101] "; the rest is the useful part.
    std::string what = e.what();
    if (auto p = what.find("] "); what.starts_with("[json.") && p != std::string::npos)
      what = what.substr(p + 2);
    return std::unexpected(bad_request("invalid JSON: " + what));
  }
  if (!j.is_object()) return std::unexpected(wrong_type("the body", "a JSON object", j));

  std::string unknown;
  for (const auto& [k, _] : j.items())
    if (std::find(kFields.begin(), kFields.end(), k) == kFields.end())
      unknown += (unknown.empty() ? "'" : ", '") + k + "'";
  if (!unknown.empty())
    return std::unexpected(bad_request(
        "unknown field" + std::string(unknown.find(',') != std::string::npos ? "s " : " ") +
        unknown + " (known: language, files, source, stdin, args, env, limits, network)"));

  messages::JobSpec spec;
  if (!j.contains("language")) return std::unexpected(bad_request("language is required"));
  if (!j["language"].is_string())
    return std::unexpected(wrong_type("language", "a string", j["language"]));
  spec.language = j["language"].get<std::string>();
  const images::Language* lang = catalog.find(spec.language);
  if (!lang)
    return std::unexpected(bad_request("unknown language '" + spec.language +
                                       "' (available: " + available(catalog) + ")"));

  bool has_files = j.contains("files"), has_source = j.contains("source");
  if (has_files && has_source)
    return std::unexpected(bad_request("give either files or source, not both"));
  if (!has_files && !has_source) return std::unexpected(bad_request("files or source is required"));
  if (has_source) {
    if (!j["source"].is_string())
      return std::unexpected(wrong_type("source", "a string", j["source"]));
    spec.files.push_back({lang->source_file, j["source"].get<std::string>()});
  } else {
    auto files = parse_files(j["files"]);
    if (!files) return std::unexpected(files.error());
    spec.files = std::move(*files);
  }

  if (j.contains("stdin")) {
    if (!j["stdin"].is_string())
      return std::unexpected(wrong_type("stdin", "a string", j["stdin"]));
    spec.stdin_data = j["stdin"].get<std::string>();
  }
  if (j.contains("args")) {
    const json& a = j["args"];
    if (!a.is_array()) return std::unexpected(wrong_type("args", "an array of strings", a));
    for (size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_string())
        return std::unexpected(wrong_type("args[" + std::to_string(i) + "]", "a string", a[i]));
      spec.args.push_back(a[i].get<std::string>());
    }
  }
  if (j.contains("env")) {
    const json& e = j["env"];
    if (!e.is_object()) return std::unexpected(wrong_type("env", "an object of strings", e));
    for (const auto& [k, v] : e.items()) {
      if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos)
        return std::unexpected(bad_request("env: '" + k + "' is not a variable name"));
      if (!v.is_string()) return std::unexpected(wrong_type("env." + k, "a string", v));
      spec.env[k] = v.get<std::string>();
    }
  }
  spec.limits = lang->default_limits;
  if (j.contains("limits")) {
    auto l = parse_limits(j["limits"], lang->default_limits);
    if (!l) return std::unexpected(l.error());
    spec.limits = *l;
  }
  if (j.contains("network")) {
    if (!j["network"].is_boolean())
      return std::unexpected(wrong_type("network", "a boolean", j["network"]));
    spec.network = j["network"].get<bool>();
  }
  return spec;
}

bool valid_job_key(std::string_view id) {
  if (id.empty() || id.size() > 256 || id.front() == '.' || id.back() == '.') return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '/' || c == '_' ||
          c == '=' || c == '.'))
      return false;
  return true;
}

}  // namespace berth::gateway

#include "gateway/job_json.hpp"

#include "images/image_store.hpp"

namespace berth::gateway {

using nlohmann::json;

namespace {
json optional_int(const std::optional<int32_t>& v) {
  return v ? json(*v) : json(nullptr);
}
}  // namespace

json limits_json(const messages::Limits& l) {
  return {{"wall_ms", l.wall_ms},           {"cpu_ms", l.cpu_ms},
          {"memory_mib", l.memory_mib},     {"processes", l.processes},
          {"output_bytes", l.output_bytes}, {"file_size_bytes", l.file_size_bytes}};
}

json result_json(const messages::Result& r) {
  return {{"verdict", messages::to_string(r.verdict)},
          {"exit_code", optional_int(r.exit_code)},
          {"signal", optional_int(r.signal)},
          {"stdout", r.stdout_data},
          {"stderr", r.stderr_data},
          {"compile_output", r.compile_output},
          {"stdout_truncated", r.stdout_truncated},
          {"stderr_truncated", r.stderr_truncated},
          {"cpu_ms", r.cpu_ms},
          {"wall_ms", r.wall_ms},
          {"peak_memory_kib", r.peak_memory_kib},
          {"message", r.message}};
}

json record_json(const messages::JobRecord& rec) {
  json plan = json::array();
  for (const auto& n : rec.plan)
    plan.push_back({{"name", n.name},
                    {"phase", messages::to_string(n.phase)},
                    {"status", messages::to_string(n.status)},
                    {"started_ms", n.started_ms},
                    {"finished_ms", n.finished_ms},
                    {"detail", n.detail}});
  return {{"id", rec.spec.id},
          {"language", rec.spec.language},
          {"state", messages::to_string(rec.state)},
          {"created_ms", rec.created_ms},
          {"started_ms", rec.started_ms},
          {"finished_ms", rec.finished_ms},
          {"attempts", rec.attempts},
          {"worker_id", rec.worker_id},
          {"cancel_requested", rec.cancel_requested},
          {"limits", limits_json(rec.spec.limits)},
          {"plan", std::move(plan)},
          {"result", rec.result ? result_json(*rec.result) : json(nullptr)}};
}

json output_event_json(const messages::JobEvent& e) {
  json j = {{"step", e.step},
            {"stream", e.stream == messages::Stream::stderr_stream ? "stderr" : "stdout"},
            {"data", e.data},
            {"seq", e.seq}};
  if (e.truncated) j["truncated"] = true;
  return j;
}

json state_event_json(const std::string& id, messages::JobState s) {
  return {{"id", id}, {"state", messages::to_string(s)}};
}

json languages_json(const images::LanguageCatalog& catalog, const std::string& image_dir) {
  json out = json::array();
  images::ImageStore store(image_dir, {});  // find_layer needs no agent
  for (const auto& [name, lang] : catalog.all()) {
    json l = {{"name", lang.name},
              {"version", lang.version},
              {"source_file", lang.source_file},
              {"compiled", !lang.compile.empty()},
              {"default_limits", limits_json(lang.default_limits)}};
    auto layer = store.find_layer(lang);
    l["built"] = layer.has_value();
    if (layer) {
      json pkgs = json::object();
      for (auto& p : lang.packages)
        if (auto it = layer->packages.find(p); it != layer->packages.end()) pkgs[p] = it->second;
      l["image"] = {{"rootfs_key", layer->key}, {"packages", pkgs}};
    }
    out.push_back(std::move(l));
  }
  return out;
}

json accepted_json(const std::string& id) {
  return {{"id", id}, {"state", "queued"}};
}

json error_json(const std::string& message) {
  return {{"error", message}};
}

json health_json(bool ready, bool connected, const std::string& error) {
  json j = {{"status", ready ? "ok" : "degraded"},
            {"nats", connected ? "connected" : "disconnected"}};
  if (!ready) j["error"] = error;
  return j;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace berth::gateway

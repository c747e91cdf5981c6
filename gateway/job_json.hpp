#pragma once
// The JSON shapes of the HTTP API (docs/api.md): records, limits, events, languages. The wire
// types stay msgpack; this is the only place that turns them into JSON.
#include <string>

#include <nlohmann/json.hpp>

#include "images/language.hpp"
#include "messages/job_event.hpp"
#include "messages/job_record.hpp"

namespace berth::gateway {

nlohmann::json limits_json(const messages::Limits& l);
nlohmann::json result_json(const messages::Result& r);
nlohmann::json record_json(const messages::JobRecord& rec);
// The data of an SSE `output` event: {"step", "stream", "data", "seq"}.
nlohmann::json output_event_json(const messages::JobEvent& e);
// The data of an SSE `state` event: {"id", "state"}.
nlohmann::json state_event_json(const std::string& id, messages::JobState s);
// Each language, and whether its image (rootfs layer) is built in `image_dir`.
nlohmann::json languages_json(const images::LanguageCatalog& catalog, const std::string& image_dir);
// {"id", "state": "queued"}: the answer to an accepted submission.
nlohmann::json accepted_json(const std::string& id);
// {"error": message}
nlohmann::json error_json(const std::string& message);
// GET /healthz: {"status": "ok"|"degraded", "nats": "connected"|"disconnected", "error"?}
nlohmann::json health_json(bool ready, bool connected, const std::string& error);

// Coroutines build their JSON through these functions: g++ 12 miscompiles the
// initializer_list temporaries of braced JSON literals inside a coroutine body.

// Job output may hold any bytes; invalid UTF-8 becomes U+FFFD instead of failing the dump.
std::string dump(const nlohmann::json& j);

}  // namespace berth::gateway

#include "actors/job_store.hpp"

#include <thread>

#include "messages/clock.hpp"
#include "messages/codec.hpp"

namespace berth::actors {

using messages::JobRecord;

std::expected<std::optional<VersionedRecord>, std::string> JobStore::get(const std::string& id) {
  auto entry = kv_.get(id);
  if (!entry) return std::unexpected(entry.error());
  if (!*entry) return std::optional<VersionedRecord>{};
  auto rec = messages::decode<JobRecord>((*entry)->value, "job record " + id);
  if (!rec) return std::unexpected(rec.error());
  return std::optional<VersionedRecord>{VersionedRecord{std::move(*rec), (*entry)->revision}};
}

std::expected<JobRecord, std::string> JobStore::update(const std::string& id, const Change& change,
                                                       const messages::JobSpec* seed) {
  std::string last_error;
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (attempt > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(10 << std::min(attempt, 6)));
    auto current = get(id);
    if (!current) {
      last_error = current.error();
      continue;
    }
    JobRecord rec;
    uint64_t revision = 0;
    if (*current) {
      rec = std::move((*current)->record);
      revision = (*current)->revision;
    } else if (seed) {
      rec.spec = *seed;
      rec.created_ms = messages::now_ms();
    } else {
      return std::unexpected("no record for job " + id);
    }
    if (!change(rec)) return rec;
    rec.updated_ms = messages::now_ms();
    auto bytes = messages::encode(rec);
    auto written = revision ? kv_.update(id, bytes, revision) : kv_.create(id, bytes);
    if (written) return rec;
    last_error = written.error().message;
    // A conflict means someone else wrote first: re-read and re-apply. Other errors (NATS
    // briefly away) are retried the same way, with backoff.
  }
  return std::unexpected("update of job " + id + " failed: " + last_error);
}

}  // namespace berth::actors

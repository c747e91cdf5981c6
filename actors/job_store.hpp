#pragma once
// Job records in the berth_jobs bucket, changed only by compare-and-set: a change is applied to
// the latest revision and written back with that revision, so a stale writer loses and retries.
// The worker's callers are all blocking actors on their own threads, so this is a plain,
// thread-safe class rather than one more actor hop (nats.c serialises on the connection).
#include <expected>
#include <functional>
#include <optional>
#include <string>

#include "messages/job_record.hpp"
#include "messages/nats/kv.hpp"

namespace berth::actors {

struct VersionedRecord {
  messages::JobRecord record;
  uint64_t revision = 0;
};

class JobStore {
 public:
  explicit JobStore(nats::KeyValue& kv) : kv_(kv) {}

  std::expected<std::optional<VersionedRecord>, std::string> get(const std::string& id);

  // Applies `change` to the latest record (or to a fresh one made from `seed` when there is
  // none) and writes it back by compare-and-set, retrying on conflict. `change` returns false
  // to leave the record as it is. Returns the record as stored.
  using Change = std::function<bool(messages::JobRecord&)>;
  std::expected<messages::JobRecord, std::string> update(const std::string& id,
                                                         const Change& change,
                                                         const messages::JobSpec* seed = nullptr);

 private:
  nats::KeyValue& kv_;
};

}  // namespace berth::actors

#pragma once
// A JetStream KV bucket: berth_jobs (job records keyed by job id, updated by compare-and-set)
// and berth_workers (each live worker's announcement, expiring with its TTL).
#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "messages/nats/jetstream.hpp"

namespace berth::nats {

struct KvEntry {
  std::string value;
  uint64_t revision = 0;
};

struct KvError {
  enum class Kind { failed, conflict } kind = Kind::failed;
  std::string message;
};

struct KvOptions {
  int64_t ttl_ms = 0;   // entries expire this long after their last write; 0: never
  bool memory = false;  // memory storage (for what is rebuilt anyway), else file
};

class KeyValue {
 public:
  // Binds to the bucket, creating it (one revision of history) when missing.
  static std::expected<std::unique_ptr<KeyValue>, Error> open(JetStream& js,
                                                              std::string_view bucket,
                                                              KvOptions options = {});
  ~KeyValue();

  std::expected<std::optional<KvEntry>, Error> get(std::string_view key);
  // Only when the key does not exist yet.
  std::expected<uint64_t, KvError> create(std::string_view key, std::string_view value);
  // Only when the key is still at `last_revision`; otherwise Kind::conflict.
  std::expected<uint64_t, KvError> update(std::string_view key, std::string_view value,
                                          uint64_t last_revision);
  // Unconditional write; for entries one writer owns (a worker's announcement).
  std::expected<uint64_t, Error> put(std::string_view key, std::string_view value);
  std::expected<void, Error> erase(std::string_view key);
  // Every live key's current entry.
  std::expected<std::map<std::string, KvEntry>, Error> entries();

 private:
  kvStore* kv_ = nullptr;
};

}  // namespace berth::nats

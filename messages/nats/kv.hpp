#pragma once
// The berth_jobs bucket: job records keyed by job id, updated by compare-and-set.
#include <cstdint>
#include <expected>
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

class KeyValue {
 public:
  // Binds to the bucket, creating it (file storage, one revision of history) when missing.
  static std::expected<std::unique_ptr<KeyValue>, Error> open(JetStream& js,
                                                              std::string_view bucket);
  ~KeyValue();

  std::expected<std::optional<KvEntry>, Error> get(std::string_view key);
  // Only when the key does not exist yet.
  std::expected<uint64_t, KvError> create(std::string_view key, std::string_view value);
  // Only when the key is still at `last_revision`; otherwise Kind::conflict.
  std::expected<uint64_t, KvError> update(std::string_view key, std::string_view value,
                                          uint64_t last_revision);

 private:
  kvStore* kv_ = nullptr;
};

}  // namespace berth::nats
